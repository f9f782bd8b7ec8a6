"""Sequences from files: FASTA (plain or gzipped) or BED intervals cut from a genome FASTA.

Both give a :class:`~motifprobe.engine.dataset.Dataset` with no motif sites, any lengths
(padded in memory with N, kept at their own length in the file) and labels when the files
have them:

- FASTA: read streaming, one record at a time, without a parser library. The id is the
  header's first word; a ``label=0`` / ``label=1`` word in the header is the label (the form
  ``motifprobe export --fasta`` writes; ``label=-1`` or none: unlabeled).
- BED + genome: the genome is read through pyfaidx (an index ``GENOME.fai`` is built beside
  it if missing), which fetches only the intervals asked for: the genome is never loaded
  whole. ``width`` gives windows of that many bases centred on each interval (the centre is
  ``(start + end) // 2``; the window starts ``width // 2`` before it); without it, the
  intervals as they are. A window off the chromosome is refused, or filled with N with
  ``out_of_bounds="pad"``. The + strand is read whatever the BED strand column says. The id is
  the BED name (column 4) unless it is missing or ``.``, then ``chrom:start-end``.
- Labels may instead come from a TSV keyed by id (``id<TAB>label``, a header line allowed);
  sequences it does not list are unlabeled. A label is 0 or 1; ``-1``, ``.``, ``NA`` or empty
  means unlabeled.

Letters: see :mod:`motifprobe.engine.sequences` (IUPAC ambiguity letters read as N,
lower case upper-cased). Every problem is one ``MotifprobeError`` line naming the file, the
record or line, and what is allowed.
"""
from __future__ import annotations

import difflib
import gzip
import os
from pathlib import Path

import numpy as np

from motifprobe.engine.dataset import Dataset, empty_sites, file_sha256
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.sequences import N_CODE, codes_from_bytes

OUT_OF_BOUNDS = ("refuse", "pad")
UNLABELED = ("-1", ".", "NA", "")
"""Label values that mean "no label"."""


# -- small shared checks ---------------------------------------------------------------------
def _input_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise MotifprobeError(f"{what} {str(path)!r} does not exist")
    if path.is_dir():
        raise MotifprobeError(f"{what} {str(path)!r} is a directory, expected a file")
    return path


def parse_label(value: str, where: str) -> int:
    """``'0'`` / ``'1'`` -> 0 / 1; an unlabeled spelling (``-1 . NA`` or empty) -> -1."""
    value = value.strip()
    if value in ("0", "1"):
        return int(value)
    if value in UNLABELED:
        return -1
    shown = value if len(value) <= 20 else value[:17] + "..."
    raise MotifprobeError(f"{where} has label {shown!r}; allowed: 0, 1, or -1 / . / NA / empty for unlabeled")


def check_width(width) -> int | None:
    """``None`` or a positive integer."""
    if width is None:
        return None
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise MotifprobeError(f"--width {width!r} is not allowed; allowed: a positive integer (bases)")
    return int(width)


def check_out_of_bounds(value: str) -> str:
    if value not in OUT_OF_BOUNDS:
        raise MotifprobeError(f"--out-of-bounds {value!r} is not allowed; allowed: {', '.join(OUT_OF_BOUNDS)}")
    return value


# -- FASTA -----------------------------------------------------------------------------------
def _open_text(path: Path):
    """The file's lines as bytes, gunzipped when it starts with the gzip magic bytes."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_fasta_records(path: str | os.PathLike) -> tuple[list[str], np.ndarray, np.ndarray, list[str | None]]:
    """Stream a FASTA file (plain or gzipped): ids, letters end to end, offsets, header labels.

    Returns
    -------
    (ids, raw, offsets, labels)
        ids (first word of each header), ``uint8`` letters of all records one after the other,
        int64 offsets (n + 1,), and the text after ``label=`` in each header (None if absent).

    Raises
    ------
    MotifprobeError
        For an empty file, text before the first header, a header with no id, a duplicate id or
        a record with no sequence (one line naming the file, record and line).
    """
    path = _input_file(path, "FASTA file")
    shown = str(path)
    ids: list[str] = []
    labels: list[str | None] = []
    starts: list[int] = []
    seen: dict[str, int] = {}
    buf = bytearray()
    header_line = 0
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith(b">"):
                    if ids and len(buf) == starts[-1]:
                        raise MotifprobeError(f"FASTA file {shown!r}: record {ids[-1]!r} (line {header_line}) has no "
                                              "sequence (length 0)")
                    words = line[1:].split()
                    if not words:
                        raise MotifprobeError(f"FASTA file {shown!r}: the header on line {number} has no id")
                    name = words[0].decode("utf-8", "replace")
                    if name in seen:
                        raise MotifprobeError(f"FASTA file {shown!r}: id {name!r} appears twice (lines {seen[name]} "
                                              f"and {number}); ids must be unique")
                    seen[name] = number
                    label = None if b"label=" not in line else next(
                        (w[6:].decode("utf-8", "replace") for w in words[1:] if w.startswith(b"label=")), None)
                    ids.append(name)
                    labels.append(label)
                    starts.append(len(buf))
                    header_line = number
                    continue
                letters = line.strip()
                if not letters:
                    continue
                if not ids:
                    raise MotifprobeError(f"FASTA file {shown!r}: line {number} comes before any header; a FASTA "
                                          "file starts with a '>' header line")
                buf += letters
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise MotifprobeError(f"FASTA file {shown!r} could not be read: {exc}") from None
    if not ids:
        raise MotifprobeError(f"FASTA file {shown!r} has no records (no '>' header line)")
    if len(buf) == starts[-1]:
        raise MotifprobeError(f"FASTA file {shown!r}: record {ids[-1]!r} (line {header_line}) has no sequence (length 0)")
    offsets = np.asarray(starts + [len(buf)], dtype=np.int64)
    return ids, np.frombuffer(bytes(buf), dtype=np.uint8), offsets, labels


def read_label_table(path: str | os.PathLike, ids: list[str]) -> np.ndarray:
    """Labels for ``ids`` from a TSV ``id<TAB>label`` (a header line allowed; -1 for ids it lacks).

    Ids in the table that are not among ``ids``, repeated ids and labels other than 0, 1 or an
    unlabeled spelling are refused.
    """
    path = _input_file(path, "--labels file")
    shown = str(path)
    index = {name: i for i, name in enumerate(ids)}
    labels = np.full(len(ids), -1, dtype=np.int64)
    seen: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) < 2:
                    fields = line.split()
                if len(fields) < 2:
                    raise MotifprobeError(f"--labels file {shown!r}: line {number} has one column; expected id<TAB>label")
                name, value = fields[0].strip(), fields[1]
                if not seen and name not in index and value.strip() not in ("0", "1") + UNLABELED:
                    seen[""] = number  # the header line
                    continue
                if name in seen:
                    raise MotifprobeError(f"--labels file {shown!r}: id {name!r} appears twice (lines {seen[name]} "
                                          f"and {number})")
                seen[name] = number
                if name not in index:
                    raise MotifprobeError(f"--labels file {shown!r}: id {name!r} (line {number}) is not among the "
                                          f"sequences{_close(name, ids)}")
                labels[index[name]] = parse_label(value, f"--labels file {shown!r}: id {name!r} (line {number})")
    except OSError as exc:
        raise MotifprobeError(f"--labels file {shown!r} could not be read: {exc}") from None
    return labels


def _close(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names)[:100_000], n=3)
    return f" (close: {', '.join(close)})" if close else ""


def import_fasta(path: str | os.PathLike, *, labels: str | os.PathLike | None = None, width: int | None = None,
                 out_of_bounds: str = "refuse") -> Dataset:
    """A dataset from a FASTA / gzipped FASTA file.

    Parameters
    ----------
    path : path
        The FASTA file (any lengths; gzip detected from the content).
    labels : path, optional
        TSV ``id<TAB>label``; when given, ``label=`` words in headers are ignored.
    width : int, optional
        Fit every sequence to this length with :meth:`Dataset.fit_length` (centre crop, N pad).
    out_of_bounds : {"refuse", "pad"}
        With ``width``: refuse a sequence shorter than ``width`` (default), or N-pad it.

    Returns
    -------
    Dataset
        No motif sites; metadata ``source`` = kind fasta, path, sha256, width, labels.
    """
    width = check_width(width)
    out_of_bounds = check_out_of_bounds(out_of_bounds)
    ids, raw, offsets, header_labels = read_fasta_records(path)
    try:
        codes, lengths = codes_from_bytes(raw, offsets, ids)
    except MotifprobeError as exc:
        raise MotifprobeError(f"FASTA file {str(path)!r}: {exc}") from None
    if labels is not None:
        label_values = read_label_table(labels, ids)
        label_source = {"kind": "tsv", "path": str(labels), "sha256": file_sha256(labels)}
    else:
        label_values = np.asarray([-1 if v is None else parse_label(v, f"FASTA file {str(path)!r}: record {i!r}")
                                   for i, v in zip(ids, header_labels)], dtype=np.int64)
        label_source = {"kind": "header"} if (label_values >= 0).any() else None
    if width is not None and out_of_bounds == "refuse" and (lengths < width).any():
        short = int(np.flatnonzero(lengths < width)[0])
        raise MotifprobeError(f"FASTA file {str(path)!r}: record {ids[short]!r} is {int(lengths[short])} bp, shorter "
                              f"than --width {width} ({int((lengths < width).sum())} such); use --out-of-bounds pad "
                              "to fill with N")
    source = {"kind": "fasta", "path": str(path), "sha256": file_sha256(path), "genome": None, "width": width,
              "labels": label_source, "out_of_bounds": out_of_bounds if width is not None else None}
    dataset = Dataset(np.asarray(ids, dtype=object), codes, label_values, empty_sites(), {"source": source},
                      lengths=lengths)
    if width is not None:
        dataset, _ = dataset.fit_length(width)
    return dataset


# -- BED + genome ----------------------------------------------------------------------------
def read_bed(path: str | os.PathLike, label_column: int | None = None) -> list[tuple]:
    """BED intervals: (line number, chrom, start, end, name or None, label text or None).

    ``track``, ``browser``, ``#`` and blank lines are skipped; start and end must be integers
    with 0 <= start < end.
    """
    path = _input_file(path, "BED file")
    shown = str(path)
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) < 3:
                    fields = line.split()
                if len(fields) < 3:
                    raise MotifprobeError(f"BED file {shown!r}: line {number} has {len(fields)} column(s); a BED line "
                                          "has chrom, start, end (tab-separated)")
                chrom = fields[0].strip()
                try:
                    start, end = int(fields[1]), int(fields[2])
                except ValueError:
                    raise MotifprobeError(f"BED file {shown!r}: line {number} has start {fields[1]!r}, end "
                                          f"{fields[2]!r}; allowed: integers (0-based, end exclusive)") from None
                if start < 0 or end <= start:
                    raise MotifprobeError(f"BED file {shown!r}: line {number} ({chrom}:{start}-{end}) needs "
                                          "0 <= start < end (0-based, end exclusive)")
                name = fields[3].strip() if len(fields) > 3 and fields[3].strip() not in ("", ".") else None
                label = None
                if label_column is not None:
                    if len(fields) < label_column:
                        raise MotifprobeError(f"BED file {shown!r}: line {number} has {len(fields)} columns, no "
                                              f"--label-column {label_column}")
                    label = fields[label_column - 1]
                    if label_column == 4:
                        name = None
                rows.append((number, chrom, start, end, name, label))
    except OSError as exc:
        raise MotifprobeError(f"BED file {shown!r} could not be read: {exc}") from None
    if not rows:
        raise MotifprobeError(f"BED file {shown!r} has no intervals")
    return rows


def open_genome(path: str | os.PathLike):
    """A pyfaidx ``Fasta`` over the genome (indexed, never loaded whole); one line if it cannot be."""
    import pyfaidx

    path = _input_file(path, "--genome file")
    try:
        return pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=False)
    except Exception as exc:  # noqa: BLE001 - pyfaidx raises several types (indexing, bgzip, OSError)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MotifprobeError(f"--genome file {str(path)!r} could not be indexed by pyfaidx: {first} "
                              "(a plain or bgzip-compressed FASTA is needed)") from None


def import_bed(path: str | os.PathLike, genome: str | os.PathLike, *, width: int | None = None,
               out_of_bounds: str = "refuse", labels: str | os.PathLike | None = None,
               label_column: int | None = None) -> Dataset:
    """A dataset of BED intervals (or ``width``-bp windows centred on them) cut from ``genome``.

    Parameters
    ----------
    path, genome : path
        BED file and genome FASTA (read with pyfaidx: only the intervals are fetched).
    width : int, optional
        Window length centred on each interval; default: each interval as it is.
    out_of_bounds : {"refuse", "pad"}
        A window off the chromosome: refused naming the interval (default), or padded with N.
    labels : path, optional
        TSV ``id<TAB>label``.
    label_column : int, optional
        1-based BED column holding the label (like ``cut -f``); 4 or later.

    Returns
    -------
    Dataset
        No motif sites; metadata ``source`` = kind bed, path, sha256, genome, width, labels,
        out_of_bounds and the number of padded windows.
    """
    width = check_width(width)
    out_of_bounds = check_out_of_bounds(out_of_bounds)
    if label_column is not None:
        if isinstance(label_column, bool) or not isinstance(label_column, (int, np.integer)) or label_column < 4:
            raise MotifprobeError(f"--label-column {label_column!r} is not allowed; allowed: 4 or more (1-based; "
                                  "columns 1-3 are chrom, start, end)")
        if labels is not None:
            raise MotifprobeError("give --labels FILE or --label-column N, not both")
    shown = str(path)
    rows = read_bed(path, label_column)
    fasta = open_genome(genome)
    index = fasta.faidx.index
    buf = bytearray()
    starts, ids, seen, padded = [], [], {}, 0
    for number, chrom, start, end, name, _ in rows:
        where = f"BED file {shown!r}: line {number} ({chrom}:{start}-{end})"
        if chrom not in index:
            raise MotifprobeError(f"{where}: chromosome {chrom!r} is not in --genome {str(genome)!r}"
                                  f"{_close(chrom, index.keys())}")
        size = int(index[chrom].rlen)
        lo, hi = (start, end) if width is None else ((start + end) // 2 - width // 2, (start + end) // 2 - width // 2 + width)
        if lo < 0 or hi > size:
            if out_of_bounds == "refuse":
                raise MotifprobeError(f"{where}: the window {chrom}:{lo}-{hi} runs off the chromosome (length {size}); "
                                      "use --out-of-bounds pad to fill with N")
            padded += 1
        ident = name if name is not None else f"{chrom}:{start}-{end}"
        if ident in seen:
            raise MotifprobeError(f"BED file {shown!r}: id {ident!r} appears twice (lines {seen[ident]} and {number}); "
                                  "ids (column 4, else chrom:start-end) must be unique")
        seen[ident] = number
        ids.append(ident)
        starts.append(len(buf))
        buf += b"N" * max(0, -lo)
        if min(hi, size) > max(lo, 0):
            buf += fasta[chrom][max(lo, 0):min(hi, size)].encode("ascii", "replace")
        buf += b"N" * max(0, hi - max(size, lo))
    fasta.close()
    offsets = np.asarray(starts + [len(buf)], dtype=np.int64)
    try:
        codes, lengths = codes_from_bytes(np.frombuffer(bytes(buf), dtype=np.uint8), offsets, ids)
    except MotifprobeError as exc:
        raise MotifprobeError(f"--genome file {str(genome)!r}: {exc}") from None
    if labels is not None:
        label_values = read_label_table(labels, ids)
        label_source = {"kind": "tsv", "path": str(labels), "sha256": file_sha256(labels)}
    elif label_column is not None:
        label_values = np.asarray([parse_label(r[5], f"BED file {shown!r}: line {r[0]}") for r in rows], dtype=np.int64)
        label_source = {"kind": "bed column", "column": int(label_column)}
    else:
        label_values, label_source = np.full(len(ids), -1, dtype=np.int64), None
    source = {"kind": "bed", "path": shown, "sha256": file_sha256(path), "genome": str(genome), "width": width,
              "labels": label_source, "out_of_bounds": out_of_bounds, "padded": padded}
    return Dataset(np.asarray(ids, dtype=object), codes, label_values, empty_sites(), {"source": source},
                   lengths=lengths)


def n_share(dataset: Dataset) -> float:
    """Share of N among the bases of the sequences (their own lengths; padding not counted)."""
    total = int(dataset.lengths.sum())
    if not total:
        return 0.0
    padding = dataset.codes.size - total
    return (int(np.count_nonzero(dataset.codes == N_CODE)) - padding) / total
