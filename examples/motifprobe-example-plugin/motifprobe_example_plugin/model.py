"""``example-kmer-nb``: multinomial naive Bayes on k-mer counts, in pure numpy.

Each sequence becomes its vector of k-mer counts (``engine.kmers.kmer_counts``); each class c
has a smoothed k-mer distribution theta_c and a prior pi_c, and

    log P(c | x) = log pi_c + sum_w x_w log theta_cw - log Z(x).

Training is a single pass of counting, so it is deterministic (the seed is accepted and
unused) and fast. The tables are saved as one JSON file: no pickle, nothing executable.

Only the model is here: :class:`motifprobe.SequenceModel` checks the inputs, predicts in
chunks of ``predict_chunk`` sequences, checks the output, and writes and verifies
``config.json`` (parameters, classes, the checksum of ``model.json``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from motifprobe import Param, SequenceModel
from motifprobe import kmer_counts

MODEL_FILE = "model.json"
MAX_K = 10
PREDICT_CELLS = 1 << 22
"""k-mer count cells (sequences x 4**k) featurized at once: bounds fit's and predict_proba's memory."""


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
    any_length = True  # k-mer counts exist at every length of at least k
    parameters = (
        Param("k", int, 4, "k-mer length", low=1, high=MAX_K),
        Param("alpha", float, 1.0, "additive smoothing of k-mer counts", low=0.0, low_open=True),
        Param("balance", bool, False, "uniform class prior instead of the training class frequencies"),
    )

    @property
    def predict_chunk(self) -> int:
        return max(1, PREDICT_CELLS // 4 ** self.params["k"])

    def _counts(self, codes: np.ndarray) -> np.ndarray:
        k = self.params["k"]
        if codes.shape[1] < k:
            raise ValueError(f"sequences of length {codes.shape[1]} are shorter than k={k}")
        return kmer_counts(codes, k, dtype=np.float64)

    def _fit(self, codes, labels, val, seed, progress) -> None:
        n_classes = int(self.classes_.max()) + 1  # one row per label 0..max
        totals = np.zeros((n_classes, 4 ** self.params["k"]), dtype=np.float64)
        step = self.predict_chunk
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

    def _predict_proba(self, codes: np.ndarray) -> np.ndarray:
        joint = self._counts(codes) @ self.feature_log_prob_.T + self.log_prior_
        probs = np.exp(joint - joint.max(axis=1, keepdims=True))
        return probs / probs.sum(axis=1, keepdims=True)

    def _save_weights(self, directory: Path) -> list[str]:
        # json writes floats with repr(), so a save -> load round trip is exact.
        doc = {"log_prior": self.log_prior_.tolist(), "feature_log_prob": self.feature_log_prob_.tolist()}
        (directory / MODEL_FILE).write_text(json.dumps(doc))
        return [MODEL_FILE]

    def _load_weights(self, directory: Path, config: dict) -> None:
        doc = json.loads((directory / MODEL_FILE).read_text())  # checksum already verified by the base
        log_prior = np.asarray(doc["log_prior"], dtype=np.float64)
        table = np.asarray(doc["feature_log_prob"], dtype=np.float64)
        want = (int(self.classes_.max()) + 1, 4 ** self.params["k"])
        if log_prior.shape != want[:1] or table.shape != want:
            raise ValueError(f"tables have shapes {log_prior.shape} and {table.shape}, want {want}")
        if not (np.all(np.isfinite(log_prior)) and np.all(np.isfinite(table))):
            raise ValueError("tables hold non-finite values")
        self.log_prior_, self.feature_log_prob_ = log_prior, table
