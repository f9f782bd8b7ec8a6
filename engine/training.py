"""Train a model plugin on a dataset: deterministic stratified split, balancing, run directory."""
from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError, fault
from motifprobe.engine.metrics import classification_metrics
from motifprobe.engine.models import resolve_params
from motifprobe.engine.outputs import atomic_dir, check_name, check_output_dir
from motifprobe.engine.params import declared_params
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.seeds import check_seed
from motifprobe.engine.runs import MANIFEST, MODEL_DIR, PREDICTIONS, RUN_FORMAT_VERSION, Run, run_file_hashes

BALANCE_BELOW = 0.4
"""``balance='auto'`` turns class weighting on when the minority class is under this share."""
STANDARD_PARAMS = ("epochs", "lr", "dropout", "early_stop", "monitor", "balance")
PLATEAU_MARGIN = 0.05
"""An early stop whose best validation accuracy is at most this far above the validation majority
baseline is flagged ``plateau_near_baseline``: training ended before the model left the baseline."""


def training_end(model: Any, params: dict[str, Any], val_labels: np.ndarray,
                 train_labels: np.ndarray) -> tuple[str | None, dict[str, Any]]:
    """How training ended, from the model's optional ``n_epochs_``, ``best_epoch_``, ``stopped_early_``, ``history_``.

    Parameters
    ----------
    model
        The fitted model.
    params : dict
        Its resolved parameters (``epochs`` or ``n_estimators``, ``early_stop``).
    val_labels, train_labels : numpy.ndarray
        Labels of the validation and training splits (the baseline predicts the training majority).

    Returns
    -------
    (stopped, facts)
        ``stopped``: a sentence such as ``"early stop at epoch 14 (patience 8), best epoch 6"``
        (None for models without epochs); ``facts``: run metrics ``stopped_early``,
        ``plateau_near_baseline`` and, with per-epoch validation accuracy, ``best_val_accuracy`` and
        ``val_baseline``.
    """
    n, best = getattr(model, "n_epochs_", None), getattr(model, "best_epoch_", None)
    if n is None:
        return None, {}
    n, best = int(n), int(best if best is not None else n)
    most = params.get("epochs", params.get("n_estimators"))
    early = getattr(model, "stopped_early_", None)
    if early is None:  # a plugin that does not say: fewer epochs than allowed means patience ended it
        early = most is not None and n < int(most)
    early = bool(early)
    if early:
        patience = params.get("early_stop")
        stopped = f"early stop at epoch {n}" + (f" (patience {patience})" if patience is not None else "") + \
            f", best epoch {best}"
    else:
        stopped = f"ran all {n} epochs, best epoch {best}"
        if best == n and n > 1:
            stopped += " (still improving at the last epoch: more epochs may help)"
    facts: dict[str, Any] = {"stopped_early": early, "plateau_near_baseline": False}
    accs = [float(h["val_accuracy"]) for h in getattr(model, "history_", None) or []
            if isinstance(h, dict) and isinstance(h.get("val_accuracy"), (int, float))
            and np.isfinite(h["val_accuracy"])]
    if accs and len(val_labels):
        majority = int(np.argmax(np.bincount(np.asarray(train_labels, dtype=np.int64))))
        baseline = float(np.mean(np.asarray(val_labels) == majority))
        facts.update(best_val_accuracy=max(accs), val_baseline=baseline,
                     plateau_near_baseline=early and max(accs) <= baseline + PLATEAU_MARGIN)
        if facts["plateau_near_baseline"]:
            stopped += (f"; a plateau near the majority baseline: best validation accuracy {max(accs):.3f} vs "
                        f"baseline {baseline:.3f} (more patience or epochs may let it learn)")
    return stopped, facts


def split_indices(labels: np.ndarray, test_sz: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified, deterministic split: (train, val, test) index arrays, each sorted.

    Two :func:`sklearn.model_selection.train_test_split` draws stratified by label and seeded by
    ``seed``: the test set (``test_sz`` of the data, rounded up), then a validation set of the same
    size from the rest. The same labels, ``test_sz`` and ``seed`` give the same split, so every
    model of a compare is tested on the same sequences.
    """
    if not 0 < test_sz < 0.5:
        raise MotifprobeError(f"test_sz must lie in (0, 0.5), got {test_sz}")
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    idx = np.arange(len(labels))
    try:
        rest, test = train_test_split(idx, test_size=test_sz, stratify=labels, random_state=int(seed))
        train, val = train_test_split(rest, test_size=len(test), stratify=labels[rest], random_state=int(seed))
    except ValueError as exc:  # a class too small to stratify, or fewer test rows than classes
        classes, counts = np.unique(labels, return_counts=True)
        per_class = ", ".join(f"label {c}: {k}" for c, k in zip(classes, counts))
        raise MotifprobeError(f"{len(labels)} sequences ({per_class}) are too few to split with test_sz {test_sz} "
                              f"(scikit-learn: {str(exc).strip().splitlines()[0]})") from None
    return np.sort(train), np.sort(val), np.sort(test)


def resolve_balance(balance: str | bool, labels: np.ndarray) -> bool:
    """'auto' -> on when the minority class share is below ``BALANCE_BELOW``."""
    if isinstance(balance, bool):
        return balance
    text = str(balance).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    if text == "auto":
        counts = np.bincount(labels)
        return bool(counts.min() / counts.sum() < BALANCE_BELOW)
    raise MotifprobeError(f"sampler/balance must be True, False or auto, got {balance!r}")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("motifprobe", "numpy", "torch", "scikit-learn", "xgboost"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def train(dataset: Dataset, model_plugin: str = "torch-cnn", *, params: dict[str, Any] | None = None,
          test_sz: float = 0.1, seed: int = 0, balance: str | bool = "auto", epochs: int | None = None,
          lr: float | None = None, dropout: float | None = None, early_stop: int | None = None,
          monitor: str | None = None, out_dir: str | Path | None = "runs", model_name: str | None = None,
          overwrite: bool = False, progress: Callable[..., None] | None = None,
          registry: Registry | None = None) -> Run:
    """Train ``model_plugin`` on ``dataset`` and (unless ``out_dir`` is None) save a run directory.

    Parameters
    ----------
    dataset : Dataset
        Labeled sequences (two classes at least).
    model_plugin : str
        A registered model name (``motifprobe plugins``).
    params : dict, optional
        Plugin-specific parameters (``--param key=value``); unknown keys raise.
    test_sz : float
        Share of the data held out for testing; validation gets the same share.
    balance : 'auto', True or False
        Class weighting / weighted sampling; 'auto' = on when the minority class is < 40%.
    epochs, lr, dropout, early_stop, monitor : optional
        Standard training settings, passed to plugins that declare them.
    out_dir, model_name, overwrite
        The run goes to ``out_dir/model_name`` (default name: the plugin name).

    Returns
    -------
    Run
    """
    seed = check_seed(seed)
    registry = registry or get_registry()
    entry = registry.get("model", model_plugin)
    if epochs is not None and int(epochs) < 1:
        raise MotifprobeError(f"epochs must be at least 1, got {epochs}")
    if lr is not None and not (np.isfinite(float(lr)) and float(lr) > 0):
        raise MotifprobeError(f"lr must be a finite number > 0, got {lr}")
    if dropout is not None and not 0 <= float(dropout) < 1:
        raise MotifprobeError(f"dropout must lie in [0, 1), got {dropout}")
    if early_stop is not None and int(early_stop) < 0:
        raise MotifprobeError(f"early_stop (patience) must be at least 0 (0 = off), got {early_stop}")
    if np.any(dataset.labels < 0):
        raise MotifprobeError("every sequence needs a label to train; this dataset has unlabeled rows")
    classes = np.unique(dataset.labels)
    if len(classes) < 2:
        raise MotifprobeError(f"the dataset has only one class (label {classes[0]}); training needs two")
    name = check_name(entry.name if model_name is None else model_name, "run name (--model-name)")
    if out_dir is not None:  # before any work: name, writable folder, existing run (see engine/outputs.py)
        check_output_dir(Path(out_dir) / name, overwrite=overwrite, kind="run", inputs=[dataset.path],
                         what="run directory")
    train_idx, val_idx, test_idx = split_indices(dataset.labels, test_sz, seed)
    if min(len(train_idx), len(val_idx), len(test_idx)) == 0:
        raise MotifprobeError(f"{len(dataset)} sequences are too few to split with test_sz {test_sz}")
    defaults = {p.name for p in declared_params(entry.factory)}
    standard = {"epochs": epochs, "lr": lr, "dropout": dropout, "early_stop": early_stop, "monitor": monitor,
                "balance": resolve_balance(balance, dataset.labels[train_idx])}
    ignored = [k for k, v in standard.items() if v is not None and k not in defaults and k != "balance"]
    merged = {k: v for k, v in standard.items() if v is not None and k in defaults}
    merged.update(params or {})
    resolved = resolve_params(entry.factory, merged, entry.name)
    model = entry.factory(**resolved)
    codes, labels = dataset.codes, dataset.labels
    who = f"model plugin {entry.name!r} ({entry.distribution})"
    try:
        model.fit(codes[train_idx], labels[train_idx], val=(codes[val_idx], labels[val_idx]), seed=int(seed),
                  progress=progress)
        probs = np.asarray(model.predict_proba(codes[test_idx]), dtype=np.float64)
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - plugin code: one line naming it (traceback with --debug)
        raise fault(ModelFault, who, exc) from None
    if not np.all(np.isfinite(probs)):  # e.g. diverged training (a huge lr): such a model is never saved
        raise ModelFault(f"model {entry.name} gave non-finite predictions on the held-out split "
                              f"({int(np.sum(~np.isfinite(probs).all(axis=1)))} of {len(probs)} sequences); "
                              "training diverged (try a smaller lr); nothing was saved")
    metrics = classification_metrics(labels[test_idx], probs, labels[train_idx])
    for attr in ("best_epoch_", "n_epochs_"):
        if hasattr(model, attr):
            metrics[attr.rstrip("_")] = int(getattr(model, attr))
    stopped, facts = training_end(model, resolved, labels[val_idx], labels[train_idx])
    metrics.update(facts)
    manifest = {
        "format_version": RUN_FORMAT_VERSION, "model_name": name, "model_plugin": entry.name,
        "plugin_distribution": entry.distribution, "plugin_version": entry.version,
        "params": {k: v for k, v in resolved.items()}, "ignored_settings": ignored,
        "dataset": {"path": str(Path(dataset.path).resolve()) if dataset.path else None, "sha256": dataset.sha256,
                    "rule": dataset.rule},
        "seed": int(seed), "test_sz": float(test_sz), "balance": bool(standard["balance"]),
        "split": {"train": int(len(train_idx)), "val": int(len(val_idx)), "test": int(len(test_idx))},
        "metrics": metrics, "stopped": stopped, "versions": _versions(), "threads": getattr(model, "threads_", None),
    }
    predictions = pd.DataFrame({"id": dataset.ids[test_idx].astype(str), "label": labels[test_idx],
                                "pred_label": probs.argmax(axis=1), "prob": probs[:, -1]})
    directory = None
    if out_dir is not None:
        directory = Path(out_dir) / name
        with atomic_dir(directory, overwrite=overwrite, kind="run", inputs=[dataset.path],
                        what="run directory") as tmp:
            (tmp / MODEL_DIR).mkdir()
            model.save(tmp / MODEL_DIR)
            predictions.to_parquet(tmp / PREDICTIONS, index=False)
            manifest["files"] = run_file_hashes(tmp)  # sha256 of every model file, checked before loading
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=float))
    return Run(directory, manifest, model, predictions)
