"""The ``onnx`` model: an ONNX file run with onnxruntime.

An ``InferenceSession`` reads the graph and weights (loading runs no Python code). The CPU
provider always; the CUDA provider when onnxruntime has it and ``device`` is ``cuda`` or
``auto``. Input: the session's first input, fed float32 one-hot or integer codes as it
declares; outputs keep their ONNX names, so ``target`` may name one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.model_files import MAX_MODEL_BYTES, regular_file
from motifprobe.engine.models import ExternalModel, check_device

_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
                "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
                "tensor(int8)": np.int8, "tensor(bool)": np.bool_}


class OnnxModel(ExternalModel):
    """An ONNX model run with onnxruntime; never trained here."""

    name = "onnx"
    description = "an ONNX model file trained elsewhere (onnxruntime; runs no Python code)"
    loading_note = "runs no Python code"

    def _open(self, source: str) -> None:
        regular_file(Path(source), "ONNX model", MAX_MODEL_BYTES)
        self._source = source
        self._session(["CPUExecutionProvider"])

    def _session(self, providers: list[str]) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about providers are not the user's business
        self.session_ = ort.InferenceSession(self._source, sess_options=options, providers=providers)
        inputs = self.session_.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"the model takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                             "motifprobe feeds one (the sequences)")
        self.input_name_ = inputs[0].name
        self.input_dtype_ = _ONNX_DTYPES.get(inputs[0].type, np.float32)
        self.output_names_ = [o.name for o in self.session_.get_outputs()]

    def set_device(self, device: str = "auto") -> str:
        import onnxruntime as ort

        check_device(device)
        has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if device == "cuda" and not has_cuda:
            raise MotifprobeError("--device cuda: this onnxruntime has no CUDAExecutionProvider (install "
                                  "onnxruntime-gpu); use --device cpu or auto")
        if device != "cpu" and has_cuda:
            self._session(["CUDAExecutionProvider", "CPUExecutionProvider"])
            self.device_ = "cuda" if "CUDAExecutionProvider" in self.session_.get_providers() else "cpu"
        else:
            self.device_ = "cpu"
        return self.device_

    def output_names(self) -> list[str] | None:
        return self.output_names_

    def _convert(self, x: np.ndarray) -> Any:
        return np.ascontiguousarray(x, dtype=self.input_dtype_)

    def _forward(self, x: Any) -> Any:
        outs = self.session_.run(None, {self.input_name_: x})
        return outs[0] if len(outs) == 1 else list(outs)


@hookimpl
def register_models(register):
    register("onnx", OnnxModel)
