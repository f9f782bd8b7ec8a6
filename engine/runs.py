"""Run directories: train once, interpret many times.

``runs/<name>/`` holds ``manifest.json`` (plugin, parameters, dataset path and sha256, seed,
split sizes, metrics, versions), ``model/`` (written by the plugin in a safe format) and
``predictions.parquet`` (the held-out test split: ``id``, ``label``, ``pred_label``, ``prob``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.registry import Registry, get_registry

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.parquet"
MODEL_DIR = "model"
RUN_FORMAT_VERSION = 1


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


def load_run(directory: str | Path, dataset: Dataset | None = None, registry: Registry | None = None) -> Run:
    """Load a run directory; verify the dataset's sha256 when ``dataset`` is given.

    Raises
    ------
    MotifprobeError
        Missing or damaged files, a model plugin that is not installed (naming the
        distribution to install), or a dataset that is not the one the model was trained on.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        raise MotifprobeError(f"{str(directory)!r} is not a run directory (no {MANIFEST}); create one with 'motifprobe train'")
    try:
        manifest = json.loads(manifest_path.read_text())
        plugin = manifest["model_plugin"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise MotifprobeError(f"{str(manifest_path)!r} is damaged (not a motifprobe manifest)") from None
    registry = registry or get_registry()
    try:
        entry = registry.get("model", plugin)
    except MotifprobeError:
        dist = manifest.get("plugin_distribution", "unknown")
        raise MotifprobeError(
            f"model plugin {plugin!r} used by run {str(directory)!r} is not installed; "
            f"install the distribution {dist!r} (pip install {dist})") from None
    if dataset is not None and dataset.sha256 and manifest.get("dataset", {}).get("sha256") not in (None, dataset.sha256):
        raise MotifprobeError(
            f"dataset {str(dataset.path)!r} (sha256 {dataset.sha256[:12]}...) is not the one run {str(directory)!r} "
            f"was trained on ({manifest['dataset'].get('path')}, sha256 {manifest['dataset']['sha256'][:12]}...)")
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
