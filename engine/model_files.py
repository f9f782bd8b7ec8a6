"""Helpers for model plugins' save/load: a ``config.json`` beside the model file, with checksum.

Every damage to a saved model (missing file, truncated file, edited config) becomes a one-line
``MotifprobeError`` naming the file, whatever the model file's own reader would have raised.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from motifprobe.engine.dataset import file_sha256
from motifprobe.engine.errors import MotifprobeError

CONFIG = "config.json"


def first_line(exc: BaseException) -> str:
    """First line of an exception's message (or its type name), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def write_model_config(directory: str | Path, model_file: str, config: dict[str, Any]) -> None:
    """Write ``config.json`` with ``config`` plus the SHA-256 of ``model_file`` (already written)."""
    directory = Path(directory)
    full = {**config, "sha256": file_sha256(directory / model_file)}
    (directory / CONFIG).write_text(json.dumps(full, indent=2, default=float))


def read_model_config(directory: str | Path, model_file: str, label: str,
                      factory: Callable[..., Any]) -> tuple[dict[str, Any], Any, Path]:
    """Read ``config.json``, build ``factory(**params)`` and check the model file's checksum.

    Returns
    -------
    (config, model, model_path)
        The parsed config, an unfitted model with the saved parameters, and the model file.
    """
    directory = Path(directory)
    config_path, model_path = directory / CONFIG, directory / model_file
    try:
        config = json.loads(config_path.read_text())
        model = factory(**config["params"])
        config["seq_length"] = int(config["seq_length"])
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - any damage to the config is the user's file problem
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: {first_line(exc)}") from None
    if not model_path.is_file():
        raise MotifprobeError(f"cannot read {label} {str(model_path)!r}: no such file")
    expected = config.get("sha256")
    if expected is not None and file_sha256(model_path) != expected:
        raise MotifprobeError(f"cannot read {label} {str(model_path)!r}: the file is damaged (checksum mismatch)")
    return config, model, model_path
