"""Run directories: train once, interpret many times.

``runs/<name>/`` holds ``manifest.json`` (plugin, parameters, dataset path and sha256, seed,
split sizes, metrics, versions, training threads, and the sha256 of every file the run wrote),
``model/`` (written by the plugin in a safe format) and ``predictions.parquet`` (the held-out
test split: ``id``, ``label``, ``pred_label``, ``prob``).

Loading validates the manifest's shape before using any of it, and checks the sha256 of every
file under ``model/`` and of ``predictions.parquet`` before anything parses them. The hashes
are integrity, not authenticity (whoever can edit a run can edit its manifest); what makes
loading a hostile run safe is that every model format is data read by a parser, never code.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from motifprobe.engine.dataset import Dataset, file_sha256
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.model_files import (MAX_JSON_BYTES, MAX_MODEL_BYTES, is_sha256, read_json, regular_file,
                                           show)
from motifprobe.engine.registry import Registry, get_registry

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.parquet"
MODEL_DIR = "model"
RUN_FORMAT_VERSION = 2
"""2: the manifest lists the sha256 of every file (``files``) and the training ``threads``."""
MAX_RUN_FILES = 1000


@dataclass
class Run:
    """A trained model with its manifest and held-out predictions."""

    directory: Path | None
    manifest: dict
    model: Any
    predictions: pd.DataFrame

    @property
    def name(self) -> str:
        return self.manifest.get("model_name", self.directory.name if self.directory else "model")

    @property
    def test_ids(self) -> list[str]:
        return list(self.predictions["id"])

    @property
    def metrics(self) -> dict:
        return self.manifest.get("metrics", {})


def run_file_hashes(directory: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of ``predictions.parquet`` and every file under ``model/``."""
    directory = Path(directory)
    out = {}
    for path in sorted([directory / PREDICTIONS, *(p for p in (directory / MODEL_DIR).rglob("*") if p.is_file())]):
        out[path.relative_to(directory).as_posix()] = file_sha256(path)
    return out


# -- manifest checks ----------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain_relative(name: str) -> bool:
    """A relative POSIX path of plain components (no '..', '.', empty parts, backslashes or NUL)."""
    parts = name.split("/")
    return (bool(name) and "\\" not in name and "\x00" not in name and not PurePosixPath(name).is_absolute()
            and all(part not in ("", ".", "..") for part in parts))


def check_manifest(manifest: Any, path: str | Path) -> dict:
    """Check the shape and types of a parsed run manifest; one-line MotifprobeError otherwise.

    Returns the manifest (a dict) unchanged.
    """
    where = f"run manifest {str(path)!r}"

    def bad(what: str) -> MotifprobeError:
        return MotifprobeError(f"{where} is damaged: {what}")

    if not isinstance(manifest, dict):
        raise bad(f"expected a JSON object, got {type(manifest).__name__}")
    version = manifest.get("format_version")
    if not _is_int(version):
        raise bad(f"format_version must be an integer, got {show(version)}")
    if version != RUN_FORMAT_VERSION:
        raise MotifprobeError(f"{where} has format version {version}; this motifprobe reads version "
                              f"{RUN_FORMAT_VERSION} (retrain the run with 'motifprobe train')")
    for key in ("model_name", "model_plugin"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise bad(f"{key} must be a non-empty string, got {show(manifest.get(key))}")
    for key in ("plugin_distribution", "plugin_version"):
        if manifest.get(key) is not None and not isinstance(manifest[key], str):
            raise bad(f"{key} must be a string or null, got {show(manifest[key])}")
    for key in ("params", "dataset", "split", "metrics", "files"):
        if not isinstance(manifest.get(key), dict):
            raise bad(f"{key} must be an object, got {type(manifest.get(key)).__name__}")
    ignored = manifest.get("ignored_settings", [])
    if not isinstance(ignored, list) or not all(isinstance(x, str) for x in ignored):
        raise bad("ignored_settings must be a list of strings")
    if manifest.get("stopped") is not None and not isinstance(manifest["stopped"], str):
        raise bad(f"stopped must be a string or null, got {show(manifest['stopped'])}")
    dataset = manifest["dataset"]
    if dataset.get("path") is not None and not isinstance(dataset["path"], str):
        raise bad("dataset.path must be a string or null")
    if dataset.get("sha256") is not None and not is_sha256(dataset["sha256"]):
        raise bad("dataset.sha256 must be a 64-digit hex string or null")
    split = manifest["split"]
    for key in ("train", "val", "test"):
        if not _is_int(split.get(key)) or split[key] < 0:
            raise bad(f"split.{key} must be a non-negative integer, got {show(split.get(key))}")
    metrics = manifest["metrics"]
    for key in ("accuracy", "auroc", "auprc", "majority_baseline"):
        if metrics.get(key) is not None and not _is_number(metrics[key]):
            raise bad(f"metrics.{key} must be a number, got {show(metrics[key])}")
    if not all(isinstance(v, (int, float, bool)) or v is None for v in metrics.values()):
        raise bad("metrics values must be numbers, booleans or null")
    for key in ("seed", "threads"):
        if manifest.get(key) is not None and (not _is_int(manifest[key]) or manifest[key] < 0):
            raise bad(f"{key} must be a non-negative integer or null, got {show(manifest[key])}")
    files = manifest["files"]
    if len(files) > MAX_RUN_FILES:
        raise bad(f"files lists {len(files)} entries, more than {MAX_RUN_FILES}")
    if PREDICTIONS not in files or not any(str(k).startswith(MODEL_DIR + "/") for k in files):
        raise bad(f"files must list the sha256 of {PREDICTIONS} and of every file under {MODEL_DIR}/")
    for name, digest in files.items():
        if not _plain_relative(name) or not (name == PREDICTIONS or name.startswith(MODEL_DIR + "/")):
            raise bad(f"files holds the path {name!r}, not {PREDICTIONS} or a plain path under {MODEL_DIR}/")
        if not is_sha256(digest):
            raise bad(f"files[{name!r}] must be a 64-digit hex sha256, got {show(digest)}")
    return manifest


def read_manifest(directory: str | Path) -> dict:
    """Read and check ``directory/manifest.json`` (bounded size, right shape and types)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not os.path.lexists(path):
        raise MotifprobeError(f"{str(directory)!r} is not a run directory (no {MANIFEST}); "
                              "create one with 'motifprobe train'")
    return check_manifest(read_json(path, "run manifest", MAX_JSON_BYTES), path)


def verify_run_files(directory: str | Path, manifest: dict) -> None:
    """Check every file the manifest lists against its sha256, and that ``model/`` holds nothing else.

    Links, devices and other non-regular files are refused; nothing is parsed.
    """
    directory = Path(directory)
    model_dir = directory / MODEL_DIR
    regular_dir = os.path.isdir(model_dir) and not os.path.islink(model_dir)
    if not regular_dir:
        raise MotifprobeError(f"cannot read run {str(directory)!r}: {MODEL_DIR}/ is missing or not a directory")
    present = set()
    for root, dirs, names in os.walk(model_dir):
        for name in dirs + names:
            full = Path(root) / name
            mode = os.lstat(full).st_mode
            if stat.S_ISDIR(mode):
                continue
            rel = full.relative_to(directory).as_posix()
            if not stat.S_ISREG(mode):
                raise MotifprobeError(f"refusing to load run {str(directory)!r}: {rel} is not a regular file")
            present.add(rel)
            if len(present) > MAX_RUN_FILES:
                raise MotifprobeError(f"refusing to load run {str(directory)!r}: more than {MAX_RUN_FILES} files "
                                      f"under {MODEL_DIR}/")
    listed = {name for name in manifest["files"] if name.startswith(MODEL_DIR + "/")}
    extra = sorted(present - listed)
    if extra:
        raise MotifprobeError(f"refusing to load run {str(directory)!r}: {extra[0]} is not listed (with its sha256) "
                              f"in {MANIFEST}")
    for name, digest in sorted(manifest["files"].items()):
        path = directory / name
        regular_file(path, "run file", MAX_MODEL_BYTES)
        if file_sha256(path) != digest:
            raise MotifprobeError(f"cannot read run file {str(path)!r}: the file is damaged "
                                  f"(sha256 differs from {MANIFEST})")


def load_run(directory: str | Path, dataset: Dataset | None = None, registry: Registry | None = None) -> Run:
    """Load a run directory; verify the dataset's sha256 when ``dataset`` is given.

    Raises
    ------
    MotifprobeError
        Missing, damaged or hostile files (a malformed manifest, a file whose sha256 differs
        from the manifest's, an unlisted file in ``model/``), a model plugin that is not
        installed (naming the distribution to install), or a dataset that is not the one the
        model was trained on.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    plugin = manifest["model_plugin"]
    registry = registry or get_registry()
    try:
        entry = registry.get("model", plugin)
    except MotifprobeError:
        dist = manifest.get("plugin_distribution") or "unknown"
        raise MotifprobeError(
            f"model plugin {plugin!r} used by run {str(directory)!r} is not installed; "
            f"install the distribution {dist!r} (pip install {dist})") from None
    trained_on = manifest["dataset"].get("sha256")
    if dataset is not None and dataset.sha256 and trained_on not in (None, dataset.sha256):
        raise MotifprobeError(
            f"dataset {str(dataset.path)!r} (sha256 {dataset.sha256[:12]}...) is not the one run {str(directory)!r} "
            f"was trained on ({manifest['dataset'].get('path')}, sha256 {trained_on[:12]}...)")
    verify_run_files(directory, manifest)
    model = entry.factory.load(directory / MODEL_DIR)
    preds_path = directory / PREDICTIONS
    try:
        predictions = pd.read_parquet(preds_path)
    except Exception:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise MotifprobeError(f"{str(preds_path)!r} is missing or damaged") from None
    missing = {"id", "label", "pred_label", "prob"} - set(predictions.columns)
    if missing:
        raise MotifprobeError(f"{str(preds_path)!r} lacks column(s) {', '.join(sorted(missing))}")
    return Run(directory, manifest, model, predictions)
