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

from motifprobe.engine.params import Param, declared_params, resolve
from motifprobe.engine.ops import fill_background, interval_mask, n_mask, place_windows, sham_windows
from motifprobe.engine.sites import chosen_instances

LOSS_EPS = 1e-7
"""Probabilities are clipped to [LOSS_EPS, 1] before the log: float32 models can return 0."""
LOGIT_EPS = 1e-300
"""Log-odds in prediction mode clip class shares here: the float32 tail of a logit model is kept."""


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
    pwms : dict
        For insertion tests (:mod:`motifprobe.engine.insertion`): each tested motif's PWM.
    """

    __test__ = False  # not a pytest test class, despite the name

    codes: np.ndarray
    labels: np.ndarray
    motifs: tuple[str, ...]
    sites: pd.DataFrame
    background: np.ndarray
    num_perturbs: int
    _bounds: dict = field(default_factory=dict, repr=False)
    _masks: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    pwms: dict = field(default_factory=dict, repr=False)
    """``{motif: PWM (len, 4)}`` of the motifs under test, for insertion tests (empty otherwise)."""

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def bounds(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) of the chosen instance of ``name`` in each row (-1 if none):
        the highest-scoring where sites carry scores, else the leftmost (see
        :mod:`motifprobe.engine.sites`). Pair tests (order, distance) act on these."""
        if name not in self._bounds:
            self._bounds[name] = chosen_instances(self.sites, name, len(self))
        return self._bounds[name]

    def instances(self, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
        """Every recorded site of the named motifs (``seq`` indexes rows of ``codes``)."""
        return self.sites[self.sites["name"].isin(list(names))]

    def _mask(self, key: tuple, build) -> np.ndarray:
        """A copy of the mask ``build()`` made once per batch (the perturbation, the controls and
        the sham of a chunk ask for the same ones); a copy, so a caller may change its own."""
        if key not in self._masks:
            self._masks[key] = build()
        return self._masks[key].copy()

    def instance_mask(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """(n, L) mask of every instance of the named motifs."""
        def build() -> np.ndarray:
            rows = self.sites[self.sites["name"].isin(list(names))]
            return interval_mask(len(self), self.codes.shape[1], rows["seq"].to_numpy(),
                                 rows["start"].to_numpy(), rows["end"].to_numpy())

        return self._mask(("instances", frozenset(names)), build)

    def blocked(self, exclude: tuple[str, ...] = (), *, keep_chosen: tuple[str, ...] = ()) -> np.ndarray:
        """(n, L) mask of positions a new window must avoid: every recorded site except those of
        the ``exclude`` motifs, and every N (unknown bases and the padding of shorter sequences).

        ``keep_chosen`` names motifs whose *chosen* instance (:meth:`bounds`) is left free while
        their other instances stay blocked (a pair test moving the chosen pair).
        """
        def build() -> np.ndarray:
            rows = self.sites[~self.sites["name"].isin(list(exclude))]
            mask = interval_mask(len(self), self.codes.shape[1], rows["seq"].to_numpy(),
                                 rows["start"].to_numpy(), rows["end"].to_numpy())
            if keep_chosen:
                mask = self.instance_mask(keep_chosen) & ~self.chosen_mask(keep_chosen) | mask
            return mask | n_mask(self.codes)

        return self._mask(("blocked", frozenset(exclude), frozenset(keep_chosen)), build)

    def chosen_mask(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """(n, L) mask of the chosen instance (:meth:`bounds`) of each named motif."""
        mask = np.zeros(self.codes.shape, dtype=bool)
        for name in names:
            start, end = self.bounds(name)
            has = np.flatnonzero(start >= 0)
            mask |= interval_mask(len(self), self.codes.shape[1], has, start[has], end[has])
        return mask

    def motif_lengths(self) -> np.ndarray:
        """Per row, how many bases the tested motifs' instances cover (all instances: what
        ``presence`` replaces; one instance of each for a pair), the sham window's length."""
        return self.instance_mask(self.motifs).sum(axis=1).astype(np.int64)


class Scorer:
    """Turns model outputs into the per-sequence quantity whose change is the delta.

    ``mode='loss'``: cross-entropy of the true label, in float64 (nats); needs labels and
    probabilities (``kind`` ``prob`` or ``logit``).
    ``mode='prediction'``: the chosen output, on the model's own scale: P(class 1) for
    ``kind='prob'``; the log-odds of class 1, ``log p1 - log(sum of the other classes)``, for
    ``kind='logit'`` (the logit itself for a one-column logit model); the raw value for
    ``kind='value'`` (outputs (..., 1)). Works without labels.
    """

    KINDS = ("prob", "logit", "value")
    UNITS = {("loss", "prob"): "nats", ("loss", "logit"): "nats", ("prediction", "prob"): "P(class 1)",
             ("prediction", "logit"): "logit (log-odds of class 1)", ("prediction", "value"): "raw output"}

    def __init__(self, mode: str = "loss", kind: str = "prob"):
        from motifprobe.engine.errors import MotifprobeError

        if kind not in self.KINDS:
            raise MotifprobeError(f"unknown output kind {kind!r}; allowed: {', '.join(self.KINDS)}")
        if mode == "loss" and kind == "value":
            raise MotifprobeError("loss mode needs probabilities, and this model gives a regression output "
                                  "(--output regression): use --mode prediction")
        self.mode, self.kind = mode, kind

    @property
    def unit(self) -> str:
        """What a delta is measured in (for tables and metadata)."""
        return self.UNITS.get((self.mode, self.kind), self.mode)

    def score(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Score ``probs`` (..., C) against ``labels`` broadcastable to ``probs.shape[:-1]``."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.mode == "prediction":
            if self.kind == "value":
                return probs[..., 0]
            if self.kind == "logit":  # the other classes summed, not 1 - p1: keeps the tail of a saturated logit
                rest = probs.sum(axis=-1) - probs[..., 1] if probs.shape[-1] > 2 else probs[..., 0]
                return np.log(np.clip(probs[..., 1], LOGIT_EPS, 1.0)) - np.log(np.clip(rest, LOGIT_EPS, 1.0))
            return probs[..., 1]
        labels = np.broadcast_to(labels, probs.shape[:-1])
        picked = np.take_along_axis(probs, labels[..., None].astype(np.int64), axis=-1)[..., 0]
        return -np.log(np.clip(picked, LOSS_EPS, 1.0))

    def additive(self, original: np.ndarray, arm_a: np.ndarray, arm_b: np.ndarray) -> np.ndarray:
        """The additive expectation of two perturbations, in the space the arms are in.

        Probabilities (``prob``, ``logit``): ``softmax(log a + log b - log original)`` (additive
        in log-probability space); values: ``a + b - original``. ``original`` is (n, C), the
        arms (n, K, C).
        """
        orig = np.asarray(original, dtype=np.float64)[:, None, :]
        if self.kind == "value":
            return np.asarray(arm_a, dtype=np.float64) + np.asarray(arm_b, dtype=np.float64) - orig

        def logp(p):
            return np.log(np.clip(np.asarray(p, dtype=np.float64), LOSS_EPS, 1.0))

        additive = logp(arm_a) + logp(arm_b) - logp(orig)
        additive -= additive.max(axis=-1, keepdims=True)
        expected = np.exp(additive)
        return expected / expected.sum(axis=-1, keepdims=True)


def score_change(perturbed: np.ndarray, original: np.ndarray, labels: np.ndarray, scorer: Scorer) -> np.ndarray:
    """Per-perturbation delta (n, K): score of ``perturbed`` (n, K, C) minus score of ``original`` (n, C)."""
    return scorer.score(perturbed, labels[:, None]) - scorer.score(original, labels)[:, None]


SHAM = "sham"
"""Name of the engine's default control arm."""
DELTA = "delta"
"""In a :class:`Check`, the test's own (combined) per-perturbation delta."""


@dataclass(frozen=True)
class Check:
    """An alternative explanation a test's call must survive.

    A call of the test (against its :attr:`PerturbationTest.control`) stands only if ``arm``
    also differs from ``against`` in the subset where the call was made, with the same sign and
    at least ``min_effect`` (q below alpha over every check of the run); otherwise the verdict
    is ``status``. ``arm``/``against`` name arms of :meth:`PerturbationTest.perturb` or
    :meth:`PerturbationTest.controls`, ``"sham"``, or ``"delta"`` (the test's own delta).

    Examples: ``presence`` checks that its motif shuffled in place (composition kept) still
    matters against the sham, else ``composition``; ``distance`` checks that moving the pair
    apart matters beyond moving it as a block (gap kept), else ``position``.
    """

    arm: str
    against: str
    status: str
    description: str = ""

    def to_list(self) -> list[str]:
        return [self.arm, self.against, self.status]


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
    control: ClassVar[str] = SHAM
    """The matched control the verdict reads the test against: ``"sham"`` (the engine's: a random
    motif-free window as long as the motifs' instances redrawn from the background, shared by
    every test on the same motifs) or the name of an arm :meth:`controls` returns."""
    checks: ClassVar[tuple["Check", ...]] = ()
    """Alternative explanations the verdict rules out (see :class:`Check`)."""

    def __init__(self, **params: Any) -> None:
        name = getattr(type(self), "name", None) or type(self).__name__
        self.params = resolve(declared_params(type(self)), params, f"perturbation test {name!r}")

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Return ``{arm: uint8 codes (n, K, L)}``; K = ``batch.num_perturbs`` (1 if deterministic)."""
        raise NotImplementedError

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Matched control arms ``{name: uint8 codes (n, K, L)}`` besides the engine's sham
        (default: none). They are scored like the test's arms; :attr:`control` and
        :attr:`checks` name them. Draws come from their own keyed streams."""
        return {}

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
    fill_background(out, windows, rng, batch.background)
    return out


class ProbabilityScale(Scorer):
    """The comparable scale of the verdicts: probability, whatever the model's confidence.

    ``mode='loss'``: minus the probability of the true class, so that a delta is the *drop* in
    that probability (positive when the perturbation hurts, like a loss delta).
    ``mode='prediction'``: P(class 1), so that a delta is its change.
    Only for models that give probabilities (not a regression output).
    """

    def __init__(self, mode: str = "loss"):
        super().__init__(mode)

    def score(self, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        if self.mode == "prediction":
            return probs[..., 1]
        labels = np.broadcast_to(labels, probs.shape[:-1])
        return -np.take_along_axis(probs, labels[..., None].astype(np.int64), axis=-1)[..., 0]


def probability_scale(scorer: Scorer) -> ProbabilityScale | None:
    """The comparable-scale scorer for ``scorer``'s mode, or None when the model gives no
    probabilities (output kind ``value``)."""
    if getattr(scorer, "kind", "prob") == "value":
        return None
    return ProbabilityScale(scorer.mode)
