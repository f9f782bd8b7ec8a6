"""Toy models with known behaviour, for testing interpretation (no training needed)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from motifprobe.engine.kmers import kmer_counts
from motifprobe.engine.motif_library import load_encode_motifs


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class PwmScanner:
    """Best log-odds PWM hit per sequence and its position."""

    def __init__(self, name: str):
        pwm = load_encode_motifs()[name].pwm
        self.log_odds = np.log(pwm / 0.25)
        self.width = pwm.shape[0]
        self.threshold = 0.6 * self.log_odds.max(axis=1).sum()

    def scan(self, codes):
        win = sliding_window_view(codes, self.width, axis=1)  # (n, P, w)
        scores = self.log_odds[np.arange(self.width), win].sum(axis=-1)
        return scores.max(axis=1), scores.argmax(axis=1)


class PresenceModel:
    """P(1) rises with the best hit of one motif: relies on that motif only."""

    def __init__(self, name: str):
        self.scanner = PwmScanner(name)

    def predict_proba(self, codes):
        best, _ = self.scanner.scan(codes)
        p = _sigmoid(1.5 * (best - self.scanner.threshold))
        return np.stack([1 - p, p], axis=1)


class OrderModel:
    """P(1) high iff motif a's best hit lies upstream of motif b's, both present."""

    def __init__(self, a: str, b: str):
        self.a, self.b = PwmScanner(a), PwmScanner(b)

    def predict_proba(self, codes):
        sa, pa = self.a.scan(codes)
        sb, pb = self.b.scan(codes)
        both = (sa > self.a.threshold) & (sb > self.b.threshold)
        p = np.where(both & (pa < pb), 0.9, 0.1)
        return np.stack([1 - p, p], axis=1)


class KmerLinearModel:
    """Logistic model on k-mer counts in float64: order-blind and exactly additive in logit space."""

    def __init__(self, motifs: list[str], k: int = 4, weight: float = 0.15):
        self.k = k
        self.w = np.zeros(4**k)
        for name in motifs:
            consensus = load_encode_motifs()[name].pwm.argmax(axis=1)
            counts = kmer_counts(consensus[None, :].astype(np.uint8), k, dtype=np.float64)[0]
            self.w += weight * counts
        self.bias = -1.5

    def logit(self, codes):
        return kmer_counts(codes, self.k, dtype=np.float64) @ self.w + self.bias

    def predict_proba(self, codes):
        p = _sigmoid(self.logit(codes))
        return np.stack([1 - p, p], axis=1)


class RandomConvModel:
    """An untrained CNN: random filters, max pool, random readout. Learned nothing."""

    def __init__(self, seed: int = 0, n_filters: int = 8, width: int = 10):
        rng = np.random.default_rng(seed)
        self.filters = rng.normal(0, 0.3, size=(n_filters, width, 4))
        self.readout = rng.normal(0, 0.3, size=n_filters)
        self.width = width

    def predict_proba(self, codes):
        onehot = np.eye(4)[codes]  # (n, L, 4)
        win = sliding_window_view(onehot, self.width, axis=1)  # (n, P, 4, w)
        acts = np.einsum("npcw,fwc->npf", win, self.filters, optimize=True).max(axis=1)
        p = _sigmoid(np.maximum(acts, 0) @ self.readout - 0.5)
        return np.stack([1 - p, p], axis=1)


class LogicModel:
    """P(1) from the best PWM hit of each motif, combined with AND or OR (exactly, no training).

    ``both_strands`` also scans the reverse complement, as a model of double-stranded DNA would.
    """

    def __init__(self, names: list[str], op: str = "and", both_strands: bool = False, slope: float = 1.5):
        self.scanners = [PwmScanner(n) for n in names]
        self.op, self.both_strands, self.slope = op, both_strands, slope

    def _hit(self, scanner, codes):
        best, _ = scanner.scan(codes)
        if self.both_strands:
            best = np.maximum(best, scanner.scan((3 - codes)[:, ::-1])[0])
        return _sigmoid(self.slope * (best - scanner.threshold))

    def predict_proba(self, codes):
        hits = np.stack([self._hit(s, codes) for s in self.scanners])
        p = hits.prod(axis=0) if self.op == "and" else 1 - (1 - hits).prod(axis=0)
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.stack([1 - p, p], axis=1)
