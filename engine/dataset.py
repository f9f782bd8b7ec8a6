"""The dataset: sequences, labels and planted motif sites, stored as Parquet.

File layout (one row per sequence): ``id`` (string), ``sequence`` (string over A C G T N, each
at its own length), ``label`` (int, null = unlabeled), ``motifs`` (list of struct ``name``,
``start``, ``end`` (0-based, end exclusive, within the sequence's own length), ``strand``, and
optionally ``score`` and ``p_value`` (float64, null when absent), written only when some site
has them).
File metadata key ``motifprobe`` holds JSON: format version, then for generated data the
generator and its parameters, seed, background distribution and the planted rule; for
imported data ``source`` (``kind`` fasta or bed, ``path``, ``sha256``, ``genome``, ``width``).

In memory, sequences of different lengths are padded on the right with N (code 4) to the
longest; :attr:`Dataset.lengths` holds each true length.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from motifprobe.engine.atomic import atomic_path
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.sequences import LETTERS, N_CODE, codes_from_bytes, decode

FORMAT_VERSION = 1
METADATA_KEY = b"motifprobe"
SITE_COLUMNS = ("seq", "name", "start", "end", "strand")
OPTIONAL_SITE_COLUMNS = ("score", "p_value")
"""Site columns a scanner fills (float64, NaN when absent); a site table may lack them."""
SOURCE_KINDS = ("fasta", "bed")
REQUIRED_COLUMNS = ("id", "sequence", "label", "motifs")


def empty_sites() -> pd.DataFrame:
    """A site table with no rows and the right dtypes."""
    return pd.DataFrame({"seq": np.zeros(0, np.int64), "name": np.zeros(0, object), "start": np.zeros(0, np.int64),
                         "end": np.zeros(0, np.int64), "strand": np.zeros(0, object)})


def first_site_bounds(sites: pd.DataFrame, name: str, num_seqs: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of the first listed instance of ``name`` in each of ``num_seqs`` rows; -1 if none.

    A Dataset keeps its sites sorted by (seq, start), so there the first is the leftmost.
    """
    start = np.full(num_seqs, -1, dtype=np.int64)
    end = np.full(num_seqs, -1, dtype=np.int64)
    rows = sites[sites["name"] == name].drop_duplicates("seq", keep="first")
    start[rows["seq"].to_numpy()] = rows["start"].to_numpy()
    end[rows["seq"].to_numpy()] = rows["end"].to_numpy()
    return start, end


@dataclass
class Dataset:
    """Sequences in memory.

    Attributes
    ----------
    ids : numpy.ndarray of str, shape (N,)
    codes : numpy.ndarray of uint8, shape (N, L), A=0 C=1 G=2 T=3 N=4
        L is the longest sequence; shorter ones are padded on the right with N.
    labels : numpy.ndarray of int64, shape (N,); -1 where a sequence has no label
    sites : pandas.DataFrame
        One row per motif instance: ``seq`` (row index into codes), ``name``, ``start``,
        ``end`` (exclusive), ``strand``, optionally ``score`` and ``p_value`` (NaN when
        absent); sorted by ``seq`` then ``start``.
    metadata : dict
        Generator, parameters, seed, background and planted rule, or the ``source`` of
        imported data (see module docstring).
    lengths : numpy.ndarray of int64, shape (N,)
        True length of each sequence (default: all L).
    """

    ids: np.ndarray
    codes: np.ndarray
    labels: np.ndarray
    sites: pd.DataFrame = field(default_factory=empty_sites)
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None
    lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=object)
        self.codes = np.ascontiguousarray(self.codes, dtype=np.uint8)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.codes.ndim != 2 or len(self.ids) != self.codes.shape[0] or len(self.labels) != len(self.ids):
            raise MotifprobeError(
                f"dataset parts disagree: {len(self.ids)} ids, codes {self.codes.shape}, {len(self.labels)} labels")
        width = self.codes.shape[1]
        if self.lengths is None:
            self.lengths = np.full(len(self.ids), width, dtype=np.int64)
        else:
            self.lengths = np.asarray(self.lengths, dtype=np.int64)
            if self.lengths.shape != (len(self.ids),) or (len(self.lengths) and (
                    self.lengths.min() < 0 or self.lengths.max() > width)):
                raise MotifprobeError(f"dataset lengths must be {len(self.ids)} integers in 0..{width} "
                                      f"(the codes' width), got shape {self.lengths.shape}")
        if len(self.sites):
            self.sites = self.sites.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def seq_length(self) -> int:
        """The width of ``codes``: the longest sequence (all of them when lengths are equal)."""
        return int(self.codes.shape[1])

    @property
    def equal_lengths(self) -> bool:
        """True when every sequence is ``seq_length`` long (no padding)."""
        return bool((self.lengths == self.seq_length).all())

    @property
    def labeled(self) -> np.ndarray:
        """Boolean (N,): the sequence has a label (0 or 1)."""
        return self.labels >= 0

    @property
    def motif_names(self) -> list[str]:
        """Names of motifs with at least one recorded site, in first-seen order."""
        return list(pd.unique(self.sites["name"]))

    @property
    def background(self) -> np.ndarray:
        """Background A/C/G/T distribution: from the metadata, else counted off motif-free bases."""
        recorded = self.metadata.get("background")
        if recorded is not None:
            return np.asarray(recorded, dtype=np.float64)
        free = self.codes[~self.occupied()]
        counts = np.bincount(free, minlength=4)[:4].astype(np.float64) + 1.0
        return counts / counts.sum()

    @property
    def rule(self) -> dict | None:
        """The planted rule's metadata (``name``, ``pos_motifs``, ``params``) if known; see
        :func:`motifprobe.engine.rules.rule_from_dict` for the object."""
        return self.metadata.get("rule")

    def site_bounds(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of the first instance of ``name`` per sequence (-1 where absent)."""
        return first_site_bounds(self.sites, name, len(self))

    def occupied(self, exclude: tuple[str, ...] = ()) -> np.ndarray:
        """Boolean (N, L) mask of positions covered by a recorded site (bar ``exclude`` names)."""
        from motifprobe.engine.ops import interval_mask

        sites = self.sites[~self.sites["name"].isin(exclude)] if exclude else self.sites
        return interval_mask(len(self), self.seq_length, sites["seq"].to_numpy(), sites["start"].to_numpy(),
                             sites["end"].to_numpy())

    def subset(self, index: np.ndarray) -> "Dataset":
        """The rows ``index`` (integer positions) as a new Dataset, sites re-indexed."""
        index = np.asarray(index, dtype=np.int64)
        seq = self._sorted_site_rows()
        if seq is not None and len(index) and index[0] >= 0 and np.all(np.diff(index) == 1):
            # A run of rows (how interpret chunks): its sites are one slice, found by bisection, so a
            # chunk costs its own size, not the whole dataset's.
            lo, hi = np.searchsorted(seq, [index[0], index[-1] + 1])
            sites = self.sites.iloc[lo:hi].copy()
            sites["seq"] = seq[lo:hi] - index[0]
        else:
            remap = np.full(len(self), -1, dtype=np.int64)
            remap[index] = np.arange(len(index))
            sites = self.sites[np.isin(self.sites["seq"].to_numpy(), index)].copy()
            sites["seq"] = remap[sites["seq"].to_numpy()]
        return Dataset(self.ids[index], self.codes[index], self.labels[index], sites.reset_index(drop=True),
                       dict(self.metadata), self.path, self.sha256, self.lengths[index])

    def _sorted_site_rows(self) -> np.ndarray | None:
        """The sites' ``seq`` column when it is sorted (checked once per sites table), else None."""
        cached = self.__dict__.get("_site_rows")
        if cached is None or cached[0] is not self.sites:
            seq = self.sites["seq"].to_numpy(np.int64)
            cached = (self.sites, seq if len(seq) < 2 or bool(np.all(seq[1:] >= seq[:-1])) else None)
            self.__dict__["_site_rows"] = cached
        return cached[1]

    def fit_length(self, length: int) -> tuple["Dataset", str]:
        """Every sequence centre-cropped or N-padded to exactly ``length``.

        A longer sequence keeps its middle ``length`` bases (the extra base of an odd excess
        is cut on the right); a shorter one is centred with N on both sides (the extra N of
        an odd shortfall goes on the right). Site coordinates shift with the sequence; sites
        not wholly inside the new window are dropped.

        Returns
        -------
        (Dataset, note)
            The new dataset (all lengths ``length``; path and sha256 of the source kept) and
            one sentence saying how many sequences were cropped or padded and sites dropped.
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise MotifprobeError(f"length {length!r} is not allowed; allowed: an integer of at least 1")
        length = int(length)
        if self.seq_length == length and np.all(self.lengths == length):
            return self, ""  # already that length: nothing to crop, pad or drop
        n = len(self)
        # offset: position in the old sequence of the new window's first base (negative: N-padded on the left)
        offset = np.where(self.lengths >= length, (self.lengths - length) // 2, -((length - self.lengths) // 2))
        src = offset[:, None] + np.arange(length)[None, :]
        inside = (src >= 0) & (src < self.lengths[:, None])
        codes = np.full((n, length), N_CODE, dtype=np.uint8)
        if n and self.seq_length:
            picked = np.take_along_axis(self.codes, np.clip(src, 0, self.seq_length - 1), axis=1)
            codes[inside] = picked[inside]
        sites = self.sites.copy()
        shift = offset[sites["seq"].to_numpy()] if len(sites) else np.zeros(0, np.int64)
        sites["start"] = sites["start"].to_numpy(np.int64) - shift
        sites["end"] = sites["end"].to_numpy(np.int64) - shift
        keep = (sites["start"] >= 0) & (sites["end"] <= length)
        dropped = int((~keep).sum())
        cropped = int((self.lengths > length).sum())
        padded = int((self.lengths < length).sum())
        metadata = dict(self.metadata)
        metadata["fit_length"] = {"length": length, "cropped": cropped, "padded": padded, "sites_dropped": dropped}
        out = Dataset(self.ids.copy(), codes, self.labels.copy(), sites[keep].reset_index(drop=True), metadata,
                      self.path, self.sha256, np.full(n, length, dtype=np.int64))
        note = (f"sequences fitted to {length} bp: {cropped} of {n} centre-cropped, {padded} N-padded, "
                f"{dropped} motif site(s) outside the window dropped")
        return out, note


# -- Parquet I/O -----------------------------------------------------------------------------
def write_dataset(dataset: Dataset, path: str | Path, *, inputs=()) -> Path:
    """Write ``dataset`` to Parquet atomically (temp file, then rename), each sequence at its
    own length; ``inputs`` are files the output may not replace."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sites = dataset.sites
    if len(sites) and (np.diff(sites["seq"].to_numpy()) < 0).any():  # rows are grouped by sequence below
        sites = sites.sort_values(["seq", "start"], kind="stable")
    counts = np.bincount(sites["seq"].to_numpy(), minlength=len(dataset)) if len(sites) else np.zeros(len(dataset), np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    fields = [pa.array(sites["name"].astype(str).to_numpy(), pa.string()),
              pa.array(sites["start"].to_numpy(np.int64), pa.int64()),
              pa.array(sites["end"].to_numpy(np.int64), pa.int64()),
              pa.array(sites["strand"].astype(str).to_numpy(), pa.string())]
    names = ["name", "start", "end", "strand"]
    # Score fields only when a site has one: generated datasets keep the schema (and bytes) they always had.
    if any(c in sites.columns and sites[c].notna().any() for c in OPTIONAL_SITE_COLUMNS):
        for column in OPTIONAL_SITE_COLUMNS:
            values = sites[column].to_numpy(np.float64) if column in sites.columns else np.full(len(sites), np.nan)
            fields.append(pa.array(values, pa.float64(), mask=np.isnan(values)))
            names.append(column)
    struct = pa.StructArray.from_arrays(fields, names=names)
    labels = pa.array(dataset.labels, pa.int64(), mask=dataset.labels < 0)
    table = pa.table({
        "id": pa.array(dataset.ids.astype(str), pa.string()),
        "sequence": _sequence_array(dataset.codes, dataset.lengths),
        "label": labels,
        "motifs": pa.ListArray.from_arrays(pa.array(offsets), struct),
    })
    meta = {"format_version": FORMAT_VERSION, **dataset.metadata}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path, inputs=inputs) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def _sequence_array(codes: np.ndarray, lengths: np.ndarray | None = None):
    """Codes -> an Arrow string array built straight from one buffer (no Python strings); each
    row cut to its length."""
    import pyarrow as pa

    n, length = codes.shape
    letters = LETTERS[codes]
    if lengths is None or (lengths == length).all():
        values = np.ascontiguousarray(letters).reshape(-1)
        ends = np.arange(1, n + 1, dtype=np.int64) * length
    else:
        values = letters[np.arange(length)[None, :] < lengths[:, None]]
        ends = np.cumsum(lengths, dtype=np.int64)
    large = values.size >= 2**31
    offsets = np.concatenate([[0], ends]).astype(np.int64 if large else np.int32)
    kind = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(values)])


def _sequence_codes(column, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow string column -> uint8 codes (N, Lmax) padded with N and the lengths, read from
    the value buffers (no Python strings)."""
    import pyarrow as pa

    raws, lengths = [], []
    for chunk in column.chunks:
        if chunk.null_count:
            raise MotifprobeError("column 'sequence' has empty values")
        offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, off_buf, val_buf = chunk.buffers()
        if off_buf is None:  # a chunk of no rows
            continue
        offsets = np.frombuffer(off_buf, dtype=offsets_type)[chunk.offset:chunk.offset + len(chunk) + 1]
        raw = np.frombuffer(val_buf, dtype=np.uint8) if val_buf is not None else np.zeros(0, np.uint8)
        raws.append(raw[offsets[0]:offsets[-1]])
        lengths.append(np.diff(offsets).astype(np.int64))
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
    raw = np.concatenate(raws) if len(raws) > 1 else (raws[0] if raws else np.zeros(0, np.uint8))
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        raise MotifprobeError(f"sequence {_show(ids[empty[0]])} is empty (length 0); every sequence needs a base")
    return codes_from_bytes(raw, np.concatenate([[0], np.cumsum(lengths)]), list(ids))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


STRANDS = ("+", "-", ".")
OPTIONAL_METADATA = {"generator": (str, "a string"), "parameters": (dict, "a JSON object"),
                     "seed": (int, "a non-negative integer")}


def _show(value, limit: int = 60) -> str:
    """A value for an error message: JSON-like, on one line, shortened."""
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _no_duplicate_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise _DuplicateKey(twice)
    return dict(pairs)


class _DuplicateKey(Exception):
    pass


def _read_metadata(schema_metadata: dict | None, path: Path) -> dict:
    """Parse and check the ``motifprobe`` metadata JSON; returns it without ``format_version``."""
    where = f"data file {str(path)!r}: metadata key 'motifprobe'"
    meta_raw = (schema_metadata or {}).get(METADATA_KEY)
    if not meta_raw:
        return {}
    try:
        metadata = json.loads(meta_raw, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        raise MotifprobeError(f"{where} lists the key {_show(exc.args[0])} twice; each key may appear once") from None
    except (ValueError, RecursionError):  # JSONDecodeError, invalid UTF-8, absurd nesting
        raise MotifprobeError(f"{where} is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise MotifprobeError(f"{where} must be a JSON object, got {_show(metadata)}")
    version = metadata.pop("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MotifprobeError(f"{where}: format_version {_show(version)} is not allowed; "
                              f"allowed: an integer from 1 to {FORMAT_VERSION}")
    if version > FORMAT_VERSION:
        raise MotifprobeError(
            f"data file {str(path)!r} has format version {version}; this motifprobe reads up to {FORMAT_VERSION}")
    for key, (kind, allowed) in OPTIONAL_METADATA.items():
        value = metadata.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)
                                  or (key == "seed" and value < 0)):
            raise MotifprobeError(f"{where}: {key} {_show(value)} is not allowed; allowed: {allowed} (or absent)")
    background = metadata.get("background")
    if background is not None:
        allowed = "4 finite non-negative numbers (A C G T) summing to 1 (± 1e-6), or absent"
        if not isinstance(background, list) or len(background) != 4 or not all(
                _finite_non_negative(x) for x in background) or abs(math.fsum(background) - 1.0) > 1e-6:
            raise MotifprobeError(f"{where}: background {_show(background)} is not allowed; allowed: {allowed}")
    source = metadata.get("source")
    if source is not None:
        _check_source(source, where)
    # The planted rule is checked once the sites are read (its motifs must be in the data).
    return metadata


SOURCE_FIELDS = {"path": (str, "a string"), "sha256": (str, "64 hex digits"), "genome": (str, "a string or null"),
                 "width": (int, "a positive integer or null")}


def _check_source(source, where: str) -> None:
    """The ``source`` of imported data: kind fasta or bed, path and sha256 of the file read, genome, width."""
    if not isinstance(source, dict):
        raise MotifprobeError(f"{where}: source {_show(source)} is not allowed; allowed: a JSON object (or absent)")
    kind = source.get("kind")
    if kind not in SOURCE_KINDS:
        raise MotifprobeError(f"{where}: source kind {_show(kind)} is not allowed; allowed: {', '.join(SOURCE_KINDS)}")
    for key, (typ, allowed) in SOURCE_FIELDS.items():
        value = source.get(key)
        nullable = key in ("genome", "width")
        if value is None and nullable:
            continue
        ok = isinstance(value, typ) and not isinstance(value, bool)
        if ok and key == "sha256":
            ok = len(value) == 64 and all(c in "0123456789abcdef" for c in value)
        if ok and key == "width":
            ok = value >= 1
        if not ok:
            raise MotifprobeError(f"{where}: source {key} {_show(value)} is not allowed; allowed: {allowed}")


def _finite_non_negative(x) -> bool:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x)) and x >= 0
    except OverflowError:  # an integer too large for a float
        return False


def _read_labels(column, ids: np.ndarray, path: Path) -> np.ndarray:
    """Labels as int64, -1 where null; any value other than 0, 1 or null is refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(column.type):  # a column written with no label at all
        return np.full(len(ids), -1, dtype=np.int64)
    valid = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False))
    bad = valid & (values != 0) & (values != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise MotifprobeError(
            f"data file {str(path)!r}: sequence {_show(ids[row])} has label {int(values[row])}; "
            f"allowed: 0, 1 or empty (null) for unlabelled ({int(bad.sum())} bad label(s) in all)")
    return np.where(valid, values, -1).astype(np.int64)


def read_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset file.

    Raises
    ------
    MotifprobeError
        For a missing or unreadable file, a non-Parquet file, missing or mistyped columns,
        letters other than A C G T N (or IUPAC ambiguity letters, read as N), an empty
        sequence, duplicate or empty ids, labels other than 0, 1 or null, motif sites outside
        their sequence's own length, with a strand other than +, - or ., or a score / p-value
        that is not a finite number (p-value in 0..1), and metadata of the wrong shape (not a
        JSON object, a non-integer format version or seed, a background that is not 4 finite
        non-negative numbers summing to 1, a source that is not fasta/bed with a path and
        sha256).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise MotifprobeError(f"data file {str(path)!r} does not exist")
    if path.is_dir():
        raise MotifprobeError(f"data file {str(path)!r} is a directory, expected a Parquet file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise MotifprobeError(
            f"data file {str(path)!r} is not a readable Parquet dataset ({str(exc).splitlines()[0]}); "
            "create one with 'motifprobe generate' or 'motifprobe import'") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise MotifprobeError(
            f"data file {str(path)!r} lacks column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}")
    schema = table.schema
    checks = {
        "id": pa.types.is_string(schema.field("id").type) or pa.types.is_large_string(schema.field("id").type),
        "sequence": pa.types.is_string(schema.field("sequence").type) or pa.types.is_large_string(schema.field("sequence").type),
        "label": pa.types.is_integer(schema.field("label").type) or pa.types.is_null(schema.field("label").type),
        "motifs": pa.types.is_list(schema.field("motifs").type),
    }
    for column, ok in checks.items():
        if not ok:
            raise MotifprobeError(f"data file {str(path)!r}: column {column!r} has type {schema.field(column).type}")
    site_type = schema.field("motifs").type.value_type
    if not pa.types.is_struct(site_type) or not {f.name for f in site_type} >= {"name", "start", "end", "strand"}:
        raise MotifprobeError(f"data file {str(path)!r}: column 'motifs' must be a list of struct(name, start, end, strand)")
    for name, is_type, kind in (("name", _is_text, "string"), ("start", pa.types.is_integer, "integer"),
                                ("end", pa.types.is_integer, "integer"), ("strand", _is_text, "string")):
        if not is_type(site_type.field(name).type):
            raise MotifprobeError(f"data file {str(path)!r}: motif site field {name!r} has type "
                                  f"{site_type.field(name).type}; expected {kind}")
    scored = [c for c in OPTIONAL_SITE_COLUMNS if site_type.get_field_index(c) >= 0]
    for name in scored:
        kind = site_type.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise MotifprobeError(f"data file {str(path)!r}: motif site field {name!r} has type {kind}; "
                                  "expected a number (float64, null when absent)")
    metadata = _read_metadata(schema.metadata, path)

    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    if len(ids) == 0:
        raise MotifprobeError(f"data file {str(path)!r} has no rows")
    if pd.Series(ids).isna().any() or (ids == "").any() or len(pd.unique(ids)) != len(ids):
        raise MotifprobeError(f"data file {str(path)!r}: column 'id' must be unique and non-empty")
    try:
        codes, lengths = _sequence_codes(table.column("sequence"), ids)
    except MotifprobeError as exc:
        raise MotifprobeError(f"data file {str(path)!r}: {exc}") from None
    labels = _read_labels(table.column("label"), ids, path)

    motifs = table.column("motifs").combine_chunks()
    flat = pc.list_flatten(motifs)
    empty = [f for f in ("name", "start", "end", "strand") if flat.null_count or flat.field(f).null_count]
    if empty:
        raise MotifprobeError(f"data file {str(path)!r}: motif site field(s) {', '.join(empty)} have empty (null) "
                              "values; every site needs a name, start, end and strand")
    parents = pc.list_parent_indices(motifs).to_numpy()
    sites = pd.DataFrame({
        "seq": np.asarray(parents, dtype=np.int64),
        # Via a dictionary: one Python string per distinct name, not one per site.
        "name": flat.field("name").dictionary_encode().to_pandas().astype(object).to_numpy(),
        "start": np.asarray(flat.field("start").to_numpy(zero_copy_only=False), dtype=np.int64),
        "end": np.asarray(flat.field("end").to_numpy(zero_copy_only=False), dtype=np.int64),
        "strand": flat.field("strand").dictionary_encode().to_pandas().astype(object).to_numpy(),
    })
    for name in scored:
        values = pc.cast(flat.field(name), pa.float64()) if not pa.types.is_null(flat.field(name).type) \
            else pa.nulls(len(flat), pa.float64())
        sites[name] = np.asarray(pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    for name in scored:
        column = sites[name].to_numpy()
        present = ~np.isnan(column)
        bad = present & (~np.isfinite(column) | ((column < 0) | (column > 1) if name == "p_value" else False))
        if bad.any():
            row = sites[bad].iloc[0]
            allowed = "a number in 0..1" if name == "p_value" else "a finite number"
            raise MotifprobeError(
                f"data file {str(path)!r}: motif {_show(row['name'])} in sequence {_show(ids[row['seq']])} has "
                f"{name} {_show(float(row[name]))}; allowed: {allowed} or null")
    bad_strand = ~sites["strand"].isin(STRANDS)
    if bad_strand.any():
        row = sites[bad_strand].iloc[0]
        raise MotifprobeError(
            f"data file {str(path)!r}: motif {_show(row['name'])} in sequence {_show(ids[row['seq']])} has strand "
            f"{_show(row['strand'])}; allowed: {', '.join(STRANDS)}")
    own = lengths[sites["seq"].to_numpy()]
    bad = (sites["start"] < 0) | (sites["end"] > own) | (sites["start"] >= sites["end"])
    if bad.any():
        row = sites[bad].iloc[0]
        raise MotifprobeError(
            f"data file {str(path)!r}: motif {row['name']} in sequence {ids[row['seq']]} has start {row['start']}, "
            f"end {row['end']}, outside 0..{lengths[row['seq']]} (0-based, end exclusive)")
    if metadata.get("rule") is not None:
        from motifprobe.engine.rules import rule_from_dict

        try:
            declared = (metadata.get("parameters") or {}).get("motifs") or []
            known = set(pd.unique(sites["name"])) | {m for m in declared if isinstance(m, str)}
            rule_from_dict(metadata["rule"], motifs=sorted(known))
        except MotifprobeError as exc:
            raise MotifprobeError(f"data file {str(path)!r}: planted rule: {exc}") from None
    dataset = Dataset(ids, codes, labels, sites, metadata, path, file_sha256(path), lengths)
    _warn_if_labels_break_rule(dataset)
    return dataset


def _warn_if_labels_break_rule(dataset: Dataset) -> None:
    """A generated dataset whose labels no longer follow its planted rule (shuffled or edited)
    is read, with one warning; the scorecard refuses to score against that rule."""
    if not dataset.rule:
        return
    import warnings

    from motifprobe.engine.rules import label_mismatch

    found = label_mismatch(dataset)
    if found is not None and found[0]:
        warnings.warn(f"dataset {str(dataset.path)!r}: {found[0]} of {found[1]} labels do not follow its planted "
                      f"rule; results cannot be scored against that rule", stacklevel=3)


# -- Export ----------------------------------------------------------------------------------
def export_fasta(dataset: Dataset, path: str | Path) -> Path:
    """Write sequences as FASTA at their own lengths, header ``>id label=N`` (``>id`` when unlabeled);
    ``motifprobe import --fasta`` reads the labels back."""
    lines = [f">{i} label={l}\n{s}\n" if l >= 0 else f">{i}\n{s}\n"
             for i, l, s in zip(dataset.ids, dataset.labels, decode(dataset.codes, dataset.lengths))]
    with atomic_path(path, inputs=[dataset.path]) as tmp:
        tmp.write_text("".join(lines))
    return Path(path)


def export_bed(dataset: Dataset, path: str | Path) -> Path:
    """Write motif sites as BED6: chrom = sequence id, start, end, motif name, 0, strand."""
    s = dataset.sites
    lines = [f"{dataset.ids[q]}\t{a}\t{b}\t{n}\t0\t{st}\n"
             for q, n, a, b, st in zip(s["seq"], s["name"], s["start"], s["end"], s["strand"])]
    with atomic_path(path, inputs=[dataset.path]) as tmp:
        tmp.write_text("".join(lines))
    return Path(path)
