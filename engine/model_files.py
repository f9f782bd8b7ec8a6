"""Helpers for model plugins' save/load: a ``config.json`` beside the model file, with checksum.

Every damage to a saved model (missing file, truncated file, edited or hostile config) becomes a
one-line ``MotifprobeError`` naming the file, whatever the model file's own reader would have
raised. The config's ``sha256`` of the model file is mandatory and is checked before the model
file is parsed. It is an integrity check only (whoever can write the model file can write the
config too): safety comes from the model formats themselves, which are data (JSON,
safetensors, XGBoost's UBJSON), never code.

Parameter checks shared by the built-in plugins (:func:`int_param`, :func:`float_param`) give
one-line errors naming the plugin, the parameter, the bad value and what is allowed.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable

from motifprobe.engine.dataset import file_sha256
from motifprobe.engine.errors import MotifprobeError

CONFIG = "config.json"
MAX_JSON_BYTES = 4 * 2**20
"""A ``config.json`` or run ``manifest.json`` larger than this (4 MiB) is refused unread."""
MAX_MODEL_BYTES = 4 * 2**30
"""A model file larger than this (4 GiB) is refused before it is hashed or parsed."""
MAX_SEQ_LENGTH = 10**7


def first_line(exc: BaseException) -> str:
    """First line of an exception's message (or its type name), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def show(value: Any) -> str:
    """A value for error messages: numbers as a user types them (never ``np.float64(...)``)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return repr(value)


def bad_param(plugin: str, key: str, value: Any, allowed: str) -> MotifprobeError:
    """The one-line error for a parameter value outside what ``allowed`` describes."""
    return MotifprobeError(f"model plugin {plugin!r}: parameter {key}={show(value)} is not allowed; allowed: {allowed}")


# -- bounded reading ---------------------------------------------------------------------------
def regular_file(path: Path, label: str, max_bytes: int) -> int:
    """Size of ``path`` if it is a regular file (not a link, device or fifo) of at most ``max_bytes``."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise MotifprobeError(f"cannot read {label} {str(path)!r}: no such file") from None
    except OSError as exc:
        raise MotifprobeError(f"cannot read {label} {str(path)!r}: {exc.strerror or first_line(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        raise MotifprobeError(f"cannot read {label} {str(path)!r}: not a regular file")
    if info.st_size > max_bytes:
        raise MotifprobeError(f"refusing to read {label} {str(path)!r}: {info.st_size} bytes, "
                              f"more than the {max_bytes} allowed")
    return info.st_size


def is_sha256(value: Any) -> bool:
    """True for a 64-character lowercase hex string."""
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def read_json(path: str | Path, label: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file of bounded size and nesting; any problem is a one-line MotifprobeError."""
    path = Path(path)
    regular_file(path, label, max_bytes)
    try:
        return json.loads(path.read_bytes())
    except RecursionError:
        raise MotifprobeError(f"cannot read {label} {str(path)!r}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError, MemoryError, OSError) as exc:
        raise MotifprobeError(f"cannot read {label} {str(path)!r}: {first_line(exc)}") from None


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as sorted, indented JSON (the same data gives the same bytes)."""
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")


# -- model config -----------------------------------------------------------------------------
def write_model_config(directory: str | Path, model_file: str, config: dict[str, Any]) -> None:
    """Write ``config.json`` with ``config`` plus the SHA-256 of ``model_file`` (already written)."""
    directory = Path(directory)
    write_json(directory / CONFIG, {**config, "sha256": file_sha256(directory / model_file)})


def config_int(config: dict[str, Any], key: str, config_path: Path, label: str, minimum: int = 0,
               maximum: int | None = None, optional: bool = False) -> int | None:
    """An integer field of a model config, checked; one line naming the file otherwise."""
    value = config.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bound = f"..{maximum}" if maximum is not None else " or more"
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: {key} must be an integer "
                              f"{minimum}{bound}, got {show(value)}")
    return value


def read_model_config(directory: str | Path, model_file: str, label: str,
                      factory: Callable[..., Any], max_bytes: int = MAX_MODEL_BYTES) -> tuple[dict[str, Any], Any, Path]:
    """Read ``config.json``, build ``factory(**params)`` and check the model file's checksum.

    The model file must be a regular file of at most ``max_bytes`` whose SHA-256 equals the
    config's (mandatory) ``sha256``; nothing in it has been parsed when this returns.

    Returns
    -------
    (config, model, model_path)
        The parsed config (``seq_length`` checked), an unfitted model with the saved
        parameters, and the model file.
    """
    directory = Path(directory)
    config_path, model_path = directory / CONFIG, directory / model_file
    config = read_json(config_path, f"{label} config")
    if not isinstance(config, dict):
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: expected a JSON object, "
                              f"got {type(config).__name__}")
    params = config.get("params")
    if not isinstance(params, dict):
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: 'params' must be an object")
    config_int(config, "seq_length", config_path, label, 1, MAX_SEQ_LENGTH)
    try:
        model = factory(**params)
    except MotifprobeError as exc:
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any damage to the config is the user's file problem
        raise MotifprobeError(f"cannot read {label} config {str(config_path)!r}: {first_line(exc)}") from None
    expected = config.get("sha256")
    if not is_sha256(expected):
        raise MotifprobeError(f"refusing to load {label} {str(model_path)!r}: its config {str(config_path)!r} "
                              "lacks a valid sha256 of the model file")
    regular_file(model_path, label, max_bytes)
    if file_sha256(model_path) != expected:
        raise MotifprobeError(f"cannot read {label} {str(model_path)!r}: the file is damaged (checksum mismatch)")
    return config, model, model_path
