"""One interpretation (or one comparison's models) spread over a Dask client.

Interpretation: the sequences are split into contiguous ranges (shards); each worker runs
:func:`motifprobe.engine.interpret.interpret` on its shard without summarizing (plan -> run_unit
on its rows), and the client puts the per-sequence deltas back in the single-process order (unit
by unit, sequences in dataset order) and summarizes them once. Every random draw is keyed by
(seed, test, motif set, sequence id), so the deltas and the table equal the single-process run
number for number.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError

MIN_SHARD = 2000
"""Fewest sequences per shard: smaller shards cost more in task overhead than they save."""
SHARDS_PER_WORKER = 2
RETRIES = 2


def shard_ranges(n: int, workers: int, *, shards: int | None = None, min_shard: int = MIN_SHARD) -> list[tuple[int, int]]:
    """Contiguous ``[lo, hi)`` ranges covering ``n`` sequences: about ``SHARDS_PER_WORKER`` per
    worker, none smaller than ``min_shard`` (one range for a small ``n``)."""
    if shards is None:
        shards = max(1, min(max(1, workers) * SHARDS_PER_WORKER, n // max(1, min_shard)))
    shards = max(1, min(int(shards), max(1, n)))
    edges = np.linspace(0, n, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a] or [(0, 0)]


def _workers(client: Any) -> int:
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 - a scheduler without workers yet: plan for one
        return 1


def _interpret_shard(model: Any, dataset: Dataset, motifs: list[str], ids: list[str], kwargs: dict[str, Any]):
    from motifprobe.engine.interpret import interpret

    result = interpret(model, dataset, motifs, ids=ids, summarize=False, **kwargs)
    return result.deltas, result.metadata


def interpret_distributed(client: Any, model: Any, dataset: Dataset, motifs: list[str] | None = None, *,
                          ids: list[str] | np.ndarray | None = None, shards: int | None = None,
                          min_shard: int = MIN_SHARD, progress: Callable[..., None] | None = None,
                          **kwargs: Any):
    """:func:`motifprobe.engine.interpret.interpret` with the sequences split over ``client``'s workers.

    Parameters
    ----------
    client : distributed.Client
    model : Run, model or callable
        A :class:`~motifprobe.engine.runs.Run` is interpreted on its held-out ids (as in
        :func:`motifprobe.api.interpret`).
    dataset : Dataset
    motifs, ids, kwargs
        As for :func:`~motifprobe.engine.interpret.interpret` (``summarize`` and
        ``keep_deltas`` included).
    shards : int, optional
        Number of sequence ranges (default: two per worker, each at least ``min_shard`` long).
    progress : callable, optional
        ``progress(completed=, total=, description="shards")``.

    Returns
    -------
    InterpretResult
        Equal to the single-process result for the same seed.

    Raises
    ------
    ModelFault
        The model failed on some shard.
    """
    from motifprobe.engine.interpret import DELTA_COLUMNS, RESULT_COLUMNS, InterpretResult, summarize_deltas
    from motifprobe.engine.interpret.summarize import motif_sources
    from motifprobe.engine.runs import Run
    from motifprobe.engine.stats import Thresholds

    if isinstance(model, Run):
        if model.manifest.get("dataset", {}).get("sha256") not in (None, dataset.sha256) and dataset.sha256:
            raise MotifprobeError(f"run {model.name!r} was trained on another dataset (sha256 differs)")
        if ids is None:
            ids = model.test_ids
        kwargs.setdefault("model_name", model.name)
        model = model.model
    summarize = kwargs.pop("summarize", True)
    keep_deltas = kwargs.pop("keep_deltas", True)
    name = kwargs.get("model_name", "model")
    parts, failed = interpret_models(client, {name: model}, dataset, motifs, ids=ids, shards=shards,
                                     min_shard=min_shard, progress=progress, **kwargs)
    if failed:
        raise failed[name]
    deltas, metadata = parts[name]
    thresholds = kwargs.get("thresholds") or Thresholds()
    table = (summarize_deltas(deltas, metadata["units"], seed=metadata["seed"], mode=metadata["mode"],
                              thresholds=thresholds, motif_sources=motif_sources(dataset.metadata))
             if summarize else pd.DataFrame(columns=RESULT_COLUMNS))
    extra = {}
    if "profiles" in InterpretResult.__dataclass_fields__:  # insertion tests' profiles, as interpret builds them
        from motifprobe.engine.profiles import PROFILE_COLUMNS, profile_table

        extra["profiles"] = (profile_table(deltas, metadata["units"], thresholds=thresholds, rule=dataset.rule)
                             if summarize else pd.DataFrame(columns=PROFILE_COLUMNS))
    if not keep_deltas:
        deltas = pd.DataFrame(columns=DELTA_COLUMNS)
    return InterpretResult(table, deltas, metadata, **extra)


def interpret_models(client: Any, models: dict[str, Any], dataset: Dataset, motifs: list[str] | None = None, *,
                     ids: list[str] | np.ndarray | None = None, shards: int | None = None,
                     min_shard: int = MIN_SHARD, progress: Callable[..., None] | None = None,
                     **kwargs: Any) -> tuple[dict[str, tuple[pd.DataFrame, dict]], dict[str, Exception]]:
    """Interpret several models at once, each split in sequence ranges, every (model, range) one task.

    Returns ``({name: (deltas, metadata)}, {name: ModelFault})``: the deltas and metadata
    (``units`` included) as a single-process ``interpret(..., summarize=False)`` gives them.
    Errors other than a model fault (a bad argument) are raised.
    """
    from distributed import as_completed

    from motifprobe.engine.errors import ModelFault

    kwargs = {k: v for k, v in kwargs.items() if k not in ("registry", "progress", "summarize", "model_name")}
    motifs = list(motifs) if motifs else dataset.motif_names
    wanted = np.asarray(dataset.ids if ids is None else ids, dtype=object)
    index = pd.Index(dataset.ids).get_indexer(wanted)
    if np.any(index < 0):
        missing = wanted[index < 0][:3]
        raise MotifprobeError(f"sequence id(s) {', '.join(map(str, missing))} are not in the dataset")
    ordered = dataset.ids[np.sort(index)]  # shards in dataset order: their concatenation is the single-process order
    if _has_insertion_test(kwargs.get("tests")):
        shards = 1  # an insertion test picks its backgrounds among all the rows at once: not split by rows
    ranges = shard_ranges(len(ordered), _workers(client), shards=shards, min_shard=min_shard)
    [data_f] = client.scatter([dataset], broadcast=True)
    futures = {}
    for name, model in models.items():
        [model_f] = client.scatter([model], broadcast=True)
        for i, (lo, hi) in enumerate(ranges):
            future = client.submit(_interpret_shard, model_f, data_f, motifs, list(ordered[lo:hi]),
                                   {**kwargs, "model_name": name}, retries=RETRIES, pure=False)
            futures[future] = (name, i)
    got: dict[str, list] = {name: [None] * len(ranges) for name in models}
    failed: dict[str, Exception] = {}
    total, done = len(futures), 0
    if progress is not None:
        progress(completed=0, total=total, description="shards")
    try:
        for future in as_completed(list(futures)):
            name, i = futures[future]
            try:
                got[name][i] = future.result()
            except ModelFault as exc:
                failed.setdefault(name, exc)
            done += 1
            if progress is not None:
                progress(completed=done, total=total, description="shards")
    finally:
        for future in futures:
            future.release()
    parts = {}
    for name, pieces in got.items():
        if name in failed:
            continue
        deltas, records = merge_shards([p[0] for p in pieces], [p[1]["units"] for p in pieces])
        metadata = dict(pieces[0][1])
        metadata["units"] = records
        parts[name] = (deltas, metadata)
    return parts, failed


def _has_insertion_test(tests: list[str] | None) -> bool:
    from motifprobe.engine.interpret.plan import is_insertion_test
    from motifprobe.engine.registry import get_registry

    registry = get_registry()
    return any(is_insertion_test(registry, t) for t in tests or [])


def _unit_key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    return (str(record["model"]), str(record["test"]), str(record["motifs"]), str(record.get("test_params") or ""))


def merge_shards(frames: list[pd.DataFrame], unit_lists: list[list[dict[str, Any]]]) -> tuple[pd.DataFrame, list[dict]]:
    """Shards' deltas and unit records -> the single-process deltas (unit by unit, shards in order)
    and records (a unit failed in any shard is ``error`` everywhere, with no rows)."""
    from motifprobe.engine.interpret import DELTA_COLUMNS

    records = [dict(r) for r in unit_lists[0]]
    for units in unit_lists[1:]:
        for record, other in zip(records, units):
            if record["status"] == "ok" and other["status"] != "ok":
                record.update(status=other["status"], error=other["error"])
    position = {_unit_key(r): i for i, r in enumerate(records)}
    failed = {i for i, r in enumerate(records) if r["status"] != "ok"}
    slices: list[list[pd.DataFrame]] = [[] for _ in records]
    seen: list[set[int]] = []
    for frame in frames:
        blocks = _blocks(frame)
        seen.append({position[key] for key, _, _ in blocks})
        for key, lo, hi in blocks:
            if position[key] not in failed:
                slices[position[key]].append(frame.iloc[lo:hi])
    pieces = [piece for unit in slices for piece in unit]
    if not pieces:
        return pd.DataFrame(columns=DELTA_COLUMNS), records
    merged = pd.concat(pieces, ignore_index=True)
    wanted = set(range(len(records))) - failed
    # The columns of a shard holding rows of every unit are in the single-process order.
    columns = next((list(f.columns) for f, units in zip(frames, seen) if len(f) and wanted <= units),
                   list(dict.fromkeys(c for f in frames for c in f.columns)))
    merged = merged[[c for c in columns if c in merged.columns] + [c for c in merged.columns if c not in columns]]
    return merged, records


def _blocks(frame: pd.DataFrame) -> list[tuple[tuple[str, ...], int, int]]:
    """A shard's deltas come unit by unit: (unit key, first row, end row) of each run of rows."""
    if not len(frame):
        return []
    keys = np.column_stack([frame[c].fillna("").astype(str).to_numpy() for c in ("model", "test", "motifs",
                                                                                "test_params")])
    change = np.ones(len(frame), dtype=bool)
    change[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    starts = np.flatnonzero(change)
    stops = np.append(starts[1:], len(frame))
    return [(tuple(keys[lo]), int(lo), int(hi)) for lo, hi in zip(starts, stops)]


# -- compare: one task per model -----------------------------------------------------------------
def _train_task(dataset: Dataset, name: str, kwargs: dict[str, Any]):
    from motifprobe.engine.errors import ModelFault
    from motifprobe.engine.training import train

    try:
        return train(dataset, name, **kwargs), ""
    except ModelFault as exc:
        return None, str(exc)


def train_models(client: Any, dataset: Dataset, jobs: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Train several models at once on ``client``: ``{name: train kwargs}`` -> (runs, faults).

    Run directories are written by the workers (``out_dir`` must be on a file system they see).
    A model fault is returned with its reason; other errors are raised.
    """
    [data_f] = client.scatter([dataset], broadcast=True)
    futures = {name: client.submit(_train_task, data_f, name, kwargs, retries=RETRIES, pure=False)
               for name, kwargs in jobs.items()}
    runs, failed = {}, {}
    for name, future in futures.items():
        run, reason = future.result()
        future.release()
        if run is None:
            failed[name] = reason
        else:
            runs[name] = run
    return runs, failed
