"""The ``torchscript`` model: a TorchScript file (``torch.jit.save``) trained elsewhere.

``torch.jit.load`` reads the serialized graph and weights: loading runs no Python code from the
file. The model gets float32 one-hot (or int64 codes) of the declared layout on the chosen
device and may return a tensor, a tuple/list of tensors or a dict of them (``target`` picks one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.model_files import MAX_MODEL_BYTES, regular_file
from motifprobe.engine.models import ExternalModel, check_device, torch_device


class TorchScriptModel(ExternalModel):
    """A TorchScript module (``.pt`` / ``.ts``) loaded with ``torch.jit.load``; never trained here."""

    name = "torchscript"
    description = "a TorchScript model file trained elsewhere (torch.jit.load; runs no Python code)"
    loading_note = "runs no Python code"

    def _open(self, source: str) -> None:
        import torch

        regular_file(Path(source), "TorchScript model", MAX_MODEL_BYTES)
        self.net_ = torch.jit.load(source, map_location="cpu")
        self.net_.eval()

    def set_device(self, device: str = "auto") -> str:
        check_device(device)
        self.device_ = torch_device(device)
        self.net_.to(self.device_)
        return self.device_

    def _convert(self, x: np.ndarray) -> Any:
        import torch

        t = torch.from_numpy(x.astype(np.int64) if x.dtype == np.uint8 else x)
        return t.to(self.device_)

    def _forward(self, x: Any) -> Any:
        import torch

        with torch.inference_mode():
            out = self.net_(x)
        return _to_numpy(out)


def _to_numpy(out: Any) -> Any:
    """Tensors (or tuples, lists, dicts of them) as float numpy arrays on the CPU."""
    if isinstance(out, dict):
        return {k: _to_numpy(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_to_numpy(v) for v in out]
    detach = getattr(out, "detach", None)
    if detach is not None:
        return detach().float().cpu().numpy()
    return out


@hookimpl
def register_models(register):
    register("torchscript", TorchScriptModel, aliases=("pt",))
