"""The perturbation-test contract.

A test plugin builds perturbed sequences; the engine does the batching, the scoring and the
statistics, so every test gets the same speed and the same rigour. A test receives a
:class:`TestBatch` (the sequences under test, their labels and motif sites) and an RNG, and
returns named *arms*: arrays of perturbed codes (n, K, L). By default the per-perturbation
delta is ``score(primary arm) - score(original)``; a test may override :meth:`deltas` to
combine several arms (``interaction`` does).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import first_site_bounds
from motifprobe.engine.params import Param, declared_params, resolve
from motifprobe.engine.ops import background_at, interval_mask, place_windows, sham_windows

LOSS_EPS = 1e-7
"""Probabilities are clipped to [LOSS_EPS, 1] before the log: float32 models can return 0."""


@dataclass
class TestBatch:
    """The sequences a test perturbs, all containing the test's motifs.

    Attributes
    ----------
    codes : numpy.ndarray, uint8 (n, L)
    labels : numpy.ndarray, int64 (n,); -1 where unlabeled
    motifs : tuple of str
        The motifs under test (the test's ``n_motifs`` names).
    sites : pandas.DataFrame
        Every recorded site of these sequences (``seq`` indexes rows of ``codes``).
    background : numpy.ndarray, (4,)
        A/C/G/T distribution for replacement bases.
    num_perturbs : int
        K, perturbations per sequence for a stochastic test.
    """

    __test__ = False  # not a pytest test class, despite the name

    codes: np.ndarray
    labels: np.ndarray
    motifs: tuple[str, ...]
    sites: pd.DataFrame
    background: np.ndarray
    num_perturbs: int
    _bounds: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def bounds(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of the first instance of ``name`` in each row (-1 if none)."""
        if name not in self._bounds:
            self._bounds[name] = first_site_bounds(self.sites, name, len(self))
        return self._bounds[name]

    def instances(self, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
        """Every recorded site of the named motifs (``seq`` indexes rows of ``codes``)."""
        return self.sites[self.sites["name"].isin(list(names))]

    def instance_mask(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """(n, L) mask of every instance of the named motifs."""
        rows = self.sites[self.sites["name"].isin(list(names))]
        return interval_mask(len(self), self.codes.shape[1], rows["seq"].to_numpy(),
                             rows["start"].to_numpy(), rows["end"].to_numpy())

    def blocked(self, exclude: tuple[str, ...] = ()) -> np.ndarray:
        """(n, L) mask of positions covered by any recorded site except the ``exclude`` motifs."""
        rows = self.sites[~self.sites["name"].isin(list(exclude))]
        return interval_mask(len(self), self.codes.shape[1], rows["seq"].to_numpy(),
                             rows["start"].to_numpy(), rows["end"].to_numpy())

    def motif_lengths(self) -> np.ndarray:
        """Per row, the summed length of the tested motifs' first instances."""
        total = np.zeros(len(self), dtype=np.int64)
        for name in self.motifs:
            start, end = self.bounds(name)
            total += end - start
        return total


class Scorer:
    """Turns probabilities into the per-sequence quantity whose change is the delta.

    ``mode='loss'``: cross-entropy of the true label, in float64 (nats).
    ``mode='prediction'``: probability of class 1 (for sequences without labels).
    """

    def __init__(self, mode: str = "loss"):
        self.mode = mode

    def score(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Score ``probs`` (..., C) against ``labels`` broadcastable to ``probs.shape[:-1]``."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.mode == "prediction":
            return probs[..., 1]
        labels = np.broadcast_to(labels, probs.shape[:-1])
        picked = np.take_along_axis(probs, labels[..., None].astype(np.int64), axis=-1)[..., 0]
        return -np.log(np.clip(picked, LOSS_EPS, 1.0))


def score_change(perturbed: np.ndarray, original: np.ndarray, labels: np.ndarray, scorer: Scorer) -> np.ndarray:
    """Per-perturbation delta (n, K): score of ``perturbed`` (n, K, C) minus score of ``original`` (n, C)."""
    return scorer.score(perturbed, labels[:, None]) - scorer.score(original, labels)[:, None]


class PerturbationTest:
    """Base class for perturbation-test plugins (subclassing is optional).

    ``factory(**params)`` builds a test with its declared ``parameters`` (already checked by
    the engine; the values land in ``self.params``).

    Attributes
    ----------
    n_motifs : int
        How many motifs one run perturbs: the test runs once per combination of that many of
        the motifs under test (1: per motif, 2: per pair, ...).
    feature : str
        What it probes, from :data:`motifprobe.engine.features.FEATURES` (or ``"control"``):
        the scorecard asks the planted rule what to expect for this feature.
    parameters : tuple of Param
        Declared parameters (``--test-param TEST:KEY=VALUE``).
    deterministic : bool
        True when every perturbation of a sequence is the same: the engine then asks for one.
    primary_arm : str
        The arm whose predictions count for the flip rate and the default delta.
    description : str
        One line for tables and reports.
    """

    n_motifs: ClassVar[int] = 1
    feature: ClassVar[str | None] = None
    parameters: ClassVar[tuple[Param, ...]] = ()
    deterministic: ClassVar[bool] = False
    primary_arm: ClassVar[str] = "perturbed"
    description: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        name = getattr(type(self), "name", None) or type(self).__name__
        self.params = resolve(declared_params(type(self)), params, f"perturbation test {name!r}")

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Return ``{arm: uint8 codes (n, K, L)}``; K = ``batch.num_perturbs`` (1 if deterministic)."""
        raise NotImplementedError

    def deltas(self, arms: dict[str, np.ndarray], original: np.ndarray, batch: TestBatch,
               scorer: Scorer) -> np.ndarray:
        """Per-perturbation deltas (n, K), float64: perturbed score minus original score.

        ``arms`` maps arm names to float64 probabilities (n, K, C); ``original`` is (n, C).
        """
        return score_change(arms[self.primary_arm], original, batch.labels, scorer)


def sham_perturb(batch: TestBatch, rng: np.random.Generator) -> np.ndarray:
    """Replace a random motif-free window, as long as the tested motifs, with background bases.

    For a pair of motifs the window is as long as both together. Each of the K perturbations
    draws its own window and bases; rows where no motif-free window fits stay unchanged.

    Returns
    -------
    numpy.ndarray
        uint8 (n, K, L).
    """
    lengths = batch.motif_lengths()
    starts = sham_windows(batch.blocked(), lengths, batch.num_perturbs, rng)
    windows = place_windows(batch.codes, starts, lengths)
    out = np.repeat(batch.codes[:, None, :], batch.num_perturbs, axis=1)
    out[windows] = background_at(rng, windows, batch.background)
    return out
