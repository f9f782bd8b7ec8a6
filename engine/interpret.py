"""Run perturbation tests against any model: batched scoring, shams, statistics.

Every test runs the same way: its perturbations of a chunk of sequences come back as one
``uint8`` array per arm, the model scores them in large blocks, deltas are computed in float64,
and a sham on the same sequences (same K) gives the paired null the verdict is read against.
Random streams depend only on the seed, the test and the motifs, never on the model, so two
models interpreted with the same seed see the same perturbed sequences.
"""
from __future__ import annotations

import itertools
import json
import zlib
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.models import as_model
from motifprobe.engine.params import declared_params, resolve
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch, score_change, sham_perturb
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.seeds import check_seed
from motifprobe.engine.stats import Thresholds, benjamini_hochberg, summarize, zero_small

MODES = ("loss", "prediction")
CHUNK_BYTES = 48 * 2**20
"""Perturbed codes built at once per test (all arms): bounds memory for any N."""
CHUNK_SEQS = 20_000
"""At most this many sequences per chunk: the primitives' (n, L) int64 intermediates stay ~150 MB."""
PREDICT_BLOCK = 8192
"""Sequences handed to ``predict_proba`` per call; the model sub-batches internally."""

Progress = Callable[..., None]


@dataclass
class InterpretResult:
    """``table``: one row per test and motif set; ``deltas``: one row per test and sequence."""

    table: pd.DataFrame
    deltas: pd.DataFrame = field(default_factory=pd.DataFrame)


def _stable(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode())


def predict(model: Any, codes: np.ndarray, block: int = PREDICT_BLOCK) -> np.ndarray:
    """Class probabilities as float64 (n, C), calling the model on blocks of ``block`` sequences."""
    out = []
    for lo in range(0, len(codes), block):
        probs = np.asarray(model.predict_proba(codes[lo:lo + block]), dtype=np.float64)
        if probs.ndim == 1:
            probs = np.stack([1 - probs, probs], axis=1)
        out.append(probs)
    return np.concatenate(out) if out else np.zeros((0, 2))


def plan_tests(motifs: list[str], tests: list[str] | None, registry: Registry,
               test_params: dict[str, dict[str, Any]] | None = None) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """Expand test names into (test, motifs, params) jobs: an ``n_motifs`` test runs once per
    combination of ``n_motifs`` of the motifs. ``test_params`` (``{test: {key: value}}``) are
    checked against each test's declared parameters before any work starts."""
    explicit = tests is not None
    names = list(tests) if explicit else registry.names("perturbation_test")
    given = dict(test_params or {})
    canonical = {}
    for key in given:
        entry = registry.get("perturbation_test", key)
        if entry.name not in [registry.get("perturbation_test", n).name for n in names]:
            raise MotifprobeError(f"--test-param for test {key!r}, which is not among the tests run "
                                  f"({', '.join(names)})")
        canonical[entry.name] = given[key]
    jobs = []
    for name in names:
        entry = registry.get("perturbation_test", name)
        params = resolve(declared_params(entry.factory), canonical.get(entry.name), f"perturbation test {entry.name!r}")
        n_motifs = getattr(make_test(registry, entry.name, params), "n_motifs", 1)
        if isinstance(n_motifs, bool) or not isinstance(n_motifs, int) or n_motifs < 1:
            raise MotifprobeError(f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) declares "
                                  f"n_motifs={n_motifs!r}; it must be a positive integer")
        if len(motifs) < n_motifs:
            if explicit:
                raise MotifprobeError(f"test {entry.name!r} needs {n_motifs} motifs; got {len(motifs)}: {', '.join(motifs)}")
            continue
        jobs.extend((entry.name, combo, params) for combo in itertools.combinations(motifs, n_motifs))
    return jobs


def make_test(registry: Registry, name: str, params: dict[str, Any]) -> Any:
    """Build a registered test with its (already checked) parameters."""
    entry = registry.get("perturbation_test", name)
    try:
        return entry.factory(**params)
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's fault is named, not a traceback
        raise MotifprobeError(f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) failed to "
                              f"start: {type(exc).__name__}: {exc}") from None


def _eligible(dataset: Dataset, motifs: tuple[str, ...]) -> np.ndarray:
    ok = np.ones(len(dataset), dtype=bool)
    bounds = [dataset.site_bounds(m) for m in motifs]
    for start, _ in bounds:
        ok &= start >= 0
    for (s1, e1), (s2, e2) in itertools.combinations(bounds, 2):
        ok &= (e1 <= s2) | (e2 <= s1)
    return np.flatnonzero(ok)


def _flip_rate(probs: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Per sequence, the share of perturbations (n, K, C) whose predicted class differs from the original."""
    return (probs.argmax(-1) != original.argmax(-1)[:, None]).mean(axis=1)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


class _Runner:
    def __init__(self, model, dataset: Dataset, *, num_perturbs, seed, scorer, background, registry,
                 batch_size=PREDICT_BLOCK):
        self.model, self.dataset, self.k, self.seed = model, dataset, num_perturbs, seed
        self.batch_size = batch_size
        self.scorer, self.background, self.registry = scorer, background, registry
        self.original = None
        self._sham_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def original_probs(self) -> np.ndarray:
        if self.original is None:
            self.original = predict(self.model, self.dataset.codes, self.batch_size)
        return self.original

    def _batches(self, rows: np.ndarray, motifs: tuple[str, ...], k: int, n_arms: int):
        per_seq = max(1, k * self.dataset.seq_length * n_arms)
        chunk = max(1, min(CHUNK_SEQS, CHUNK_BYTES // per_seq))
        for lo in range(0, len(rows), chunk):
            idx = rows[lo:lo + chunk]
            sub = self.dataset.subset(idx)
            yield idx, TestBatch(sub.codes, sub.labels, motifs, sub.sites, self.background, k)

    def _score_arms(self, arms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        scored = {}
        for name, arr in arms.items():
            n, k, length = arr.shape
            scored[name] = predict(self.model, arr.reshape(n * k, length), self.batch_size).reshape(n, k, -1)
        return scored

    def sham(self, motifs: tuple[str, ...], rows: np.ndarray, task=None) -> tuple[np.ndarray, np.ndarray]:
        """Per-sequence sham deltas and flip rates for ``rows`` (cached per motif set)."""
        if motifs in self._sham_cache:
            if task is not None:
                task(len(rows))
            return self._sham_cache[motifs]
        rng = np.random.default_rng([self.seed, 0, _stable(*motifs)])
        deltas, flips = [], []
        for idx, batch in self._batches(rows, motifs, self.k, 1):
            probs = self._score_arms({"sham": sham_perturb(batch, rng)})["sham"]
            orig = self.original_probs()[idx]
            deltas.append(score_change(probs, orig, batch.labels, self.scorer).mean(axis=1))
            flips.append(_flip_rate(probs, orig))
            if task is not None:
                task(len(idx))
        self._sham_cache[motifs] = (_joined(deltas), _joined(flips))
        return self._sham_cache[motifs]

    def run(self, test_name: str, motifs: tuple[str, ...], rows: np.ndarray, task=None, params=None):
        test = make_test(self.registry, test_name, params or {})
        deterministic = bool(getattr(test, "deterministic", False))
        k = 1 if deterministic else self.k
        primary = getattr(test, "primary_arm", "perturbed")
        rng = np.random.default_rng([self.seed, _stable(test_name), _stable(*motifs)])
        deltas, flips = [], []
        for idx, batch in self._batches(rows, motifs, k, 3):
            arms = test.perturb(batch, rng)
            for name, arr in arms.items():
                if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[0] != len(idx) or arr.shape[2] != batch.codes.shape[1]:
                    raise RuntimeError(f"test {test_name!r} arm {name!r} returned {arr.dtype} {arr.shape}; "
                                       f"expected uint8 ({len(idx)}, K, {batch.codes.shape[1]})")
            probs = self._score_arms(arms)
            orig = self.original_probs()[idx]
            combine = getattr(test, "deltas", None) or partial(PerturbationTest.deltas, test)
            d = np.asarray(combine(probs, orig, batch, self.scorer), dtype=np.float64)
            deltas.append(np.nanmean(d, axis=1))
            flips.append(_flip_rate(probs[primary], orig))
            if task is not None:
                task(len(idx))
        return _joined(deltas), _joined(flips), deterministic, k


def interpret(model: Any, dataset: Dataset, motifs: list[str] | None = None, *, tests: list[str] | None = None,
              num_perturbs: int = 5, seed: int = 0, mode: str = "loss", ids: list[str] | np.ndarray | None = None,
              thresholds: Thresholds | None = None, model_name: str = "model", keep_deltas: bool = True,
              batch_size: int = PREDICT_BLOCK, test_params: dict[str, dict[str, Any]] | None = None,
              progress: Progress | None = None, registry: Registry | None = None) -> InterpretResult:
    """Interpret ``model`` on ``dataset`` with in-silico perturbation tests.

    Parameters
    ----------
    model : object with ``predict_proba(codes)``, or a callable codes -> probabilities
    dataset : Dataset
        Sequences with recorded motif sites.
    motifs : list of str, optional
        Motifs to test (default: every motif with a site). Tests: presence and control per
        motif; order, distance and interaction per pair.
    tests : list of str, optional
        Subset of registered tests (default: all).
    test_params : dict, optional
        ``{test: {key: value}}``: parameters of individual tests (``--test-param TEST:KEY=VALUE``),
        checked against what each test declares.
    num_perturbs : int
        K, perturbations per sequence for stochastic tests.
    seed : int
        Seeds every random stream; same seed, same perturbed sequences for any model.
    mode : {'loss', 'prediction'}
        Delta of cross-entropy loss (needs labels) or of P(class 1).
    ids : sequence of str, optional
        Restrict to these sequence ids (e.g. the held-out test split).
    thresholds : Thresholds, optional
        Verdict rule parameters.
    batch_size : int
        Sequences per ``predict_proba`` call (the model may sub-batch internally).

    Returns
    -------
    InterpretResult
        ``table`` (one row per test and motif set) and ``deltas`` (per sequence).
    """
    seed = check_seed(seed)
    thresholds = thresholds or Thresholds()
    registry = registry or get_registry()
    model = as_model(model)
    if mode not in MODES:
        raise MotifprobeError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    if int(num_perturbs) < 1:
        raise MotifprobeError(f"num_perturbs must be at least 1, got {num_perturbs}")
    if int(batch_size) < 1:
        raise MotifprobeError(f"batch_size must be at least 1, got {batch_size}")
    present = dataset.motif_names
    motifs = list(motifs) if motifs else present
    for m in motifs:
        if m not in present:
            raise MotifprobeError(f"motif {m!r} has no site in the dataset; present: {', '.join(present) or '(none)'}")
    if len(set(motifs)) != len(motifs):
        raise MotifprobeError(f"motifs listed twice: {', '.join(motifs)}")
    if ids is not None:
        wanted = pd.Index(dataset.ids).get_indexer(np.asarray(ids, dtype=object))
        if np.any(wanted < 0):
            missing = np.asarray(ids, dtype=object)[wanted < 0][:3]
            raise MotifprobeError(f"sequence id(s) {', '.join(map(str, missing))} are not in the dataset")
        dataset = dataset.subset(np.sort(wanted))
    if mode == "loss" and np.any(dataset.labels < 0):
        raise MotifprobeError("some sequences have no label; use mode 'prediction' (--mode prediction)")
    jobs = plan_tests(motifs, tests, registry, test_params)
    runner = _Runner(model, dataset, num_perturbs=int(num_perturbs), seed=int(seed), scorer=Scorer(mode),
                     background=dataset.background, registry=registry, batch_size=int(batch_size))
    rows, delta_frames = [], []
    for test_name, combo, params in jobs:
        eligible = _eligible(dataset, combo)
        label = f"{test_name} {'+'.join(combo)}"
        total = 2 * len(eligible)
        done = [0]

        def task(n, _label=label, _total=total, _done=done):
            _done[0] += n
            if progress is not None:
                progress(description=_label, completed=_done[0], total=_total)

        task(0)
        sham, sham_flips = runner.sham(combo, eligible, task)
        deltas, flips, deterministic, k = runner.run(test_name, combo, eligible, task, params)
        # float32 model outputs leave ~1e-7 noise; below the tolerance a delta is exactly 0.
        deltas, sham = zero_small(deltas, thresholds.tolerance), zero_small(sham, thresholds.tolerance)
        labels = dataset.labels[eligible]
        stats_rng = np.random.default_rng([int(seed), _stable(test_name), _stable(*combo), 7])
        feature = getattr(make_test(registry, test_name, params), "feature", None)
        row = {"model": model_name, "test": test_name, "feature": feature if isinstance(feature, str) else "",
               "motifs": "+".join(combo)}
        row.update(summarize(deltas, sham, labels, flips, sham_flips, thresholds, stats_rng))
        row.update(deterministic=deterministic, num_perturbs=k, mode=mode,
                   test_params=json.dumps(params, sort_keys=True) if params else "")
        rows.append(row)
        if keep_deltas and len(eligible):
            delta_frames.append(pd.DataFrame({
                "model": model_name, "test": test_name, "motifs": row["motifs"], "id": dataset.ids[eligible],
                "label": labels, "delta": deltas, "control_delta": sham}))
    table = pd.DataFrame(rows)
    if len(table):
        table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy())
        table["q_vs_control"] = benjamini_hochberg(table["p_vs_control"].to_numpy())
        table = table[_column_order(table.columns)]
    deltas = pd.concat(delta_frames, ignore_index=True) if delta_frames else pd.DataFrame(
        columns=["model", "test", "motifs", "id", "label", "delta", "control_delta"])
    return InterpretResult(table, deltas)


RESULT_COLUMNS = [
    "model", "test", "feature", "motifs", "verdict", "direction", "called_in", "count", "n_nonzero", "effect_size",
    "avg_loss_diff", "median", "ci_low", "ci_high", "control_mean", "p_value", "q_value", "p_vs_control",
    "q_vs_control", "rank_biserial", "flip_rate", "control_flip_rate",
    "n_label0", "mean_label0", "control_mean_label0", "p_vs_control_label0",
    "n_label1", "mean_label1", "control_mean_label1", "p_vs_control_label1",
    "deterministic", "num_perturbs", "mode", "test_params", "note",
]


def _column_order(columns) -> list[str]:
    known = [c for c in RESULT_COLUMNS if c in columns]
    return known + [c for c in columns if c not in known]
