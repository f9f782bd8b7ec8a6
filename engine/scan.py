"""Motif sites found by FIMO (memelite's numba implementation) over a dataset, both strands.

``scan_codes`` calls :func:`memelite.fimo` on one-hot blocks of many sequences at once (N is
an all-zero column, which memelite scores 0 at every motif position). memelite computes
p-values against a uniform background, with a pseudocount of 1e-4 added to each PWM entry
and scores binned at 0.1 bit, as its defaults are. The score is the summed log2-odds of the
site. A site on ``-`` matched the reverse complement of the motif; its ``start``/``end`` are
plus-strand coordinates (0-based, end exclusive), as planted sites are.

**Recovery of planted sites** (``planted_recovery``): a planted site is *recovered* when a
scanned site of the same motif name overlaps it by at least 1 bp, on either strand (the
same-strand count is given too); *recall* is recovered / planted. A scanned site is *true*
when it overlaps a planted site of its motif; *precision* is true / scanned, over the motifs
that have planted sites. A background match of a motif in a sequence where it was also
planted elsewhere counts against precision, as it should.

memelite's functions are compiled by numba on first use and cached on disk: in
``NUMBA_CACHE_DIR`` when the user set it, else in ``~/.cache/motifprobe/numba`` (set before
numba is imported), so the compile (10-30 s on 2 cores) is paid once per machine.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset, empty_sites
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.motif_library import Motif
from motifprobe.engine.sequences import one_hot

DEFAULT_P_VALUE = 1e-4
SITE_MODES = ("replace", "add")
# Sequences per fimo call: bounded by bases so that the one-hot block stays near 40 MB.
CHUNK_BASES = 10_000_000


def numba_cache_dir() -> Path:
    """Where numba's compiled memelite code is cached (the user's ``NUMBA_CACHE_DIR`` wins)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "motifprobe" / "numba"


def setup_numba_cache() -> None:
    """Point numba's cache at :func:`numba_cache_dir` unless the user chose one.

    Called before memelite (and so numba) is imported; if numba is already loaded its config
    is set directly, which the cache reads when a function is first compiled.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    target = numba_cache_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # numba falls back to __pycache__ next to memelite's sources
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    if "numba" in sys.modules:
        from numba.core import config

        config.CACHE_DIR = str(target)


def check_p_value(p_value: float) -> float:
    """A p-value threshold in (0, 1]; anything else raises MotifprobeError."""
    try:
        value = float(p_value)
    except (TypeError, ValueError):
        raise MotifprobeError(f"--p-value {p_value!r} is not a number; allowed: a number in (0, 1]") from None
    if isinstance(p_value, bool) or not 0.0 < value <= 1.0:
        raise MotifprobeError(f"--p-value {p_value!r} is not allowed; allowed: a number in (0, 1], e.g. 1e-4")
    return value


def scan_codes(codes: np.ndarray, motifs: list[Motif], *, p_value: float = DEFAULT_P_VALUE,
               lengths: np.ndarray | None = None, chunk_bases: int = CHUNK_BASES) -> pd.DataFrame:
    """Every FIMO site of ``motifs`` in ``codes`` on both strands at ``p_value`` or below.

    Parameters
    ----------
    codes : numpy.ndarray of uint8, shape (N, L)
        A=0 C=1 G=2 T=3; any other code (N = 4, padding) scores 0 and is never a base.
    motifs : list of Motif
    p_value : float
        Report sites with a p-value at or below this (memelite's ``threshold``).
    lengths : numpy.ndarray of int, shape (N,), optional
        True length of each row when rows are padded to L: sites reaching past it are dropped.
    chunk_bases : int
        Bases per fimo call (memory bound); every call scans many sequences.

    Returns
    -------
    pandas.DataFrame
        ``seq``, ``name``, ``start``, ``end`` (0-based, exclusive, plus-strand coordinates),
        ``strand`` (+/-), ``score`` (log2 odds), ``p_value``; sorted by seq, start, name.
    """
    p_value = check_p_value(p_value)
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim != 2:
        raise MotifprobeError(f"codes must be 2-D (sequences, positions), got shape {codes.shape}")
    if not motifs:
        raise MotifprobeError("give at least one motif to scan for")
    n, length = codes.shape
    if n == 0 or length == 0:
        return _empty_hits()
    setup_numba_cache()
    from memelite import fimo

    pwms = {str(i): np.ascontiguousarray(m.pwm.T, dtype=np.float64) for i, m in enumerate(motifs)}
    step = max(1, int(chunk_bases) // max(length, 1))
    parts = []
    for lo in range(0, n, step):
        block = codes[lo:lo + step]
        hits = fimo(pwms, one_hot(block, dtype=np.bool_), threshold=p_value)
        for i, frame in enumerate(hits):
            if len(frame):
                parts.append(pd.DataFrame({
                    "seq": frame["sequence_name"].to_numpy(np.int64) + lo,
                    "motif": np.full(len(frame), i, dtype=np.int64),
                    "start": frame["start"].to_numpy(np.int64),
                    "end": frame["end"].to_numpy(np.int64),
                    "strand": frame["strand"].to_numpy(object),
                    "score": frame["score"].to_numpy(np.float64),
                    "p_value": frame["p-value"].to_numpy(np.float64),
                }))
    if not parts:
        return _empty_hits()
    table = pd.concat(parts, ignore_index=True)
    if lengths is not None:
        table = table[table["end"].to_numpy() <= np.asarray(lengths, dtype=np.int64)[table["seq"].to_numpy()]]
    names = np.asarray([m.name for m in motifs], dtype=object)
    table.insert(1, "name", names[table.pop("motif").to_numpy()])
    return table.sort_values(["seq", "start", "name", "strand"], kind="stable").reset_index(drop=True)


def instance_pass_rate(motifs: list[Motif], p_value: float = DEFAULT_P_VALUE, *, n: int = 1000,
                       seed: int = 0) -> np.ndarray:
    """Share of instances drawn from each PWM that the scan reports at ``p_value``.

    This bounds the recall of planted instances (which are such draws): a low-information
    motif has most of its draws far from the consensus, scoring below any strict threshold.
    The draws use a fixed seed, so the figure is the same on every run.
    """
    from motifprobe.engine.motif_library import sample_pwm

    if not motifs:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    width = max(m.length for m in motifs)
    codes = np.full((len(motifs) * n, width), 4, dtype=np.uint8)
    for i, m in enumerate(motifs):
        codes[i * n:(i + 1) * n, :m.length] = sample_pwm(m.pwm, n, rng)
    hits = scan_codes(codes, motifs, p_value=p_value)
    owner = np.asarray([m.name for m in motifs], dtype=object)[hits["seq"].to_numpy() // n]
    found = hits.loc[hits["name"].to_numpy() == owner, "seq"].unique() // n
    return np.bincount(found, minlength=len(motifs)) / n


def _empty_hits() -> pd.DataFrame:
    sites = empty_sites()
    sites["score"] = np.zeros(0, np.float64)
    sites["p_value"] = np.zeros(0, np.float64)
    return sites


# -- recovery of planted sites ----------------------------------------------------------------
def _overlapped(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """For each row of ``a``, whether a row of ``b`` in the same sequence overlaps it (>= 1 bp)."""
    hit = np.zeros(len(a), dtype=bool)
    if not len(a) or not len(b):
        return hit
    stride = int(max(a["end"].max(), b["end"].max())) + int((b["end"] - b["start"]).max()) + 2
    a_base = a["seq"].to_numpy(np.int64) * stride
    widths = (b["end"] - b["start"]).to_numpy(np.int64)
    for width in np.unique(widths):
        # Sites of one width overlap [start, end) exactly when they start in (start - width, end).
        rows = b[widths == width]
        keys = np.sort(rows["seq"].to_numpy(np.int64) * stride + rows["start"].to_numpy(np.int64))
        lo = np.searchsorted(keys, a_base + a["start"].to_numpy(np.int64) - width + 1, side="left")
        hi = np.searchsorted(keys, a_base + a["end"].to_numpy(np.int64) - 1, side="right")
        hit |= hi > lo
    return hit


def planted_recovery(planted: pd.DataFrame, scanned: pd.DataFrame, motif_names: list[str]) -> pd.DataFrame:
    """Recall and precision of the scan against planted sites, per motif and for ``all``.

    Only the motifs among ``motif_names`` (those scanned for) that have planted sites count
    (see the module docstring for the definitions).

    Returns
    -------
    pandas.DataFrame
        ``motif``, ``planted``, ``recovered``, ``recovered_same_strand``, ``recall``,
        ``scanned``, ``true``, ``precision``; empty when no scanned motif was planted.
    """
    rows = []
    names = [n for n in pd.unique(planted["name"]) if n in set(motif_names)]
    for name in names:
        p = planted[planted["name"] == name]
        s = scanned[scanned["name"] == name]
        recovered = _overlapped(p, s)
        same = np.zeros(len(p), dtype=bool)
        for strand in ("+", "-"):
            mask = (p["strand"] == strand).to_numpy()
            same[mask] = _overlapped(p[mask], s[s["strand"] == strand])
        true = _overlapped(s, p)
        rows.append({"motif": name, "planted": len(p), "recovered": int(recovered.sum()),
                     "recovered_same_strand": int(same.sum()), "scanned": len(s), "true": int(true.sum())})
    table = pd.DataFrame(rows, columns=["motif", "planted", "recovered", "recovered_same_strand", "scanned", "true"])
    if len(table):
        table.loc[len(table)] = ["all", *table.iloc[:, 1:].sum().astype(int).tolist()]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["recall"] = table["recovered"] / table["planted"].where(table["planted"] > 0)
        table["precision"] = table["true"] / table["scanned"].where(table["scanned"] > 0)
    return table


# -- datasets ---------------------------------------------------------------------------------
@dataclass
class ScanResult:
    """What :func:`scan_dataset` returns.

    Attributes
    ----------
    dataset : Dataset
        The input's sequences and labels with the scanned sites (and, with ``sites='add'``,
        the earlier ones, whose ``score`` and ``p_value`` are NaN).
    hits : pandas.DataFrame
        The scanned sites alone (see :func:`scan_codes`).
    motifs : list of Motif
    recovery : pandas.DataFrame
        :func:`planted_recovery` against the input's sites (empty when it had none of these motifs).
    """

    dataset: Dataset
    hits: pd.DataFrame
    motifs: list[Motif]
    recovery: pd.DataFrame


def scan_dataset(dataset: Dataset, motifs: list[Motif], *, p_value: float = DEFAULT_P_VALUE,
                 sites: str = "replace") -> ScanResult:
    """Scan every sequence of ``dataset`` for ``motifs``; return a dataset holding the sites.

    ``sites='replace'`` (default) keeps only the scanned sites; ``'add'`` keeps the earlier
    (planted) sites too. ``metadata['motifs']`` lists each scanned motif's name, source,
    version, length and origin; ``metadata['scan']`` the scanner, its settings and the
    recovery of planted sites.
    """
    if sites not in SITE_MODES:
        raise MotifprobeError(f"--sites {sites!r} is not allowed; allowed: {', '.join(SITE_MODES)}")
    p_value = check_p_value(p_value)
    hits = scan_codes(dataset.codes, motifs, p_value=p_value, lengths=getattr(dataset, "lengths", None))
    recovery = planted_recovery(dataset.sites, hits, [m.name for m in motifs])
    if sites == "add":
        old = dataset.sites.copy()
        for column in ("score", "p_value"):
            if column not in old:
                old[column] = np.nan
        new_sites = pd.concat([old, hits], ignore_index=True)
    else:
        new_sites = hits
    metadata = dict(dataset.metadata)
    scanned = {m.name for m in motifs}
    kept = [e for e in metadata.get("motifs") or [] if sites == "add" and isinstance(e, dict) and e.get("name") not in scanned]
    metadata["motifs"] = kept + [{**m.describe(), "sites": "scan"} for m in motifs]
    metadata["scan"] = {"tool": "memelite.fimo", "memelite": _memelite_version(), "p_value": p_value,
                        "strands": "both", "background": "uniform", "sites": sites,
                        "planted_recovery": _totals(recovery)}
    out = Dataset(dataset.ids, dataset.codes, dataset.labels, new_sites, metadata)
    if getattr(dataset, "lengths", None) is not None:
        out.lengths = dataset.lengths
    return ScanResult(out, hits, list(motifs), recovery)


def _totals(recovery: pd.DataFrame) -> dict | None:
    """The ``all`` row as plain JSON values (NaN as null)."""
    if not len(recovery):
        return None
    row = recovery[recovery["motif"] == "all"].iloc[0].drop("motif")
    return {k: (None if isinstance(v, float) and np.isnan(v) else (float(v) if isinstance(v, float) else int(v)))
            for k, v in row.items()}


def _memelite_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("memelite")
    except PackageNotFoundError:
        return "unknown"
