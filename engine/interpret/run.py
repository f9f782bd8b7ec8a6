"""Run: one plan unit on its sequences through one model -> per-sequence deltas. No statistics.

``run_unit`` is a pure function of (unit, rows, model, seed): every perturbation is drawn from
streams keyed by (seed, test, motif set, sequence id), so a sequence's perturbed copies and
deltas are the same in any subset, chunk size, order or process. What crosses a plugin
boundary is checked here, cheaply, every time: model outputs (shape, finite, in [0, 1], rows
summing to 1) and test arms (declared, uint8, (n, K, L), codes in the alphabet, something
changed). A violation, or an exception raised in plugin code, becomes :class:`ModelFault` or
:class:`TestFault`: one line naming the plugin and what was wrong.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError, TestFault, fault
from motifprobe.engine.interpret.plan import Unit, make_test
from motifprobe.engine.models import as_probabilities, output_kind
from motifprobe.engine.perturbation import SHAM, Scorer, TestBatch, probability_scale, score_change, sham_perturb
from motifprobe.engine.registry import Registry
from motifprobe.engine.streams import RowStreams, context_key, row_keys

CHUNK_BYTES = 24 * 2**20
"""Perturbed codes built at once per chunk (all arms): bounds memory for any N (two chunks live at once)."""
CHUNK_SEQS = 2048
"""At most this many sequences per chunk: small enough that the next chunk's perturbations are
built in a worker thread while the model scores this one (see :func:`prefetched`)."""
PREDICT_BLOCK = 8192
"""Sequences handed to ``predict_proba`` per call; the model sub-batches internally."""

Progress = Callable[[int], None]


@dataclass
class UnitDeltas:
    """Per-sequence results of one unit on one model (arrays aligned with the unit's ids)."""

    delta: np.ndarray
    control_delta: np.ndarray
    flip_rate: np.ndarray
    control_flip_rate: np.ndarray
    arm_deltas: dict[str, np.ndarray] = field(default_factory=dict)
    prob_effect: np.ndarray | None = None
    """``delta`` on the probability scale (:class:`~motifprobe.engine.perturbation.ProbabilityScale`);
    NaN for a model without probabilities."""
    control_prob_effect: np.ndarray | None = None
    arm_probs: dict[str, np.ndarray] = field(default_factory=dict)
    """Per arm (test arms, control arms and ``sham``), the delta on the probability scale."""
    sham: "ControlDeltas | None" = None
    """The engine's sham on these rows (given by the caller or drawn here), for the other tests on
    the same motifs to share; None for a test read against its own control."""


class ControlDeltas(NamedTuple):
    """Per-sequence results of a unit's control (the sham) on one model."""

    delta: np.ndarray
    flip_rate: np.ndarray
    prob_effect: np.ndarray

    @classmethod
    def of(cls, sham: tuple, n: int) -> "ControlDeltas":
        """A :func:`run_sham` result, or a plain (delta, flip_rate[, prob_effect]) tuple."""
        return cls(sham[0], sham[1], sham[2] if len(sham) > 2 else np.full(n, np.nan))

    @classmethod
    def empty(cls, n: int) -> "ControlDeltas":
        """Arrays for n sequences, to be filled chunk by chunk (:meth:`fill`)."""
        return cls(np.zeros(n), np.zeros(n), np.full(n, np.nan))

    def fill(self, idx: np.ndarray, probs: np.ndarray, original: np.ndarray, labels: np.ndarray,
             scorer: Scorer) -> None:
        """Write one chunk's sham results from its outputs ``probs`` (n, K, C) at rows ``idx``."""
        self.delta[idx] = score_change(probs, original, labels, scorer).mean(axis=1)
        prob_scorer = probability_scale(scorer)
        if prob_scorer is not None:
            self.prob_effect[idx] = score_change(probs, original, labels, prob_scorer).mean(axis=1)
        self.flip_rate[idx] = flip_rate(probs, original)


def predict(model: Any, codes: np.ndarray, block: int = PREDICT_BLOCK, who: str = "the model") -> np.ndarray:
    """The model's outputs as float64, in blocks of ``block`` sequences, each block checked.

    Models of output kind ``prob`` or ``logit`` (see :func:`motifprobe.engine.models.output_kind`)
    give class probabilities (n, C) through ``predict_proba``; kind ``value`` gives one finite
    raw value per sequence through ``predict_values``, returned as (n, 1).

    Raises
    ------
    ModelFault
        The model raised, or returned something other than its declared output for n sequences.
    """
    kind = output_kind(model)
    out = []
    for lo in range(0, len(codes), block):
        chunk = codes[lo:lo + block]
        try:
            raw = model.predict_values(chunk) if kind == "value" else model.predict_proba(chunk)
        except Exception as exc:  # noqa: BLE001 - the boundary: anything the model does is reported
            raise fault(ModelFault, who, exc) from None
        try:  # the output contract for any model
            if kind == "value":
                values = _as_values(raw, len(chunk), who)
            else:  # n rows, finite, in [0, 1], rows summing to 1
                values = np.asarray(as_probabilities(raw, len(chunk), owner=who), dtype=np.float64)
        except MotifprobeError as exc:
            raise ModelFault(str(exc)) from None
        out.append(values)
    return np.concatenate(out) if out else np.zeros((0, 1 if kind == "value" else 2))


def _as_values(raw: Any, n: int, who: str) -> np.ndarray:
    """A regression output: finite float64 (n,) or (n, 1), returned as (n, 1)."""
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotifprobeError(f"{who}: predict_values returned {type(raw).__name__}, not an array of numbers") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (n,):
        raise MotifprobeError(f"{who}: predict_values returned shape {np.shape(raw)} for {n} sequences; expected ({n},)")
    bad = ~np.isfinite(values)
    if bad.any():
        raise MotifprobeError(f"{who}: predict_values returned NaN or infinite values ({int(bad.sum())} of {n})")
    return values[:, None]


def flip_rate(probs: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Per sequence, the share of perturbations (n, K, C) whose predicted class differs from the original.

    For probabilities, the class is the argmax (for a one-logit model: the sign of the logit).
    A regression output (C = 1) has no class: the flip rate is NaN.
    """
    if probs.shape[-1] < 2:
        return np.full(probs.shape[0], np.nan)
    return (probs.argmax(-1) != original.argmax(-1)[:, None]).mean(axis=1)


_END = object()
"""The end of a :func:`prefetched` input."""


def prefetched(make: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """``make(item)`` for each item in order, the next one made in a worker thread while the caller
    works on the current one: perturbation (numpy) overlaps the model's forward passes (which
    release the GIL). An exception from ``make`` is raised here, at its item."""
    items = iter(items)
    with ThreadPoolExecutor(1, thread_name_prefix="motifprobe-prefetch") as pool:
        first = next(items, _END)
        pending = pool.submit(make, first) if first is not _END else None
        while pending is not None:
            nxt = next(items, _END)
            following = pool.submit(make, nxt) if nxt is not _END else None
            try:
                yield pending.result()
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            pending = following


PIPELINE_CHUNKS = 4
"""A unit is cut into at least this many chunks (of at least :data:`PIPELINE_MIN_SEQS`)."""
PIPELINE_MIN_SEQS = 256


def _chunks(n: int, per_seq_bytes: int):
    """Row ranges of at most :data:`CHUNK_SEQS` rows and :data:`CHUNK_BYTES` of arms each. The
    first two are a quarter and a half of the others: the model waits while the first chunk's
    arms are drawn, and after it the drawing runs ahead of the model."""
    pipelined = max(PIPELINE_MIN_SEQS, -(-n // PIPELINE_CHUNKS))
    step = max(1, min(CHUNK_SEQS, CHUNK_BYTES // max(1, per_seq_bytes), pipelined))
    lo = 0
    for size in (max(1, step // 4), max(1, step // 2)):
        if lo < n:
            yield np.arange(lo, min(n, lo + size))
            lo += size
    for lo in range(lo, n, step):
        yield np.arange(lo, min(n, lo + step))


def _score_arms(model, arms: dict[str, np.ndarray], block: int, who: str) -> dict[str, np.ndarray]:
    scored = {}
    for name, arr in arms.items():
        n, k, length = arr.shape
        scored[name] = predict(model, arr.reshape(n * k, length), block, who).reshape(n, k, -1)
    return scored


def _score_together(model, arms: dict[str, np.ndarray], controls: dict[str, np.ndarray], block: int,
                    who: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """:func:`_score_arms` of the arms and the controls in one stacked ``predict`` call."""
    names = [*arms, *controls]
    every = {**arms, **controls}
    if not names:
        return {}, {}
    n, k, length = every[names[0]].shape
    stacked = np.concatenate([every[name].reshape(n * k, length) for name in names])
    scored = predict(model, stacked, block, who).reshape(len(names), n, k, -1)
    out = dict(zip(names, scored))
    return {a: out[a] for a in arms}, {c: out[c] for c in controls}


def check_arms(arms: Any, batch: TestBatch, k: int, primary: str | None, who: str) -> dict[str, np.ndarray]:
    """The test-arm contract: a dict of uint8 (n, K, L) arrays over the alphabet, the primary
    arm among them and changing at least one base of the batch (``primary`` None: control arms,
    which may be empty and need not change anything)."""
    if primary is None and isinstance(arms, dict) and not arms:
        return arms
    if not isinstance(arms, dict) or not arms:
        raise TestFault(f"{who} returned {type(arms).__name__}, not a non-empty dict of arms")
    n, length = batch.codes.shape
    top = max(3, int(batch.codes.max()) if batch.codes.size else 3)
    for name, arr in arms.items():
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != (n, k, length):
            shape = getattr(arr, "shape", None)
            raise TestFault(f"{who} arm {name!r} is {getattr(arr, 'dtype', type(arr).__name__)} {shape}; "
                            f"allowed: uint8 of shape ({n}, {k}, {length})")
        if arr.size and int(arr.max()) > top:
            raise TestFault(f"{who} arm {name!r} holds code {int(arr.max())}; allowed: codes 0..{top}")
    if primary is None:
        return arms
    if primary not in arms:
        raise TestFault(f"{who} returned arms {', '.join(map(str, arms))} without its primary arm {primary!r}")
    if n and not np.any(arms[primary] != batch.codes[:, None, :]):
        raise TestFault(f"{who} perturbed nothing: its arm {primary!r} equals the original sequences")
    return arms


def draw_arms(test: Any, unit: Unit, batch: TestBatch, ids: Any, seed: int) -> tuple[dict, dict]:
    """``(arms, controls)`` of ``test`` for ``batch`` (rows ``ids``), each drawn from the unit's own
    keyed stream: exactly what :func:`run_unit` scores, and what the audit rebuilds without a model.
    Exceptions are the test plugin's (the caller turns them into a fault)."""
    arms = test.perturb(batch, RowStreams(row_keys(context_key("test", seed, unit.test, *unit.motifs), ids)))
    make_controls = getattr(test, "controls", None)
    controls = make_controls(batch, RowStreams(row_keys(context_key("control", seed, unit.test, *unit.motifs),
                                                        ids))) if make_controls else {}
    return arms, controls


def draw_sham(unit: Unit, batch: TestBatch, ids: Any, seed: int) -> np.ndarray:
    """The engine's sham arm (n, K, L) for ``batch`` (rows ``ids``), keyed by the unit's motifs:
    shared by every test on the same motifs."""
    return sham_perturb(batch, RowStreams(row_keys(context_key("sham", seed, *unit.motifs), ids)))


def run_sham(unit: Unit, rows: Dataset, model: Any, *, seed: int, scorer: Scorer, background: np.ndarray,
             original: np.ndarray, k: int, batch_size: int = PREDICT_BLOCK, who: str = "the model",
             progress: Progress | None = None) -> ControlDeltas:
    """Per-sequence sham deltas, flip rates and probability-scale deltas: a motif-free window as
    long as the unit's motifs' instances, redrawn from the background (K draws per sequence,
    keyed like every other draw)."""
    sham = ControlDeltas.empty(len(rows))

    def make(idx: np.ndarray) -> tuple[np.ndarray, Dataset, np.ndarray]:
        sub = rows.subset(idx)
        batch = TestBatch(sub.codes, sub.labels, unit.motifs, sub.sites, background, k)
        return idx, sub, draw_sham(unit, batch, sub.ids, seed)

    for idx, sub, perturbed in prefetched(make, _chunks(len(rows), k * rows.seq_length)):
        sham.fill(idx, _score_arms(model, {"sham": perturbed}, batch_size, who)["sham"], original[idx], sub.labels,
                  scorer)
        if progress is not None:
            progress(len(idx))
    return sham


def _primary_change(primary: str, arms: dict[str, np.ndarray], original: np.ndarray, batch: TestBatch,
                    scorer: Scorer) -> np.ndarray:
    """The default per-perturbation delta, for a test without ``deltas()``: its primary arm's change."""
    return score_change(arms[primary], original, batch.labels, scorer)


def _insertion_setup(test: Any, tester: str, unit: Unit, rows: Dataset, model: Any, *, seed: int, scorer: Scorer,
                     background: np.ndarray, batch_size: int, who: str):
    """An insertion test's inputs: the backgrounds drawn from ``rows``, the model's outputs on them
    (the reference), a prediction-mode scorer (labels play no part), the motifs' PWMs, and how many
    arms one background costs (for the chunk size)."""
    from motifprobe.engine.insertion import background_dataset, motif_pwms

    pwms = motif_pwms(rows.metadata, unit.motifs)
    try:
        test.prepare(rows.seq_length, unit.motifs, pwms)
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary
        raise fault(TestFault, tester, exc) from None
    backgrounds = background_dataset(unit, rows, seed, background)
    original = predict(model, backgrounds.codes, batch_size, who)
    width = len(getattr(test, "_points", ())) + len(getattr(test, "_controls", {})) + 1
    return backgrounds, original, Scorer("prediction", scorer.kind), pwms, width


def run_unit(unit: Unit, rows: Dataset, model: Any, *, seed: int, scorer: Scorer, background: np.ndarray,
             original: np.ndarray, registry: Registry, batch_size: int = PREDICT_BLOCK, who: str = "the model",
             sham: ControlDeltas | None = None, progress: Progress | None = None) -> UnitDeltas:
    """Run ``unit`` on ``rows`` (exactly the unit's ids, in order) through ``model``.

    ``original`` holds the model's probabilities (n, C) for ``rows``; ``sham`` a precomputed
    :func:`run_sham` result for the same rows (else it is computed here).

    Raises
    ------
    TestFault, ModelFault
    """
    if len(rows.ids) != len(unit.ids) or not np.array_equal(rows.ids, np.asarray(unit.ids, dtype=object)):
        raise ValueError("rows must be exactly the unit's ids, in order")
    entry = registry.get("perturbation_test", unit.test)
    tester = f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution})"
    test = make_test(registry, unit.test, unit.params)
    pwms: dict = {}
    width = 3
    if getattr(test, "insertion", False):  # the rows become backgrounds, and the reference is their score
        sham = None  # a sham of the same motifs' site tests belongs to other rows (the caller shares by motifs)
        rows, original, scorer, pwms, width = _insertion_setup(test, tester, unit, rows, model, seed=seed,
                                                               scorer=scorer, background=background,
                                                               batch_size=batch_size, who=who)
    primary = getattr(test, "primary_arm", "perturbed")
    k = unit.num_perturbs
    # The sham, when the caller has none for these motifs, is drawn and scored with each chunk's
    # arms (one pass, one stacked call); a test read against its own control spends nothing on one.
    own_sham = sham is None and unit.needs_sham
    control_name = getattr(test, "control", SHAM) or SHAM
    n = len(rows)
    delta, flips, prob, control_flips = np.zeros(n), np.zeros(n), np.full(n, np.nan), np.zeros(n)
    prob_scorer = probability_scale(scorer)
    arm_deltas: dict[str, np.ndarray] = {}
    arm_probs: dict[str, np.ndarray] = {}
    combine = getattr(test, "deltas", None) or partial(_primary_change, primary)
    if own_sham:
        drawn_sham = ControlDeltas.empty(n)

    def make(idx: np.ndarray) -> tuple:
        """One chunk's checked arms and controls (runs in the prefetch thread)."""
        sub = rows.subset(idx)
        batch = TestBatch(sub.codes, sub.labels, unit.motifs, sub.sites, background, k, pwms=pwms)
        try:
            arms, controls = draw_arms(test, unit, batch, sub.ids, seed)
        except Exception as exc:  # noqa: BLE001 - the boundary
            raise fault(TestFault, tester, exc) from None
        arms = check_arms(arms, batch, k, primary, tester)
        controls = check_arms(controls, batch, k, None, f"{tester} controls()")
        clash = sorted(set(arms) & set(controls) | ({SHAM} & set(controls)))
        if clash:
            raise TestFault(f"{tester} uses the arm name(s) {', '.join(clash)} twice; control arms need their own names")
        if own_sham:
            controls = {**controls, SHAM: draw_sham(unit, batch, sub.ids, seed)}
        return idx, sub, batch, arms, controls

    def score(chunk: tuple) -> tuple:
        """Every arm of the chunk in one stacked call (in the scoring thread): full batches, and the
        model's streams wait for each other once per chunk instead of once per arm."""
        idx, sub, batch, arms, controls = chunk
        return (idx, sub, batch, *_score_together(model, arms, controls, batch_size, who))

    # Three stages at once: the arms of chunk i+2 are drawn, chunk i+1 is scored, chunk i combined here.
    chunks = _chunks(n, k * rows.seq_length * (width + own_sham))
    for idx, sub, batch, probs, control_probs in prefetched(score, prefetched(make, chunks)):
        orig = original[idx]
        if own_sham:
            drawn_sham.fill(idx, control_probs.pop(SHAM), orig, sub.labels, scorer)
        try:
            d = np.asarray(combine(probs, orig, batch, scorer), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001
            raise fault(TestFault, tester, exc) from None
        if d.shape != (len(idx), k):
            raise TestFault(f"{tester} deltas() returned shape {d.shape}; allowed: ({len(idx)}, {k})")
        if not np.all(np.isfinite(d)):
            raise TestFault(f"{tester} deltas() returned non-finite values")
        delta[idx] = d.mean(axis=1)
        if prob_scorer is not None:  # the same combination of arms, on the probability scale
            try:
                pe = np.asarray(combine(probs, orig, batch, prob_scorer), dtype=np.float64)
            except Exception as exc:  # noqa: BLE001
                raise fault(TestFault, tester, exc) from None
            if pe.shape == (len(idx), k) and np.all(np.isfinite(pe)):
                prob[idx] = pe.mean(axis=1)
        flips[idx] = flip_rate(probs[primary], orig)
        if control_name in control_probs:
            control_flips[idx] = flip_rate(control_probs[control_name], orig)
        for name, p in {**probs, **control_probs}.items():
            arm_deltas.setdefault(name, np.zeros(n))[idx] = score_change(p, orig, sub.labels, scorer).mean(axis=1)
            if prob_scorer is not None:
                arm_probs.setdefault(name, np.full(n, np.nan))[idx] = score_change(
                    p, orig, sub.labels, prob_scorer).mean(axis=1)
        if progress is not None:
            progress(len(idx))
    if control_name != SHAM and control_name not in arm_deltas and n:
        raise TestFault(f"{tester} names control {control_name!r}, which is neither 'sham' nor one of its arms")
    if own_sham:
        sham = drawn_sham
    if sham is not None:
        sham = ControlDeltas.of(sham, n)
        arm_deltas[SHAM], arm_probs[SHAM] = sham.delta, sham.prob_effect
    if control_name == SHAM:
        control = sham if sham is not None else ControlDeltas.of((np.full(n, np.nan), np.full(n, np.nan)), n)
    else:
        control = ControlDeltas(arm_deltas.get(control_name, np.zeros(n)), control_flips,
                                arm_probs.get(control_name, np.full(n, np.nan)))
    return UnitDeltas(delta, control.delta, flips, control.flip_rate, arm_deltas, prob, control.prob_effect,
                      arm_probs, sham)
