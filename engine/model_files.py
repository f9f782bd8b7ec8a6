"""Safe files for saved models: ``config.json`` with a checksum of every weights file.

:class:`motifprobe.SequenceModel` writes and reads the config through :func:`write_model_config`
and :func:`read_model_config`; plugins only write and read their weights files. Every damage to
a saved model (missing file, truncated file, edited or hostile config) becomes a one-line
``MotifprobeError`` naming the file, whatever the weights file's own reader would have raised.
The config's ``sha256`` (file name -> digest, one per weights file) is mandatory and is checked
before any weights file is parsed. It is an integrity check only (whoever can write the weights
can write the config too): safety comes from the formats themselves, which are data (JSON,
safetensors, XGBoost's UBJSON), never code.

:func:`bad_param` gives one-line errors naming the plugin, the parameter, the bad value and
what is allowed.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

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
MODEL_FORMAT = "motifprobe-model"
MODEL_FORMAT_VERSION = 1
"""Version of the ``config.json`` layout that :class:`motifprobe.SequenceModel` writes."""
MAX_CLASSES = 1000
MAX_WEIGHT_FILES = 100


def is_plain_name(name: Any) -> bool:
    """A file name directly inside the model directory (no folders, not ``config.json``)."""
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..", CONFIG)
            and "/" not in name and "\\" not in name and "\0" not in name)


def write_model_config(directory: str | Path, config: dict[str, Any], files: list[str]) -> None:
    """Write ``config.json``: ``config`` plus the format, its version and the sha256 of each of ``files``.

    ``files`` (already written into ``directory``) must be plain, regular files.
    """
    directory = Path(directory)
    hashes = {}
    for name in files:
        path = directory / name
        regular_file(path, "model file", MAX_MODEL_BYTES)
        hashes[name] = file_sha256(path)
    write_json(directory / CONFIG, {**config, "format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION,
                                    "sha256": hashes})


def config_error(config_path: Path, label: str, problem: str) -> MotifprobeError:
    """The one-line error for a bad field of a model config."""
    return MotifprobeError(f"cannot read {label} config {str(config_path)!r}: {problem}")


def config_int(config: dict[str, Any], key: str, config_path: Path, label: str, minimum: int = 0,
               maximum: int | None = None, optional: bool = False) -> int | None:
    """An integer field of a model config, checked; one line naming the file otherwise."""
    value = config.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bound = f"..{maximum}" if maximum is not None else " or more"
        raise config_error(config_path, label, f"{key} must be an integer {minimum}{bound}, got {show(value)}")
    return value


def read_model_config(directory: str | Path, label: str) -> dict[str, Any]:
    """Read ``config.json`` and check the format, its version and every weights file's checksum.

    The ``sha256`` object (file name -> hex digest) is mandatory; every file it names must be a
    regular file of at most :data:`MAX_MODEL_BYTES` whose SHA-256 matches, and the directory
    may hold nothing else. Nothing in those files has been parsed when this returns; the
    plugin's own fields are the caller's to check.
    """
    directory = Path(directory)
    config_path = directory / CONFIG
    config = read_json(config_path, f"{label} config")
    if not isinstance(config, dict):
        raise config_error(config_path, label, f"expected a JSON object, got {type(config).__name__}")
    if config.get("format") != MODEL_FORMAT:
        raise config_error(config_path, label, f"not a {MODEL_FORMAT} config (models saved by motifprobe "
                           "before 0.3 must be retrained)")
    version = config_int(config, "format_version", config_path, label, 1)
    if version > MODEL_FORMAT_VERSION:
        raise config_error(config_path, label, f"format version {version} is newer than this motifprobe reads "
                           f"({MODEL_FORMAT_VERSION}): upgrade motifprobe")
    if version != MODEL_FORMAT_VERSION:
        raise config_error(config_path, label, f"format version {version} is not supported (this motifprobe reads "
                           f"{MODEL_FORMAT_VERSION}): retrain the model")
    hashes = config.get("sha256")
    if (not isinstance(hashes, dict) or not 1 <= len(hashes) <= MAX_WEIGHT_FILES
            or not all(is_plain_name(k) and is_sha256(v) for k, v in hashes.items())):
        raise MotifprobeError(f"refusing to load {label} {str(directory)!r}: its config {str(config_path)!r} "
                              "lacks a valid sha256 of its weights file(s)")
    for name, digest in sorted(hashes.items()):
        path = directory / name
        regular_file(path, label, MAX_MODEL_BYTES)
        if file_sha256(path) != digest:
            raise MotifprobeError(f"cannot read {label} {str(path)!r}: the file is damaged (checksum mismatch)")
    # Nothing else in the directory: whatever the plugin opens has passed its checksum (or is missing).
    with os.scandir(directory) as entries:
        for i, entry in enumerate(entries):
            if entry.name != CONFIG and entry.name not in hashes:
                raise MotifprobeError(f"refusing to load {label} {str(directory)!r}: {entry.name} is not listed "
                                      f"(with its sha256) in {CONFIG}")
            if i > MAX_WEIGHT_FILES:
                break
    return config


# -- models trained elsewhere (--model-file) -----------------------------------------------------
SUFFIX_PLUGINS = {".pt": "torchscript", ".ts": "torchscript", ".torchscript": "torchscript", ".onnx": "onnx"}
"""Model-file suffixes whose plugin is inferred when ``--model-plugin`` is not given."""
FILE_PLUGINS = ("torchscript", "onnx", "python")
LOADING = {"torchscript": "loading TorchScript model {source!r} (runs no Python code)",
           "onnx": "loading ONNX model {source!r} with onnxruntime (runs no Python code)",
           "python": "importing {source} runs its code"}


def _looks_like_callable(source: str) -> bool:
    """``package.module:name`` (and not an existing file)."""
    head, _, tail = source.partition(":")
    return (source.count(":") == 1 and bool(tail) and all(part.isidentifier() for part in head.split("."))
            and tail.isidentifier() and not os.path.exists(source))


def model_file_plugin(source: str | None, plugin: str | None = None) -> str:
    """The plugin that reads ``source``: ``plugin`` if given, else from the suffix (``.pt``/``.ts``:
    torchscript, ``.onnx``: onnx) or the form ``package.module:name`` (python)."""
    if plugin:
        return plugin
    if source is None:
        raise MotifprobeError("give --model-file PATH (a .pt TorchScript or .onnx file), or --model-plugin python "
                              "with --model-param callable=package.module:name")
    if _looks_like_callable(source):
        return "python"
    suffix = Path(source).suffix.lower()
    if suffix not in SUFFIX_PLUGINS:
        raise MotifprobeError(f"cannot tell the model plugin of --model-file {source!r} from its suffix "
                              f"{suffix or '(none)'!r}; known: {', '.join(SUFFIX_PLUGINS)} (or name it with "
                              f"--model-plugin {'|'.join(FILE_PLUGINS)})")
    return SUFFIX_PLUGINS[suffix]


def model_file_name(source: str, plugin: str) -> str:
    """A name for the model in results: the file's stem, or the callable's name."""
    if plugin == "python" or _looks_like_callable(source):
        return source.rpartition(":")[2] or source
    return Path(source).stem or source


def open_model_file(source: str | Path | None, plugin: str | None = None, params: dict[str, Any] | None = None, *,
                    registry: Any = None, say: Any = None) -> Any:
    """Load a model trained elsewhere: a TorchScript or ONNX file, or a python callable.

    Parameters
    ----------
    source : path or str, optional
        The model file, or ``package.module:name`` for ``python`` (default: its ``callable``
        parameter).
    plugin : str, optional
        ``torchscript``, ``onnx``, ``python`` (or a third-party plugin built on
        :class:`motifprobe.engine.models.ExternalModel`); default: from the suffix.
    params : dict, optional
        The plugin's parameters (``layout``, ``length``, ``target``, ``output``, ``batch_size``,
        ``device``, ...), strings from the command line allowed.
    say : callable, optional
        Called with one line before loading: what is loaded and whether that runs code.

    Returns
    -------
    ExternalModel
        Opened, with ``name_`` set (the file stem or the callable's name).
    """
    from motifprobe.engine.models import ExternalModel
    from motifprobe.engine.registry import get_registry

    params = dict(params or {})
    if source is None and params.get("callable"):
        source, plugin = str(params["callable"]), plugin or "python"
    name = model_file_plugin(None if source is None else str(source), plugin)
    entry = (registry or get_registry()).get("model", name)
    factory = entry.factory
    if not (isinstance(factory, type) and issubclass(factory, ExternalModel)):
        raise MotifprobeError(f"model plugin {entry.name!r} trains its own models: interpret them with --run RUN_DIR; "
                              f"--model-file takes {', '.join(FILE_PLUGINS)}")
    if source is None:
        raise MotifprobeError(f"model plugin {entry.name!r} needs --model-file PATH"
                              + (" or --model-param callable=package.module:name" if entry.name == "python" else ""))
    source = str(source)
    if entry.name == "python":
        params["callable"] = source
    model = factory(**params)
    if say is not None:
        say(LOADING.get(entry.name, "loading {source!r} with model plugin " + entry.name).format(source=source))
    model.open(source)
    model.name_ = model_file_name(source, entry.name)
    return model
