"""Interpret a model with in-silico perturbation tests: plan -> run -> summarize.

- :mod:`.plan`: the units of work (test, motif set, parameters, eligible ids) as plain data;
- :mod:`.run`: one unit through one model -> per-sequence deltas (keyed random streams, checked
  plugin boundaries, no statistics);
- :mod:`.summarize`: the results table from the deltas alone, and the deltas file.

:func:`interpret` strings them together for one model. A test that fails (raises, or breaks
its contract) gives its rows the verdict ``error`` and the rest completes; a model that fails
stops the run with one line (:class:`ModelFault`), since none of its numbers can be trusted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError, TestFault
from motifprobe.engine.interpret.plan import Unit, eligible_rows, is_insertion_test, make_test, plan, plan_tests
from motifprobe.engine.interpret.run import PREDICT_BLOCK, UnitDeltas, predict, run_sham, run_unit
from motifprobe.engine.interpret.summarize import (DELTA_COLUMNS, RESULT_COLUMNS, deltas_metadata, motif_sources,
                                                   read_deltas, summarize_deltas, summarize_file, write_deltas)
from motifprobe.engine.models import as_model, output_kind
from motifprobe.engine.perturbation import Scorer
from motifprobe.engine.profiles import PROFILE_COLUMNS, profile_table
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.seeds import check_seed
from motifprobe.engine.stats import Thresholds, zero_small

__all__ = ["interpret", "InterpretResult", "Unit", "plan", "plan_tests", "make_test", "eligible_rows", "run_unit",
           "run_sham", "predict", "summarize_deltas", "summarize_file", "read_deltas", "write_deltas",
           "ModelFault", "TestFault", "fit_to_model", "RESULT_COLUMNS", "DELTA_COLUMNS", "MODES", "unit_record", "deltas_metadata"]

MODES = ("loss", "prediction")
Progress = Callable[..., None]


@dataclass
class InterpretResult:
    """``table``: one row per test and motif set; ``deltas``: one row per test and sequence;
    ``metadata``: seed, mode, thresholds and every unit (what :func:`summarize_deltas` needs)."""

    table: pd.DataFrame
    deltas: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DELTA_COLUMNS))
    metadata: dict[str, Any] = field(default_factory=dict)
    profiles: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROFILE_COLUMNS))
    """One row per point of every insertion test's profile (:func:`motifprobe.engine.profiles.profile_table`);
    empty when no insertion test ran."""

    @property
    def failed(self) -> bool:
        """True when some unit ended in ``error`` (partial results)."""
        return bool(len(self.table)) and bool((self.table["verdict"] == "error").any())


def unit_record(model_name: str, unit: Unit, status: str = "ok", error: str = "") -> dict[str, Any]:
    """One unit of one model as recorded in the deltas file's metadata (an insertion test's also
    carries ``insertion`` and its ``profile`` points)."""
    record = {"model": model_name, "test": unit.test, "feature": unit.feature, "motifs": "+".join(unit.motifs),
              "test_params": unit.params_json, "deterministic": unit.deterministic,
              "num_perturbs": unit.num_perturbs, "status": status, "error": error, "control": unit.control,
              "checks": [list(c) for c in unit.checks]}
    if unit.insertion:
        record.update(insertion=True, profile=[dict(p) for p in unit.points])
    return record


def _prob(values: np.ndarray | None, n: int, tolerance: float) -> np.ndarray:
    """A probability-scale column (NaN when the model gives no probabilities)."""
    return np.full(n, np.nan) if values is None else zero_small(values, tolerance)


def _delta_frame(model_name: str, unit: Unit, rows: Dataset, result: UnitDeltas, tolerance: float) -> pd.DataFrame:
    """Per-sequence rows; |delta| below ``tolerance`` is stored as exactly 0 (float32 model noise)."""
    frame = pd.DataFrame({
        "model": model_name, "test": unit.test, "feature": unit.feature, "motifs": "+".join(unit.motifs),
        "test_params": unit.params_json, "id": np.asarray(rows.ids, dtype=object),
        "label": np.full(len(rows), -1, dtype=np.int64) if unit.insertion else rows.labels,
        "delta": zero_small(result.delta, tolerance), "control_delta": zero_small(result.control_delta, tolerance),
        "prob_effect": _prob(result.prob_effect, len(rows), tolerance),
        "control_prob_effect": _prob(result.control_prob_effect, len(rows), tolerance),
        "flip_rate": result.flip_rate, "control_flip_rate": result.control_flip_rate})
    arms = {f"arm_{name}": zero_small(values, tolerance) for name, values in result.arm_deltas.items()}
    arms.update({f"prob_arm_{name}": _prob(values, len(rows), tolerance) for name, values in result.arm_probs.items()})
    if arms:  # at once: a profile has a hundred arms, and column-by-column inserts fragment the frame
        frame = pd.concat([frame, pd.DataFrame(arms, index=frame.index)], axis=1)
    return frame


def fit_to_model(dataset: Dataset, length: int | None) -> tuple[Dataset, str]:
    """Bring ``dataset`` to a model's fixed input ``length`` (centre-crop or N-pad); returns it and a note.

    The note (empty when nothing changed) says what was done, for the output and the metadata.
    """
    if length is None:
        return dataset, ""
    fit = getattr(dataset, "fit_length", None)
    if fit is None:  # a dataset type without fit_length: only its own length fits
        if dataset.seq_length == int(length):
            return dataset, ""
        raise MotifprobeError(f"the model takes sequences of length {int(length)}; the dataset's are "
                              f"{dataset.seq_length} long")
    fitted, note = fit(int(length))
    return fitted, note or ""


def interpret(model: Any, dataset: Dataset, motifs: list[str] | None = None, *, tests: list[str] | None = None,
              num_perturbs: int = 5, seed: int = 0, mode: str = "loss", ids: list[str] | np.ndarray | None = None,
              thresholds: Thresholds | None = None, model_name: str = "model", keep_deltas: bool = True,
              batch_size: int = PREDICT_BLOCK, test_params: dict[str, dict[str, Any]] | None = None,
              progress: Progress | None = None, registry: Registry | None = None,
              model_label: str | None = None, summarize: bool = True) -> InterpretResult:
    """Interpret ``model`` on ``dataset`` with in-silico perturbation tests.

    Parameters
    ----------
    model : object with ``predict_proba(codes)``, or a callable codes -> probabilities
    dataset : Dataset
        Sequences with recorded motif sites.
    motifs : list of str, optional
        Motifs to test (default: every motif with a site). A test with ``n_motifs = m`` runs
        once per combination of m of them.
    tests : list of str, optional
        Subset of registered tests (default: all).
    test_params : dict, optional
        ``{test: {key: value}}``: parameters of individual tests (``--test-param TEST:KEY=VALUE``),
        checked against what each test declares.
    num_perturbs : int
        K, perturbations per sequence for stochastic tests.
    seed : int
        Keys every random stream with the test, motif set and sequence id: a sequence gets the
        same perturbations for any model, in any subset of ids, chunk size, order or process.
    mode : {'loss', 'prediction'}
        Delta of cross-entropy loss (needs labels and a probability or logit output) or of the
        model's output on its own scale (P(class 1), the logit of class 1 for a model of output
        kind ``logit``, or the raw value of a regression output): see :class:`Scorer`. A model
        with a fixed ``input_length`` gets the dataset centre-cropped or N-padded to it
        (``Dataset.fit_length``); the note lands in ``metadata['notes']``.
    ids : sequence of str, optional
        Restrict to these sequence ids (e.g. the held-out test split).
    thresholds : Thresholds, optional
        Verdict rule parameters.
    batch_size : int
        Sequences per ``predict_proba`` call (the model may sub-batch internally).
    model_label : str, optional
        How errors name the model (default: ``model <model_name>``).
    summarize : bool
        Build the results table (default). ``compare`` passes False: it summarizes every model
        at once, as one family.

    Returns
    -------
    InterpretResult

    Raises
    ------
    ModelFault
        The model raised or returned something other than probabilities.
    """
    seed = check_seed(seed)
    thresholds = thresholds or Thresholds()
    registry = registry or get_registry()
    model = as_model(model)
    if mode not in MODES:
        raise MotifprobeError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    scorer = Scorer(mode, output_kind(model))  # loss mode on a regression output: one line, before any work
    if isinstance(num_perturbs, bool) or int(num_perturbs) < 1:
        raise MotifprobeError(f"num_perturbs must be at least 1, got {num_perturbs}")
    if int(batch_size) < 1:
        raise MotifprobeError(f"batch_size must be at least 1, got {batch_size}")
    present = dataset.motif_names
    motifs = list(motifs) if motifs else present
    # profiles score predictions and insert the motifs themselves: no labels, no sites needed
    only_insertion = tests is not None and len(tests) > 0 and all(is_insertion_test(registry, t) for t in tests)
    for m in motifs:
        if m not in present and not only_insertion:
            raise MotifprobeError(f"motif {m!r} has no site in the dataset; present: {', '.join(present) or '(none)'}")
    if len(set(motifs)) != len(motifs):
        raise MotifprobeError(f"motifs listed twice: {', '.join(motifs)}")
    if ids is not None:
        wanted = pd.Index(dataset.ids).get_indexer(np.asarray(ids, dtype=object))
        if np.any(wanted < 0):
            missing = np.asarray(ids, dtype=object)[wanted < 0][:3]
            raise MotifprobeError(f"sequence id(s) {', '.join(map(str, missing))} are not in the dataset")
        dataset = dataset.subset(np.sort(wanted))
    if mode == "loss" and np.any(dataset.labels < 0) and not only_insertion:
        raise MotifprobeError(f"loss mode needs labels: {int(np.sum(dataset.labels < 0))} of {len(dataset)} sequences "
                              "have none; use mode 'prediction' (--mode prediction)")
    dataset, length_note = fit_to_model(dataset, getattr(model, "input_length", None))
    units = plan(dataset, motifs, tests, registry, num_perturbs=int(num_perturbs), test_params=test_params, seed=seed)
    who = model_label or f"model {model_name!r}"
    block = int(batch_size)
    background = dataset.background
    position = pd.Index(dataset.ids)
    # Rows some unit perturbs, in dataset order: one vectorized lookup, not a Python call per id.
    needed_rows = np.unique(np.concatenate([position.get_indexer(u.ids) for u in units if not u.insertion]
                                           or [np.zeros(0, np.int64)]))
    original = np.zeros((len(dataset), 2))
    if len(needed_rows):
        probs = predict(model, dataset.codes[needed_rows], block, who)
        original = np.zeros((len(dataset), probs.shape[1]))
        original[needed_rows] = probs
    shams: dict[tuple[str, ...], Any] = {}
    records, frames = [], []
    for unit in units:
        rows_idx = position.get_indexer(unit.ids)
        rows = dataset.subset(rows_idx)
        done = [0]
        total = len(rows)

        def task(n: int, _unit=unit, _done=done, _total=total) -> None:
            _done[0] += n
            if progress is not None:
                progress(description=_unit.label, completed=_done[0], total=_total)

        task(0)
        try:
            result = run_unit(unit, rows, model, seed=seed, scorer=scorer, background=background,
                              original=original[rows_idx], registry=registry, batch_size=block, who=who,
                              sham=shams.get(unit.motifs), progress=task)
            if unit.needs_sham and not unit.insertion and result.sham is not None:
                shams.setdefault(unit.motifs, result.sham)  # shared by the other tests on the same motifs
        except TestFault as exc:
            records.append(unit_record(model_name, unit, "error", str(exc)))
            continue
        records.append(unit_record(model_name, unit))
        if len(rows):  # the statistics need the deltas even when the caller does not keep them
            frames.append(_delta_frame(model_name, unit, rows, result, thresholds.tolerance))
    deltas = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DELTA_COLUMNS)
    sources = motif_sources(dataset.metadata)
    metadata = deltas_metadata(records, seed=seed, mode=mode, thresholds=thresholds, motif_sources=sources)
    metadata.update(output_kind=scorer.kind, delta_unit=scorer.unit, notes=[length_note] if length_note else [])
    profiles = profile_table(deltas, records, thresholds=thresholds, rule=dataset.rule, registry=registry) \
        if summarize else pd.DataFrame(columns=PROFILE_COLUMNS)
    table = (summarize_deltas(deltas, records, seed=seed, mode=mode, thresholds=thresholds, motif_sources=sources,
                              profiles=profiles) if summarize else pd.DataFrame(columns=RESULT_COLUMNS))
    if not keep_deltas:
        deltas = pd.DataFrame(columns=DELTA_COLUMNS)
    return InterpretResult(table, deltas, metadata, profiles)
