"""Keyed random streams: every sequence draws from its own stream, vectorized over sequences.

A perturbation of a sequence must not depend on which other sequences are in the run, on how
they are chunked or ordered, or on the process doing the work. So each row of a batch gets a
stream keyed by (seed, purpose, test, motif set, sequence id): :class:`RowStreams` holds one
64-bit key and one counter per row, and every draw of ``m`` values for a row is
``splitmix64(key + golden * (counter + 1 .. counter + m))`` (SplitMix64, the counter-based
generator that seeds xoshiro; it passes BigCrush), after which that row's counter advances by
``m``. A row's t-th value therefore depends only on its key and t: never on the other rows.

Draws whose leading axis is the batch (``random((n, K, L))``) are what a test needs; a draw
for a subset of rows goes through :meth:`RowStreams.rows`, and draws for sub-items of rows
(motif instances, K copies) through :meth:`RowStreams.derive`.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_TO_UNIT = 1.0 / 2.0**53


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer, elementwise on uint64 (wrapping arithmetic)."""
    x = x.copy()
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def context_key(*parts: object) -> int:
    """A stable 64-bit key for a tuple of strings/ints (the same on every machine and process)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def id_hashes(ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hash of each id's UTF-8 bytes, vectorized over ids (uint64 (n,))."""
    ids = np.asarray(ids, dtype=object)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    raw = np.char.encode(ids.astype(str), "utf-8")
    width = raw.dtype.itemsize
    if width == 0:
        return np.full(len(ids), _FNV_OFFSET, dtype=np.uint64)
    table = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(len(ids), width)
    lengths = np.char.str_len(raw)
    out = np.full(len(ids), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            live = lengths > j
            step = (out ^ table[:, j].astype(np.uint64)) * _FNV_PRIME
            out = np.where(live, step, out)
    return out


def row_keys(context: int, ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """Per-sequence keys: the context key mixed with each id's hash."""
    return _mix(id_hashes(ids) ^ np.uint64(context))


class RowStreams:
    """One random stream per row, drawn for all rows at once.

    Parameters
    ----------
    keys : numpy.ndarray of uint64, (n,)
        One key per row (see :func:`row_keys`).

    Draws mirror ``numpy.random.Generator`` where the leading axis is the rows:
    ``random((n, ...))``, ``integers(low, high, (n, ...))``, ``permuted_order``.
    """

    def __init__(self, keys: np.ndarray, _counters: np.ndarray | None = None, _index: np.ndarray | None = None):
        self.keys = np.asarray(keys, dtype=np.uint64)
        self._counters = np.zeros(len(self.keys), dtype=np.uint64) if _counters is None else _counters
        self._index = np.arange(len(self.keys)) if _index is None else _index

    def __len__(self) -> int:
        return len(self._index)

    # -- views -----------------------------------------------------------------------------
    def rows(self, index: np.ndarray) -> "RowStreams":
        """A view on some rows: drawing from it advances those rows' streams in this object."""
        index = np.asarray(index, dtype=np.int64)
        return RowStreams(self.keys, self._counters, self._index[index])

    def derive(self, rows: np.ndarray, tags: Iterable[int] | np.ndarray) -> "RowStreams":
        """Fresh streams for sub-items of rows: item j belongs to row ``rows[j]`` with tag ``tags[j]``.

        The sub-stream depends only on its row's key and its tag (e.g. instance number x K + k).
        """
        rows = np.asarray(rows, dtype=np.int64)
        tags = np.asarray(list(tags) if not isinstance(tags, np.ndarray) else tags, dtype=np.uint64)
        with np.errstate(over="ignore"):
            keys = _mix(self.keys[self._index[rows]] ^ _mix(tags + _GOLDEN))
        return RowStreams(keys)

    def position(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's key and counter (uint64 (n,) each): what a compiled kernel needs to draw
        the values :meth:`random` would; it reports how many it used to :meth:`advance`."""
        return self.keys[self._index], self._counters[self._index].copy()

    def advance(self, used: np.ndarray) -> None:
        """Move each row's counter past ``used`` (n,) values drawn outside this object."""
        self._counters[self._index] = self._counters[self._index] + np.asarray(used, dtype=np.uint64)

    # -- draws -----------------------------------------------------------------------------
    def _raw(self, shape: tuple[int, ...]) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        if not shape or shape[0] != len(self):
            raise ValueError(f"keyed draws need the rows as the leading axis: asked for shape {shape} "
                             f"with {len(self)} rows; use .rows(index) or .derive(rows, tags) for other shapes")
        per_row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
        start = self._counters[self._index]
        steps = np.arange(1, per_row + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            x = self.keys[self._index][:, None] + (start[:, None] + steps[None, :]) * _GOLDEN
        self._counters[self._index] = start + np.uint64(per_row)
        return _mix(x).reshape(shape)

    def random(self, size: int | tuple[int, ...], dtype=np.float64) -> np.ndarray:
        """Uniform floats in [0, 1) of ``size`` (leading axis: rows)."""
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        return ((self._raw(size) >> np.uint64(11)).astype(np.float64) * _TO_UNIT).astype(dtype, copy=False)

    def random_masked(self, mask: np.ndarray) -> np.ndarray:
        """``random(mask.shape)[mask]``, computing only the values under ``mask`` (float64, 1-D).

        Counter-based streams can be read at any position, so a draw for a few masked bases of
        long sequences costs only those bases; every row's counter advances by the full size.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 0 or mask.shape[0] != len(self):
            raise ValueError(f"keyed draws need the rows as the leading axis: mask of shape {mask.shape} "
                             f"with {len(self)} rows")
        per_row = int(np.prod(mask.shape[1:], dtype=np.int64)) if mask.ndim > 1 else 1
        flat = mask.reshape(len(self), per_row)
        rows, offsets = np.nonzero(flat)
        start = self._counters[self._index]
        with np.errstate(over="ignore"):
            x = self.keys[self._index[rows]] + (start[rows] + offsets.astype(np.uint64) + np.uint64(1)) * _GOLDEN
        self._counters[self._index] = start + np.uint64(per_row)
        return (_mix(x) >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def integers(self, low, high=None, size: int | tuple[int, ...] | None = None) -> np.ndarray:
        """Integers in [low, high) (``high`` exclusive), int64; low/high broadcast against ``size``."""
        if high is None:
            low, high = 0, low
        if size is None:
            size = np.broadcast(np.asarray(low), np.asarray(high)).shape
        size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
        low = np.asarray(low, dtype=np.int64)
        span = np.asarray(high, dtype=np.int64) - low
        return low + np.floor(self.random(size) * np.maximum(span, 1)).astype(np.int64) * (span > 0)

    def permuted_order(self, shape: tuple[int, ...]) -> np.ndarray:
        """A uniformly random permutation of the last axis, independently per row (argsort of keys)."""
        return np.argsort(self.random(shape), axis=-1, kind="stable")
