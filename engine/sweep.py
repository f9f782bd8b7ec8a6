"""Sweeps: datasets x models x seeds as cells, run on Dask (or in this process), resumable.

A sweep file (TOML) names the axes; the cells are their product, each named by a stable hash
of everything that decides its numbers (dataset spec or file hash, model and parameters, seed,
training and interpretation settings). Each cell runs as one task: read (or generate) its
dataset, train, interpret the held-out sequences, score against the planted rule, and write
``cells/HASH/`` atomically (temporary directory, then a rename that never replaces). A rerun
skips every cell whose directory holds a ``cell.json`` with its hash; ``force`` redoes them.
Workers write only their own cell directory (and the dataset file of their generate task); the
client reads back small tables, never the deltas.

Layout of a sweep directory::

    sweep.json            the normalized sweep file, its hash and the cells (marks the directory)
    data/DHASH/data.parquet   generated datasets, shared by the cells that use them
    cells/HASH/           cell.json, results.csv, scorecard.csv, deltas.parquet, run/ (profiles.csv)
    cells/HASH.error.json a cell that failed (its reason); redone on the next run
    sweep.csv, results.csv, recovery.csv, recovery_matrix.csv, recovery.png, report.html
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from motifprobe.engine.errors import MotifprobeError

SWEEP_FORMAT = 1
SWEEP_MARKER = "sweep.json"
RETRIES = 2
"""Times Dask reruns a task whose worker died (a cell that raises is recorded, not retried)."""
TOP_KEYS = {"name", "seeds", "sizes", "datasets", "models", "train", "interpret"}
TRAIN_KEYS = {"test_sz", "epochs", "lr", "dropout", "early_stop", "balance"}
INTERPRET_KEYS = {"tests", "motifs", "num_perturbs", "mode", "test_params", "alpha", "min_effect", "min_count",
                  "shard_size"}
SHARD_SIZE = 20_000
"""Default ``[interpret] shard_size``: a cell with at least twice this many held-out sequences is
interpreted in shards of at least this size, spread over the workers."""
FILE_DATASET_KEYS = {"name", "file"}
MODEL_KEYS = {"name", "plugin", "params"}
CELL_COLUMNS = ["cell", "dataset", "rule", "size", "model", "seed", "status", "accuracy", "auroc", "seconds", "reason"]
Progress = Callable[..., None]


# -- the sweep file -------------------------------------------------------------------------------
@dataclass
class Cell:
    """One train + interpret job: plain data, the same on the client and on a worker."""

    hash: str
    dataset: str
    rule: str
    size: int | None
    model: str
    seed: int
    inputs: dict[str, Any]
    data_hash: str
    data_path: str | None = None
    """A dataset file given in the sweep file (None: generated into ``data/DHASH``)."""

    def labels(self) -> dict[str, Any]:
        return {"cell": self.hash, "dataset": self.dataset, "rule": self.rule, "size": self.size,
                "model": self.model, "seed": self.seed}


@dataclass
class SweepSpec:
    """A checked sweep file: the normalized spec, its hash and its cells."""

    source: str
    spec: dict[str, Any]
    hash: str
    cells: list[Cell] = field(default_factory=list)


def stable_hash(value: Any, length: int = 16) -> str:
    """Hex sha256 of ``value`` as canonical JSON (sorted keys): the same inputs, the same name."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _unknown_keys(table: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise MotifprobeError(f"{where} must be a table, got {type(table).__name__}")
    bad = sorted(set(table) - allowed)
    if bad:
        raise MotifprobeError(f"unknown key(s) {', '.join(map(repr, bad))} in {where}; allowed: "
                              f"{', '.join(sorted(allowed))}")
    return table


def _axis(value: Any, where: str, kind: type) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MotifprobeError(f"{where} must be a list, got {type(value).__name__}")
    if not value:
        raise MotifprobeError(f"{where} is empty; a sweep axis needs at least one value")
    for item in value:
        if kind is int and (isinstance(item, bool) or not isinstance(item, int)):
            raise MotifprobeError(f"{where} holds {item!r}; allowed: integers")
        if kind is dict and not isinstance(item, dict):
            raise MotifprobeError(f"{where} holds {item!r}; allowed: tables ([[{where}]])")
    if len(value) != len({json.dumps(v, sort_keys=True) for v in value}):
        raise MotifprobeError(f"{where} lists a value twice")
    return value


def load_sweep(path: str | Path, registry: Any = None) -> SweepSpec:
    """Read and check a sweep file; every mistake is one :class:`MotifprobeError` line.

    Parameters
    ----------
    path : path
        TOML with ``seeds``, optional ``sizes`` (``num_seqs`` of every generated dataset),
        ``[[datasets]]`` (a generator spec: ``name``, ``generator`` and any
        :class:`~motifprobe.engine.generation.GenerationSpec` field; or ``name`` and ``file``),
        ``[[models]]`` (``plugin``, optional ``name`` and ``params``), ``[train]`` (``test_sz``,
        ``epochs``, ``lr``, ``dropout``, ``early_stop``, ``balance``) and ``[interpret]``
        (``tests``, ``motifs``, ``num_perturbs``, ``mode``, ``test_params``, ``alpha``,
        ``min_effect``, ``min_count``, ``shard_size``) settings shared by every cell.
    registry : Registry, optional

    Returns
    -------
    SweepSpec
    """
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MotifprobeError(f"cannot read sweep file {shown!r}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MotifprobeError(f"sweep file {shown!r} is not valid TOML: {exc}") from None
    return check_sweep(data, source=shown, base=Path(path).resolve().parent, registry=registry)


def check_sweep(data: dict[str, Any], *, source: str = "(in memory)", base: Path | None = None,
                registry: Any = None) -> SweepSpec:
    """Check a parsed sweep file (see :func:`load_sweep`) and expand its cells."""
    from motifprobe.engine.registry import get_registry
    from motifprobe.engine.seeds import check_seed

    registry = registry or get_registry()
    base = base or Path.cwd()
    _unknown_keys(data, TOP_KEYS, "the sweep file")
    for key in ("seeds", "datasets", "models"):
        if key not in data:
            raise MotifprobeError(f"the sweep file has no {key!r}; it needs seeds, [[datasets]] and [[models]]")
    seeds = [check_seed(s, "seeds") for s in _axis(data["seeds"], "seeds", int)]
    sizes = _axis(data.get("sizes"), "sizes", int)
    for size in sizes:
        if size < 10:
            raise MotifprobeError(f"sizes holds {size}; a dataset needs at least 10 sequences")
    train_settings = _check_train(dict(_unknown_keys(data.get("train", {}), TRAIN_KEYS, "[train]")))
    interpret_settings = dict(_unknown_keys(data.get("interpret", {}), INTERPRET_KEYS, "[interpret]"))
    datasets = [_check_dataset(d, i, base, registry) for i, d in enumerate(_axis(data["datasets"], "datasets", dict))]
    models = [_check_model(m, i, registry) for i, m in enumerate(_axis(data["models"], "models", dict))]
    for what, items in (("datasets", datasets), ("models", models)):
        names = [item["name"] for item in items]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise MotifprobeError(f"{what} named twice: {', '.join(twice)}; give each a distinct name")
    interpret_settings = _check_interpret(interpret_settings, datasets, registry)
    spec = {"format": SWEEP_FORMAT, "name": str(data.get("name", "")), "seeds": seeds, "sizes": sizes,
            "datasets": datasets, "models": models, "train": train_settings, "interpret": interpret_settings}
    cells = []
    for dataset in datasets:
        generated = "file" not in dataset
        for size in (sizes or [dataset["spec"].get("num_seqs")]) if generated else [None]:
            for model, seed in product(models, seeds):
                if generated:
                    data_inputs = {"generator": dataset["generator"], "spec": {**dataset["spec"], "num_seqs": size},
                                   "seed": seed}
                else:
                    data_inputs = {"file": dataset["file"], "sha256": dataset["sha256"]}
                inputs = {"format": SWEEP_FORMAT, "data": data_inputs, "model": {k: model[k] for k in ("plugin", "params")},
                          "seed": seed, "train": train_settings, "interpret": interpret_settings}
                rule = dataset.get("spec", {}).get("gen_type") or dataset.get("rule", "")
                cells.append(Cell(stable_hash(inputs), dataset["name"], str(rule), size, model["name"], seed, inputs,
                                  stable_hash(data_inputs), None if generated else dataset["file"]))
    return SweepSpec(source, spec, stable_hash(spec), cells)


def _check_train(settings: dict[str, Any]) -> dict[str, Any]:
    test_sz = settings.get("test_sz", 0.2)
    if isinstance(test_sz, bool) or not isinstance(test_sz, (int, float)) or not 0 < float(test_sz) < 0.5:
        raise MotifprobeError(f"[train] test_sz must be a number in (0, 0.5), got {test_sz!r}")
    settings["test_sz"] = float(test_sz)
    for key in ("epochs", "early_stop"):
        if key in settings and (isinstance(settings[key], bool) or not isinstance(settings[key], int)
                                or settings[key] < (1 if key == "epochs" else 0)):
            raise MotifprobeError(f"[train] {key} must be an integer >= {1 if key == 'epochs' else 0}, "
                                  f"got {settings[key]!r}")
    for key in ("lr", "dropout"):
        if key in settings and (isinstance(settings[key], bool) or not isinstance(settings[key], (int, float))):
            raise MotifprobeError(f"[train] {key} must be a number, got {settings[key]!r}")
    if "balance" in settings and settings["balance"] not in (True, False, "auto"):
        raise MotifprobeError(f"[train] balance must be true, false or \"auto\", got {settings['balance']!r}")
    return settings


def _check_dataset(entry: dict[str, Any], i: int, base: Path, registry: Any) -> dict[str, Any]:
    from motifprobe.engine.dataset import file_sha256
    from motifprobe.engine.generation import GenerationSpec
    from motifprobe.engine.params import declared_params, resolve

    where = f"datasets[{i}]"
    if "file" in entry:
        _unknown_keys(entry, FILE_DATASET_KEYS, where)
        path = Path(str(entry["file"]))
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise MotifprobeError(f"{where}: dataset file {str(entry['file'])!r} does not exist or is not a file")
        from motifprobe.engine.dataset import read_dataset

        rule = (read_dataset(path).rule or {}).get("name", "")
        return {"name": str(entry.get("name") or path.stem), "file": str(path), "sha256": file_sha256(path),
                "rule": rule}
    fields = set(GenerationSpec.__dataclass_fields__)
    _unknown_keys(entry, fields | {"name", "generator"}, where)
    generator = registry.get("generator", str(entry.get("generator", "fast"))).name
    spec = {k: v for k, v in entry.items() if k in fields}
    try:
        options = resolve(declared_params(registry.get("generator", generator).factory), spec.get("options"),
                          f"generator plugin {generator!r}")
        gen = GenerationSpec(**{**spec, "options": options})
        gen.make_rule()  # unknown rule or bad rule parameters: one line now, not in a worker
    except TypeError as exc:
        raise MotifprobeError(f"{where}: {exc}") from None
    spec = {**gen.to_dict(), "options": options}
    name = str(entry.get("name") or f"{generator}-{spec['gen_type']}")
    return {"name": name, "generator": generator, "spec": spec}


def _check_model(entry: dict[str, Any], i: int, registry: Any) -> dict[str, Any]:
    from motifprobe.engine.models import resolve_params

    where = f"models[{i}]"
    _unknown_keys(entry, MODEL_KEYS, where)
    if "plugin" not in entry:
        raise MotifprobeError(f"{where} has no 'plugin'; name a model plugin ('motifprobe plugins' lists them)")
    model = registry.get("model", str(entry["plugin"]))
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise MotifprobeError(f"{where} params must be a table, got {type(params).__name__}")
    resolve_params(model.factory, dict(params), model.name)  # unknown or bad parameters: one line now
    return {"name": str(entry.get("name") or model.name), "plugin": model.name, "params": dict(params)}


def _check_interpret(settings: dict[str, Any], datasets: list[dict], registry: Any) -> dict[str, Any]:
    from motifprobe.engine.interpret import MODES, plan_tests
    from motifprobe.engine.stats import Thresholds

    settings.setdefault("num_perturbs", 3)
    settings.setdefault("mode", "loss")
    k = settings["num_perturbs"]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise MotifprobeError(f"[interpret] num_perturbs must be an integer >= 1, got {k!r}")
    shard = settings.setdefault("shard_size", SHARD_SIZE)
    if isinstance(shard, bool) or not isinstance(shard, int) or shard < 1:
        raise MotifprobeError(f"[interpret] shard_size must be an integer >= 1, got {shard!r}")
    if settings["mode"] not in MODES:
        raise MotifprobeError(f"[interpret] mode {settings['mode']!r} is not allowed; allowed: {', '.join(MODES)}")
    for key in ("tests", "motifs"):
        if key in settings:
            _axis(settings[key], f"[interpret] {key}", str)
    Thresholds(**{k: settings[k] for k in ("alpha", "min_effect", "min_count") if k in settings})
    test_params = settings.get("test_params", {})
    if not isinstance(test_params, dict) or not all(isinstance(v, dict) for v in test_params.values()):
        raise MotifprobeError("[interpret] test_params must be a table of tables, e.g. presence = { fill = \"shuffle\" }")
    for dataset in datasets:
        motifs = settings.get("motifs") or (dataset.get("spec", {}).get("motifs") or [])
        if motifs:  # unknown tests and bad test parameters fail here, before any cell runs
            plan_tests(list(motifs), settings.get("tests"), registry, test_params)
    return settings


# -- the sweep directory --------------------------------------------------------------------------
def sweep_marker(spec: SweepSpec) -> dict[str, Any]:
    """What ``sweep.json`` holds: the sweep file's normalized content, its hash and the cells."""
    from motifprobe.engine.outputs import compare_marker

    return {"motifprobe": {**compare_marker(), "kind": "sweep"}, "sweep_file": spec.source, "spec_hash": spec.hash,
            "spec": spec.spec, "cells": [c.labels() for c in spec.cells]}


def check_sweep_dir(out: str | Path, spec: SweepSpec, *, force: bool = False) -> Path:
    """Check the sweep directory before any work (nothing is written here).

    A new path must be creatable; an existing one must be a sweep directory (``sweep.json``)
    of the same sweep file, unless ``force``; an existing directory that is not a sweep's is
    refused always.
    """
    from motifprobe.engine.outputs import check_output_file

    root = Path(out)
    if root.is_symlink():
        raise MotifprobeError(f"--out {str(out)!r} is a symbolic link; give the real path")
    if root.exists() and not root.is_dir():
        raise MotifprobeError(f"--out {str(out)!r} exists and is not a directory")
    marker = root / SWEEP_MARKER
    if root.is_dir():
        if not marker.is_file():
            if any(root.iterdir()):
                raise MotifprobeError(f"--out {str(out)!r} exists and is not a sweep directory (no {SWEEP_MARKER}); "
                                      "choose another path")
        else:
            try:
                old = json.loads(marker.read_text())
                old_hash = old["spec_hash"]
            except (OSError, ValueError, KeyError, TypeError):
                raise MotifprobeError(f"{str(marker)!r} is not a sweep marker written by motifprobe") from None
            if old_hash != spec.hash and not force:
                raise MotifprobeError(f"--out {str(out)!r} holds a sweep of another sweep file "
                                      f"({old.get('sweep_file', '?')}); pass --force to run this one there, or "
                                      "choose another path")
    check_output_file(marker, what="--out")  # the folder is creatable and writable
    return root


def _write_json(path: Path, value: Any) -> None:
    from motifprobe.engine.outputs import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str))


def cell_dir(root: str | Path, cell_hash: str) -> Path:
    return Path(root) / "cells" / cell_hash


def cell_done(root: str | Path, cell_hash: str) -> bool:
    """Whether ``cells/HASH`` is a finished cell of these inputs (its ``cell.json`` names the hash)."""
    try:
        record = json.loads((cell_dir(root, cell_hash) / "cell.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("hash") == cell_hash and record.get("status") == "ok"


def data_file(root: str | Path, cell: Cell) -> Path:
    return Path(cell.data_path) if cell.data_path else Path(root) / "data" / cell.data_hash / "data.parquet"


# -- tasks (run on workers: plain data in, small plain data out) ---------------------------------
def generate_data(inputs: dict[str, Any], path: str) -> dict[str, Any]:
    """Generate one dataset of the sweep to ``path`` (atomically) unless it is there.

    Returns ``{"path": ...}``, or ``{"error": reason}`` (the cells using it become ``error``).
    """
    from motifprobe import api

    target = Path(path)
    if target.is_file():
        return {"path": str(target)}
    try:
        dataset = api.generate(inputs["generator"], seed=inputs["seed"], **inputs["spec"])
        from motifprobe.engine.dataset import write_dataset

        write_dataset(dataset, target)
    except Exception as exc:  # noqa: BLE001 - recorded on the cells that needed it
        return {"error": _reason(exc)}
    return {"path": str(target)}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MotifprobeError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}" + (f": {text[0]}" if text else "")


def run_cell(cell: dict[str, Any], root: str, data: dict[str, Any], force: bool = False) -> dict[str, Any]:
    """Train, interpret and score one cell; write ``cells/HASH`` atomically; return a small record.

    A failure inside the cell (a model fault, too few sequences, ...) is written to
    ``cells/HASH.error.json`` and returned as ``status: error`` with the reason; it is not
    raised, so Dask does not retry a deterministic failure. A dead worker is retried by Dask.
    """
    start = time.perf_counter()
    spec = Cell(**cell)
    target = cell_dir(root, spec.hash)
    record = {**spec.labels(), "status": "ok", "reason": "", "accuracy": float("nan"), "auroc": float("nan")}
    if not force and cell_done(root, spec.hash):  # a retry after the cell was written
        return {**record, **_metrics_of(target), "seconds": 0.0, "executed": False}
    tmp = None
    try:
        if "error" in data:
            raise MotifprobeError(f"its dataset was not generated: {data['error']}")
        tmp = _temp_dir(target)
        metrics = _compute_cell(spec, Path(data["path"]), tmp)
        record.update(accuracy=metrics.get("accuracy", float("nan")), auroc=metrics.get("auroc", float("nan")))
        record["seconds"] = round(time.perf_counter() - start, 3)
        _write_json(tmp / "cell.json", {**record, "hash": spec.hash, "inputs": spec.inputs, "metrics": metrics})
        _commit(tmp, target, replace=force)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_error_file(root, spec.hash))
    except Exception as exc:  # noqa: BLE001 - one cell's failure is its row, the others go on
        if os.environ.get("MOTIFPROBE_DEBUG"):
            traceback.print_exc()
        record.update(status="error", reason=_reason(exc), seconds=round(time.perf_counter() - start, 3))
        with contextlib.suppress(Exception):
            _write_json(_error_file(root, spec.hash), {**record, "hash": spec.hash, "inputs": spec.inputs})
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {**record, "executed": True}


def _compute_cell(cell: Cell, data_path: Path, tmp: Path) -> dict[str, Any]:
    from motifprobe.engine.dataset import read_dataset
    from motifprobe.engine.interpret import interpret, write_deltas
    from motifprobe.engine.scorecard import score
    from motifprobe.engine.stats import Thresholds
    from motifprobe.engine.training import train

    dataset = read_dataset(data_path)
    tr, it = cell.inputs["train"], cell.inputs["interpret"]
    model = cell.inputs["model"]
    run = train(dataset, model["plugin"], params=dict(model["params"]), test_sz=tr["test_sz"], seed=cell.seed,
                balance=tr.get("balance", "auto"), epochs=tr.get("epochs"), lr=tr.get("lr"),
                dropout=tr.get("dropout"), early_stop=tr.get("early_stop"), out_dir=tmp, model_name="run")
    thresholds = Thresholds(**{k: it[k] for k in ("alpha", "min_effect", "min_count") if k in it})
    kwargs = dict(tests=it.get("tests"), num_perturbs=it["num_perturbs"], seed=cell.seed, mode=it["mode"],
                  ids=run.test_ids, thresholds=thresholds, model_name=cell.model,
                  test_params=it.get("test_params") or None)
    shard = int(it.get("shard_size", SHARD_SIZE))
    if len(run.test_ids) >= 2 * shard and _on_worker():
        # A large cell: its interpretation becomes shard tasks over the whole cluster (this task
        # leaves its worker's thread pool while it waits for them).
        from distributed import worker_client

        from motifprobe.engine.distributed import interpret_distributed

        with worker_client() as client:
            result = interpret_distributed(client, run.model, dataset, it.get("motifs"), min_shard=shard, **kwargs)
    else:
        result = interpret(run.model, dataset, it.get("motifs"), **kwargs)
    profiles = getattr(result, "profiles", None)
    scorecard, _summary = score(result.table, dataset.rule, {cell.model: run.metrics}, dataset=dataset,
                                **({"profiles": profiles} if profiles is not None and len(profiles) else {}))
    result.table.to_csv(tmp / "results.csv", index=False)
    scorecard.to_csv(tmp / "scorecard.csv", index=False)
    write_deltas(result.deltas, result.metadata, tmp / "deltas.parquet")
    if profiles is not None and len(profiles):  # insertion tests ran: their curves
        profiles.to_csv(tmp / "profiles.csv", index=False)
    return {k: v for k, v in run.metrics.items() if isinstance(v, (int, float, bool, str))}


def _on_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _metrics_of(target: Path) -> dict[str, Any]:
    try:
        metrics = json.loads((target / "cell.json").read_text()).get("metrics", {})
    except (OSError, ValueError):
        return {}
    return {k: metrics[k] for k in ("accuracy", "auroc") if k in metrics}


def _error_file(root: str | Path, cell_hash: str) -> Path:
    return Path(root) / "cells" / f"{cell_hash}.error.json"


def _temp_dir(target: Path) -> Path:
    """A fresh ``.HASH.PID.RANDOM.tmp`` beside ``target`` (the name :func:`clean_stale` knows)."""
    from motifprobe.engine.outputs import clean_stale

    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)  # left by a killed worker
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    return tmp


def _commit(tmp: Path, target: Path, *, replace: bool) -> None:
    """Move ``tmp`` onto ``target``; never over a finished cell unless ``replace`` (``--force``)."""
    from motifprobe.engine.outputs import rename_noreplace

    try:
        rename_noreplace(tmp, target)
        return
    except OSError as exc:
        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if not replace and cell_done(target.parent.parent, target.name):
        return  # another attempt of the same cell finished first: same inputs, same numbers
    trash = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.old.tmp"
    os.rename(target, trash)
    rename_noreplace(tmp, target)
    shutil.rmtree(trash, ignore_errors=True)


# -- running a sweep ------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What :func:`run_sweep` did: one row per cell, and the hashes of the cells it executed."""

    cells: pd.DataFrame
    executed: list[str]
    out_dir: Path
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    recovery: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def failed(self) -> bool:
        """True when a cell, or a result row of a cell, is ``error`` (exit status 3)."""
        bad_cells = bool(len(self.cells)) and bool((self.cells["status"] != "ok").any())
        bad_rows = bool(len(self.results)) and "verdict" in self.results and bool(
            (self.results["verdict"] == "error").any())
        return bad_cells or bad_rows


def prepare_sweep(spec: SweepSpec, out: str | Path, *, force: bool = False) -> Path:
    """Create the sweep directory and write ``sweep.json`` (after :func:`check_sweep_dir`)."""
    root = check_sweep_dir(out, spec, force=force)
    (root / "cells").mkdir(parents=True, exist_ok=True)
    _write_json(root / SWEEP_MARKER, sweep_marker(spec))
    return root


def run_sweep(spec: SweepSpec, out: str | Path, *, client: Any = None, force: bool = False,
              progress: Progress | None = None, figures: bool = True) -> SweepResult:
    """Run every cell of ``spec`` not yet done in ``out``; write the sweep tables and report.

    Parameters
    ----------
    spec : SweepSpec
        From :func:`load_sweep`.
    out : path
        The sweep directory (checked with :func:`check_sweep_dir`, then created).
    client : distributed.Client, optional
        Where the cells run (:func:`motifprobe.engine.cluster.dask_client`); None: one by one
        in this process (the reference the distributed run must equal).
    force : bool
        Redo finished cells (and accept a directory of another sweep file).
    progress : callable, optional
        ``progress(completed=, total=, description="cells", done=, running=, failed=)``.

    Returns
    -------
    SweepResult
    """
    root = prepare_sweep(spec, out, force=force)
    todo = [c for c in spec.cells if force or not cell_done(root, c.hash)]
    total = len(spec.cells)
    counts = {"done": total - len(todo), "running": len(todo), "failed": 0}

    def tick() -> None:
        if progress is not None:
            progress(completed=counts["done"] + counts["failed"], total=total, description="cells", **counts)

    tick()
    records: dict[str, dict[str, Any]] = {}
    for record in (_run_local(todo, root, force) if client is None else _run_dask(client, todo, root, force)):
        records[record["cell"]] = record
        counts["running"] -= 1
        counts["failed" if record["status"] != "ok" else "done"] += 1
        tick()
    return summarize_sweep(spec, root, executed=[h for h, r in records.items() if r.get("executed")],
                           fresh=records, figures=figures)


def _run_local(todo: list[Cell], root: Path, force: bool):
    made: dict[str, dict[str, Any]] = {}
    for cell in todo:
        path = data_file(root, cell)
        if cell.data_path:
            data = {"path": str(path)}
        else:
            data = made.get(cell.data_hash) or generate_data(cell.inputs["data"], str(path))
            made[cell.data_hash] = data
        yield run_cell(cell.__dict__, str(root), data, force)


def _run_dask(client: Any, todo: list[Cell], root: Path, force: bool):
    from distributed import as_completed

    token = secrets.token_hex(4)  # keys of this run: a long-lived scheduler may still hold an earlier run's
    generated: dict[str, Any] = {}
    futures = {}
    for cell in todo:
        path = data_file(root, cell)
        if cell.data_path:
            data = {"path": str(path)}
        else:
            if cell.data_hash not in generated:
                generated[cell.data_hash] = client.submit(generate_data, cell.inputs["data"], str(path),
                                                          key=f"generate-{cell.data_hash}-{token}", retries=RETRIES)
            data = generated[cell.data_hash]
        future = client.submit(run_cell, cell.__dict__, str(root), data, force, key=f"cell-{cell.hash}-{token}",
                               retries=RETRIES)
        futures[future] = cell
    for future in as_completed(list(futures)):
        cell = futures[future]
        try:
            yield future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after every retry: the cell's row says so
            yield {**cell.labels(), "status": "error", "reason": _reason(exc), "accuracy": float("nan"),
                   "auroc": float("nan"), "seconds": float("nan"), "executed": True}
        finally:
            future.release()


def summarize_sweep(spec: SweepSpec, root: str | Path, *, executed: list[str] | None = None,
                    fresh: dict[str, dict[str, Any]] | None = None, figures: bool = True) -> SweepResult:
    """Build ``sweep.csv``, ``results.csv``, the recovery matrix and ``report.html`` from the cell
    directories (small tables only)."""
    from motifprobe.engine.outputs import atomic_path
    from motifprobe.engine.recovery import recovery_matrix, recovery_table, write_recovery_outputs

    root = Path(root)
    rows, results, scorecards = [], [], []
    for cell in spec.cells:
        labels = cell.labels()
        target = cell_dir(root, cell.hash)
        if cell_done(root, cell.hash):
            record = json.loads((target / "cell.json").read_text())
            metrics = record.get("metrics", {})
            rows.append({**labels, "status": "ok", "accuracy": metrics.get("accuracy"), "auroc": metrics.get("auroc"),
                         "seconds": record.get("seconds"), "reason": ""})
            extra = {k: labels[k] for k in ("cell", "dataset", "rule", "size", "seed")}
            results.append(pd.read_csv(target / "results.csv", keep_default_na=False, na_values=[""]).assign(**extra))
            card = pd.read_csv(target / "scorecard.csv", keep_default_na=False, na_values=[""])
            scorecards.append(card.assign(**extra, accuracy=metrics.get("accuracy")))
            continue
        error = (fresh or {}).get(cell.hash)
        if error is None:
            with contextlib.suppress(OSError, ValueError):
                error = json.loads(_error_file(root, cell.hash).read_text())
        rows.append({**labels, "status": "error" if error else "not run", "accuracy": None, "auroc": None,
                     "seconds": (error or {}).get("seconds"), "reason": (error or {}).get("reason", "")})
    cells = pd.DataFrame(rows, columns=CELL_COLUMNS)
    front = ["cell", "dataset", "rule", "size", "seed"]
    table = pd.concat(results, ignore_index=True) if results else pd.DataFrame(columns=front)
    table = table[front + [c for c in table.columns if c not in front]]
    cards = pd.concat(scorecards, ignore_index=True) if scorecards else pd.DataFrame()
    long = recovery_table(cards)
    matrix = recovery_matrix(long)
    with atomic_path(root / "sweep.csv") as tmp:
        cells.to_csv(tmp, index=False)
    with atomic_path(root / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_recovery_outputs(root, long, matrix, cells, title=spec.spec.get("name") or Path(spec.source).stem,
                           figures=figures)
    return SweepResult(cells, list(executed or []), root, table, long)
