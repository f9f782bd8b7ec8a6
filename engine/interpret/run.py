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

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError, TestFault, fault
from motifprobe.engine.interpret.plan import Unit, make_test
from motifprobe.engine.models import as_probabilities
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch, score_change, sham_perturb
from motifprobe.engine.registry import Registry
from motifprobe.engine.streams import RowStreams, context_key, row_keys

CHUNK_BYTES = 48 * 2**20
"""Perturbed codes built at once per unit (all arms): bounds memory for any N."""
CHUNK_SEQS = 20_000
"""At most this many sequences per chunk: the primitives' (n, L) int64 intermediates stay ~150 MB."""
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


def predict(model: Any, codes: np.ndarray, block: int = PREDICT_BLOCK, who: str = "the model") -> np.ndarray:
    """Class probabilities as float64 (n, C), in blocks of ``block`` sequences, each block checked.

    Raises
    ------
    ModelFault
        The model raised, or returned something other than probabilities for n sequences.
    """
    out = []
    for lo in range(0, len(codes), block):
        chunk = codes[lo:lo + block]
        try:
            raw = model.predict_proba(chunk)
        except Exception as exc:  # noqa: BLE001 - the boundary: anything the model does is reported
            raise fault(ModelFault, who, exc) from None
        try:  # the output contract (n rows, finite, in [0, 1], rows summing to 1), for any model
            probs = np.asarray(as_probabilities(raw, len(chunk), owner=who), dtype=np.float64)
        except MotifprobeError as exc:
            raise ModelFault(str(exc)) from None
        out.append(probs)
    return np.concatenate(out) if out else np.zeros((0, 2))


def flip_rate(probs: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Per sequence, the share of perturbations (n, K, C) whose predicted class differs from the original."""
    return (probs.argmax(-1) != original.argmax(-1)[:, None]).mean(axis=1)


def _chunks(n: int, per_seq_bytes: int):
    step = max(1, min(CHUNK_SEQS, CHUNK_BYTES // max(1, per_seq_bytes)))
    for lo in range(0, n, step):
        yield np.arange(lo, min(n, lo + step))


def _score_arms(model, arms: dict[str, np.ndarray], block: int, who: str) -> dict[str, np.ndarray]:
    scored = {}
    for name, arr in arms.items():
        n, k, length = arr.shape
        scored[name] = predict(model, arr.reshape(n * k, length), block, who).reshape(n, k, -1)
    return scored


def check_arms(arms: Any, batch: TestBatch, k: int, primary: str, who: str) -> dict[str, np.ndarray]:
    """The test-arm contract: a dict of uint8 (n, K, L) arrays over the alphabet, the primary
    arm among them and changing at least one base of the batch."""
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
    if primary not in arms:
        raise TestFault(f"{who} returned arms {', '.join(map(str, arms))} without its primary arm {primary!r}")
    if n and not np.any(arms[primary] != batch.codes[:, None, :]):
        raise TestFault(f"{who} perturbed nothing: its arm {primary!r} equals the original sequences")
    return arms


def run_sham(unit: Unit, rows: Dataset, model: Any, *, seed: int, scorer: Scorer, background: np.ndarray,
             original: np.ndarray, k: int, batch_size: int = PREDICT_BLOCK, who: str = "the model",
             progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence sham deltas and flip rates: a motif-free window as long as the unit's motifs,
    redrawn from the background (K draws per sequence, keyed like every other draw)."""
    context = context_key("sham", seed, *unit.motifs)
    deltas, flips = np.zeros(len(rows)), np.zeros(len(rows))
    for idx in _chunks(len(rows), k * rows.seq_length):
        sub = rows.subset(idx)
        batch = TestBatch(sub.codes, sub.labels, unit.motifs, sub.sites, background, k)
        perturbed = sham_perturb(batch, RowStreams(row_keys(context, sub.ids)))
        probs = _score_arms(model, {"sham": perturbed}, batch_size, who)["sham"]
        deltas[idx] = score_change(probs, original[idx], sub.labels, scorer).mean(axis=1)
        flips[idx] = flip_rate(probs, original[idx])
        if progress is not None:
            progress(len(idx))
    return deltas, flips


def run_unit(unit: Unit, rows: Dataset, model: Any, *, seed: int, scorer: Scorer, background: np.ndarray,
             original: np.ndarray, registry: Registry, batch_size: int = PREDICT_BLOCK, who: str = "the model",
             sham: tuple[np.ndarray, np.ndarray] | None = None, progress: Progress | None = None) -> UnitDeltas:
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
    primary = getattr(test, "primary_arm", "perturbed")
    k = unit.num_perturbs
    if sham is None:
        sham = run_sham(unit, rows, model, seed=seed, scorer=scorer, background=background, original=original,
                        k=k, batch_size=batch_size, who=who)
    context = context_key("test", seed, unit.test, *unit.motifs)
    n = len(rows)
    delta, flips = np.zeros(n), np.zeros(n)
    arm_deltas: dict[str, np.ndarray] = {}
    combine = getattr(test, "deltas", None) or partial(PerturbationTest.deltas, test)
    for idx in _chunks(n, k * rows.seq_length * 3):
        sub = rows.subset(idx)
        batch = TestBatch(sub.codes, sub.labels, unit.motifs, sub.sites, background, k)
        try:
            arms = test.perturb(batch, RowStreams(row_keys(context, sub.ids)))
        except Exception as exc:  # noqa: BLE001 - the boundary
            raise fault(TestFault, tester, exc) from None
        arms = check_arms(arms, batch, k, primary, tester)
        probs = _score_arms(model, arms, batch_size, who)
        orig = original[idx]
        try:
            d = np.asarray(combine(probs, orig, batch, scorer), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001
            raise fault(TestFault, tester, exc) from None
        if d.shape != (len(idx), k):
            raise TestFault(f"{tester} deltas() returned shape {d.shape}; allowed: ({len(idx)}, {k})")
        if not np.all(np.isfinite(d)):
            raise TestFault(f"{tester} deltas() returned non-finite values")
        delta[idx] = d.mean(axis=1)
        flips[idx] = flip_rate(probs[primary], orig)
        for name, p in probs.items():
            arm_deltas.setdefault(name, np.zeros(n))[idx] = score_change(p, orig, sub.labels, scorer).mean(axis=1)
        if progress is not None:
            progress(len(idx))
    return UnitDeltas(delta, sham[0], flips, sham[1], arm_deltas)
