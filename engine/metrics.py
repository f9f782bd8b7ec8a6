"""Classification metrics: thin wrappers over :mod:`sklearn.metrics` with the project's NaN conventions.

scikit-learn is imported inside the functions so that importing this module (the CLI does,
through training) stays cheap.
"""
from __future__ import annotations

import numpy as np

BASELINE_MARGIN = 0.01
"""A model beats the majority baseline when its accuracy is at least this much higher."""


def _binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as positive (nonzero) / negative and scores as float64."""
    return np.asarray(labels).astype(bool), np.asarray(scores, dtype=np.float64)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`; ties count half).

    NaN with one class only or with a non-finite score (a diverged epoch scores NaN rather than
    failing; scikit-learn raises on both).
    """
    labels, scores = _binary(labels, scores)
    if labels.all() or not labels.any() or not np.all(np.isfinite(scores)):
        return float("nan")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (:func:`sklearn.metrics.average_precision_score`, step-wise, tied scores
    as one threshold); NaN without positives or with a non-finite score."""
    labels, scores = _binary(labels, scores)
    if not labels.any() or not np.all(np.isfinite(scores)):
        return float("nan")
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores))


def classification_metrics(labels: np.ndarray, probs: np.ndarray, train_labels: np.ndarray) -> dict:
    """Accuracy, AUROC, AUPRC on held-out data, and the majority-class baseline to beat."""
    from sklearn.metrics import accuracy_score

    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    majority = int(np.bincount(train_labels).argmax())
    baseline = float(accuracy_score(labels, np.full_like(labels, majority)))
    accuracy = float(accuracy_score(labels, pred))
    score = probs[:, 1] if probs.shape[1] > 1 else probs[:, 0]
    return {"accuracy": accuracy, "auroc": auroc(labels, score), "auprc": auprc(labels, score),
            "majority_baseline": baseline, "beats_baseline": bool(accuracy > baseline + BASELINE_MARGIN)}
