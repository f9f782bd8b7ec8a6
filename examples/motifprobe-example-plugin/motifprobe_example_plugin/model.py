"""``example-kmer-nb``: multinomial naive Bayes on k-mer counts, in pure numpy.

Each sequence becomes its vector of k-mer counts (``engine.kmers.kmer_counts``); each class c
has a smoothed k-mer distribution theta_c and a prior pi_c, and

    log P(c | x) = log pi_c + sum_w x_w log theta_cw - log Z(x).

Training is a single pass of counting, so it is deterministic (the seed is accepted and
unused) and fast. The model is saved as one JSON file: no pickle, nothing executable.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from motifprobe import MotifprobeError, Param, SequenceModel
from motifprobe import kmer_counts

FORMAT = "motifprobe-example-kmer-nb"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
MAX_K = 10
PREDICT_CELLS = 1 << 22
"""k-mer count cells (sequences x 4**k) featurized at once: bounds predict_proba's memory."""


class KmerNaiveBayes(SequenceModel):
    """Multinomial naive Bayes over k-mer counts.

    Parameters
    ----------
    k : int
        k-mer length (1..10; the table has 4**k columns per class).
    alpha : float
        Additive (Laplace/Lidstone) smoothing of the k-mer counts, > 0.
    balance : bool
        Uniform class prior instead of the training frequencies (the ``--sampler`` flag).
    """

    name = "example-kmer-nb"
    parameters = (
        Param("k", int, 4, "k-mer length", low=1, high=MAX_K),
        Param("alpha", float, 1.0, "additive smoothing of k-mer counts", low=0.0, low_open=True),
        Param("balance", bool, False, "uniform class prior instead of the training class frequencies"),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # the engine checks and coerces the declared parameters
        self.log_prior_: np.ndarray | None = None
        self.feature_log_prob_: np.ndarray | None = None

    # -- features ------------------------------------------------------------------------
    def _counts(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise MotifprobeError(f"example-kmer-nb expects codes of shape (N, L), got {codes.shape}")
        k = self.params["k"]
        if codes.shape[1] < k:
            raise MotifprobeError(f"sequences of length {codes.shape[1]} are shorter than k={k}")
        return kmer_counts(codes, k, dtype=np.float64)

    # -- contract ------------------------------------------------------------------------
    def fit(self, codes, labels, *, val=None, seed=None, progress=None) -> "KmerNaiveBayes":
        labels = np.asarray(labels).astype(np.int64)
        if labels.ndim != 1 or len(labels) != len(codes) or len(labels) == 0:
            raise MotifprobeError(f"need one label per sequence, got {labels.shape} labels for {len(codes)} sequences")
        if labels.min() < 0:
            raise MotifprobeError("example-kmer-nb needs labels 0, 1, ...; got negative labels")
        n_classes = max(2, int(labels.max()) + 1)
        totals = np.zeros((n_classes, 4 ** self.params["k"]), dtype=np.float64)
        step = max(1, PREDICT_CELLS // 4 ** self.params["k"])
        for lo in range(0, len(codes), step):  # loop over blocks, not sequences
            counts, block = self._counts(codes[lo:lo + step]), labels[lo:lo + step]
            for c in range(n_classes):  # loop over classes, not sequences
                totals[c] += counts[block == c].sum(axis=0)
        smoothed = totals + self.params["alpha"]
        self.feature_log_prob_ = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        if self.params["balance"]:
            self.log_prior_ = np.full(n_classes, -math.log(n_classes))
        else:
            class_counts = np.bincount(labels, minlength=n_classes) + 1.0  # +1: an absent class keeps a finite prior
            self.log_prior_ = np.log(class_counts / class_counts.sum())
        if progress is not None:
            progress(epoch=1, total=1)
        return self

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        if self.feature_log_prob_ is None:
            raise MotifprobeError("example-kmer-nb: call fit (or load) before predict_proba")
        n_classes = len(self.log_prior_)
        codes = np.asarray(codes)
        if len(codes) == 0:
            return np.zeros((0, n_classes), dtype=np.float32)
        step = max(1, PREDICT_CELLS // 4 ** self.params["k"])
        out = np.empty((len(codes), n_classes), dtype=np.float32)
        for lo in range(0, len(codes), step):
            joint = self._counts(codes[lo:lo + step]) @ self.feature_log_prob_.T + self.log_prior_
            joint -= joint.max(axis=1, keepdims=True)
            probs = np.exp(joint)
            out[lo:lo + step] = probs / probs.sum(axis=1, keepdims=True)
        return out

    def save(self, directory: str | Path) -> None:
        if self.feature_log_prob_ is None:
            raise MotifprobeError("example-kmer-nb: nothing to save, the model is not fitted")
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "params": self.params,
               "log_prior": self.log_prior_.tolist(), "feature_log_prob": self.feature_log_prob_.tolist()}
        # json writes floats with repr(), so a save -> load round trip is exact.
        (Path(directory) / MODEL_FILE).write_text(json.dumps(doc))

    @classmethod
    def load(cls, directory: str | Path) -> "KmerNaiveBayes":
        path = Path(directory) / MODEL_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise MotifprobeError(f"{str(path)!r} is missing: not an example-kmer-nb model directory") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MotifprobeError(f"{str(path)!r} is damaged ({type(exc).__name__}: {exc})") from None
        try:
            if doc["format"] != FORMAT:
                raise ValueError(f"format is {doc['format']!r}, not {FORMAT!r}")
            if doc["format_version"] != FORMAT_VERSION:
                raise ValueError(f"format version {doc['format_version']} is not supported (want {FORMAT_VERSION})")
            model = cls(**doc["params"])
            log_prior = np.asarray(doc["log_prior"], dtype=np.float64)
            table = np.asarray(doc["feature_log_prob"], dtype=np.float64)
            want = (len(log_prior), 4 ** model.params["k"])
            if log_prior.ndim != 1 or len(log_prior) < 2 or table.shape != want:
                raise ValueError(f"tables have shapes {log_prior.shape} and {table.shape}, want {want}")
            if not (np.all(np.isfinite(log_prior)) and np.all(np.isfinite(table))):
                raise ValueError("tables hold non-finite values")
        except (KeyError, TypeError, ValueError, MotifprobeError) as exc:
            raise MotifprobeError(f"{str(path)!r} is damaged or not an example-kmer-nb model ({exc})") from None
        model.log_prior_, model.feature_log_prob_ = log_prior, table
        return model
