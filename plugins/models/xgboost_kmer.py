"""The ``xgboost-kmer`` model: gradient-boosted trees (XGBoost, hist) on k-mer counts.

Saved in XGBoost's own UBJSON format (no pickle). xgboost is imported inside functions, so
importing this module stays cheap.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from motifprobe import Param, hookimpl
from motifprobe.engine.kmers import MAX_K, check_k, chunk_rows, kmer_features
from motifprobe.engine.models import SequenceModel

PLUGIN = "xgboost-kmer"
MODEL_FILE = "model.ubj"


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-sample weights ``N / (n_classes * class_count)``: every class weighs the same in total."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return (len(labels) / (len(counts) * counts[inverse])).astype(np.float64)


class XGBoostKmer(SequenceModel):
    """XGBoost classifier on k-mer counts, early-stopped on validation AUROC.

    Parameters
    ----------
    **params
        Declared in :attr:`parameters` (``motifprobe plugins xgboost-kmer`` lists them).

    Attributes
    ----------
    model_ : xgboost.XGBClassifier
        The fitted classifier.
    classes_ : numpy.ndarray
        Class labels seen in training.
    n_epochs_ : int
        Boosting rounds built.
    best_epoch_ : int
        Rounds used for prediction (best validation round, 1-based, with early stopping).
    seq_length_ : int
        Sequence length seen in training.
    threads_ : int
        Threads used by ``fit``.
    """

    name = PLUGIN
    binary = True
    any_length = True  # k-mer counts exist at every length (at least k)
    parameters = (
        Param("k", int, 5, "k-mer size (features: counts of all 4**k k-mers)", low=1, high=MAX_K),
        Param("n_estimators", int, 300, "maximum boosting rounds", low=1),
        Param("lr", float, 0.1, "learning rate (shrinkage, eta)", low=0.0, low_open=True),
        Param("max_depth", int, 6, "maximum tree depth", low=1),
        Param("early_stop", int, 20, "stop after this many rounds without validation AUROC improvement (0 = off)",
              low=0),
        Param("balance", bool, False, "weight samples so that both classes weigh the same"),
        Param("num_threads", int, 0, "XGBoost threads during fit/predict (0, the default: all the machine's cores, "
              "os.cpu_count(); the trees are the same for any number)", low=0),
    )

    def _n_jobs(self) -> int:
        return int(self.params["num_threads"]) or (os.cpu_count() or 1)

    @property
    def predict_chunk(self) -> int:
        return chunk_rows(int(self.params["k"]))

    def _fit(self, codes, labels, val, seed, progress) -> None:
        """Boost trees on k-mer counts; early-stop on ``val`` AUROC when given."""
        from xgboost import XGBClassifier

        p = self.params
        k = check_k(p["k"], codes.shape[1])
        early = int(p["early_stop"]) if val is not None and int(p["early_stop"]) > 0 else None
        model = XGBClassifier(n_estimators=int(p["n_estimators"]), learning_rate=float(p["lr"]),
                              max_depth=int(p["max_depth"]), tree_method="hist", n_jobs=self._n_jobs(),
                              random_state=0 if seed is None else int(seed), early_stopping_rounds=early,
                              eval_metric="auc")
        kwargs: dict[str, Any] = {"verbose": False}
        if p["balance"]:
            kwargs["sample_weight"] = balanced_weights(labels)
        if val is not None:
            kwargs["eval_set"] = [(kmer_features(val[0], k), val[1])]
        model.fit(kmer_features(codes, k), labels, **kwargs)
        self.model_, self.threads_ = model, self._n_jobs()
        self._set_rounds()
        if progress is not None:
            progress(epoch=self.n_epochs_, total=self.n_epochs_)

    def _set_rounds(self) -> None:
        booster = self.model_.get_booster()
        self.n_epochs_ = int(booster.num_boosted_rounds())
        best = getattr(self.model_, "best_iteration", None) if booster.attr("best_iteration") is not None else None
        self.best_epoch_ = int(best) + 1 if best is not None else self.n_epochs_

    def _predict_proba(self, codes: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(kmer_features(codes, int(self.params["k"])))

    def _save_weights(self, directory: Path) -> list[str]:
        self.model_.save_model(str(directory / MODEL_FILE))
        return [MODEL_FILE]

    def _load_weights(self, directory: Path, config: dict[str, Any]) -> None:
        from xgboost import XGBClassifier

        k = check_k(self.params["k"], self.seq_length_)
        try:
            clf = XGBClassifier(n_jobs=self._n_jobs())
            clf.load_model(str(directory / MODEL_FILE))
            classes = np.asarray(clf.classes_, dtype=np.int64)
            n_features = int(clf.get_booster().num_features())
        except Exception:  # XGBoostError messages are multi-line C++ traces: keep ours short
            raise ValueError("the file is damaged or not an XGBoost model") from None
        if n_features != 4**k or not np.array_equal(classes, [0, 1]):
            raise ValueError(f"it has {n_features} features and classes {classes.tolist()}, but its config says "
                             f"k={k} ({4**k} features) and classes [0, 1]")
        self.model_ = clf
        self._set_rounds()


@hookimpl
def register_models(register):
    register("xgboost-kmer", XGBoostKmer, aliases=("xgboost",))
