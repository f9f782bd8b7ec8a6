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
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.kmers import MAX_K, check_k, chunk_rows, kmer_features
from motifprobe.engine.model_files import config_int, read_model_config, write_model_config
from motifprobe.engine.models import SequenceModel, expand_proba

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
    parameters = (
        Param("k", int, 5, "k-mer size (features: counts of all 4**k k-mers)", low=1, high=MAX_K),
        Param("n_estimators", int, 300, "maximum boosting rounds", low=1),
        Param("lr", float, 0.1, "learning rate (shrinkage, eta)", low=0.0, low_open=True),
        Param("max_depth", int, 6, "maximum tree depth", low=1),
        Param("early_stop", int, 20, "stop after this many rounds without validation AUROC improvement (0 = off)",
              low=0),
        Param("balance", bool, False, "weight samples so that both classes weigh the same"),
        Param("num_threads", int, 2, "XGBoost threads during fit/predict (0 = all cores)", low=0),
    )

    def _n_jobs(self) -> int:
        return int(self.params["num_threads"]) or (os.cpu_count() or 1)

    def fit(self, codes: np.ndarray, labels: np.ndarray, *, val: tuple[np.ndarray, np.ndarray] | None = None,
            seed: int | None = None, progress=None) -> "XGBoostKmer":
        """Boost trees on k-mer counts; early-stop on ``val`` AUROC when given. Returns ``self``."""
        from xgboost import XGBClassifier

        codes, labels = np.asarray(codes, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
        if codes.ndim != 2 or len(codes) != len(labels) or len(codes) == 0:
            raise MotifprobeError(f"fit needs codes (N, L) and N labels, got {codes.shape} and {labels.shape}")
        classes = np.unique(labels)
        if not np.array_equal(classes, [0, 1]):
            raise MotifprobeError(f"xgboost-kmer needs labels 0 and 1 (both present), got classes {classes.tolist()}")
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
            kwargs["eval_set"] = [(kmer_features(val[0], k), np.asarray(val[1], dtype=np.int64))]
        model.fit(kmer_features(codes, k), labels, **kwargs)
        self.model_, self.classes_, self.seq_length_ = model, classes, int(codes.shape[1])
        self.threads_ = self._n_jobs()
        self._set_rounds()
        if progress is not None:
            progress(epoch=self.n_epochs_, total=self.n_epochs_)
        return self

    def _set_rounds(self) -> None:
        booster = self.model_.get_booster()
        self.n_epochs_ = int(booster.num_boosted_rounds())
        best = getattr(self.model_, "best_iteration", None) if booster.attr("best_iteration") is not None else None
        self.best_epoch_ = int(best) + 1 if best is not None else self.n_epochs_

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Class probabilities, ``float32`` (N, 2), featurized and predicted chunk by chunk."""
        if not hasattr(self, "model_"):
            raise MotifprobeError("this xgboost-kmer model is not trained yet: call fit or load first")
        codes = np.asarray(codes, dtype=np.uint8)
        if len(codes) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        if codes.ndim != 2:
            raise MotifprobeError(f"codes must be 2-D (N, L), got shape {codes.shape}")
        k = int(self.params["k"])
        out = np.empty((len(codes), 2), dtype=np.float32)
        step = chunk_rows(k)
        for lo in range(0, len(codes), step):
            proba = self.model_.predict_proba(kmer_features(codes[lo:lo + step], k))
            out[lo:lo + step] = expand_proba(proba, self.classes_)
        return out

    def save(self, directory: str | Path) -> None:
        """Write ``model.ubj`` (XGBoost's format) and ``config.json`` to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save_model(str(directory / MODEL_FILE))
        write_model_config(directory, MODEL_FILE, {"params": self.params, "seq_length": self.seq_length_,
                                                   "n_epochs": self.n_epochs_, "best_epoch": self.best_epoch_})

    @classmethod
    def load(cls, directory: str | Path) -> "XGBoostKmer":
        """Read a model written by :meth:`save`; a missing or damaged file raises MotifprobeError."""
        from xgboost import XGBClassifier

        config, model, model_path = read_model_config(directory, MODEL_FILE, "xgboost-kmer model", cls)
        config_path = Path(directory) / "config.json"
        seq_length = config["seq_length"]
        k = int(model.params["k"])
        if k > seq_length:
            raise MotifprobeError(f"cannot read xgboost-kmer model config {str(config_path)!r}: k={k} is longer "
                                  f"than seq_length {seq_length}")
        for key in ("n_epochs", "best_epoch"):
            config_int(config, key, config_path, "xgboost-kmer model", 1, optional=True)
        try:
            clf = XGBClassifier(n_jobs=model._n_jobs())
            clf.load_model(str(model_path))
            classes = np.asarray(clf.classes_, dtype=np.int64)
            n_features = int(clf.get_booster().num_features())
        except Exception:  # XGBoostError messages are multi-line C++ traces: keep ours short
            raise MotifprobeError(f"cannot read xgboost-kmer model {str(model_path)!r}: "
                                  "the file is damaged or not an XGBoost model") from None
        if n_features != 4**k or not np.array_equal(classes, [0, 1]):
            raise MotifprobeError(f"cannot read xgboost-kmer model {str(model_path)!r}: it has {n_features} features "
                                  f"and classes {classes.tolist()}, but its config says k={k} ({4**k} features) "
                                  "and classes [0, 1]")
        model.model_, model.classes_, model.seq_length_ = clf, classes, seq_length
        model._set_rounds()
        return model


@hookimpl
def register_models(register):
    register("xgboost-kmer", XGBoostKmer, aliases=("xgboost",))
