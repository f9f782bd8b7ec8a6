"""Classification metrics in plain numpy (no scikit-learn import needed)."""
from __future__ import annotations

import numpy as np

BASELINE_MARGIN = 0.01
"""A model beats the majority baseline when its accuracy is at least this much higher."""


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties counted half); NaN with one class."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise); NaN without positives."""
    labels = np.asarray(labels).astype(bool)
    if labels.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    scores_sorted = np.asarray(scores, dtype=np.float64)[order]
    hits = labels[order]
    tp = np.cumsum(hits)
    # Evaluate only at the last position of each tied score block.
    last = np.r_[scores_sorted[1:] != scores_sorted[:-1], True]
    tp, k = tp[last], (np.arange(1, len(hits) + 1))[last]
    precision = tp / k
    recall_step = np.diff(np.r_[0, tp]) / labels.sum()
    return float(np.sum(precision * recall_step))


def classification_metrics(labels: np.ndarray, probs: np.ndarray, train_labels: np.ndarray) -> dict:
    """Accuracy, AUROC, AUPRC on held-out data, and the majority-class baseline to beat."""
    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    majority = int(np.bincount(train_labels).argmax())
    baseline = float(np.mean(labels == majority))
    accuracy = float(np.mean(pred == labels))
    score = probs[:, 1] if probs.shape[1] > 1 else probs[:, 0]
    roc = auroc(labels, score)
    return {"accuracy": accuracy, "auroc": roc, "auprc": auprc(labels, score), "majority_baseline": baseline,
            "beats_baseline": bool(accuracy > baseline + BASELINE_MARGIN)}
