"""k-mer counting on codes, vectorized (no loop over sequences).

A k-mer that contains N (code 4, also the padding of shorter sequences) is not counted.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from motifprobe.engine.errors import MotifprobeError

MAX_K = 8
CHUNK = 20_000
CHUNK_ELEMENTS = 2**24
"""Feature chunks hold at most this many values (64 MB of float32)."""


def kmer_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Index (base-4 number) of every k-mer window: int64 (N, L - k + 1).

    Windows holding N get a meaningless index; :func:`kmer_valid` marks the others.
    """
    codes = np.asarray(codes, dtype=np.int64)
    n, length = codes.shape
    if not 1 <= k <= length:
        raise ValueError(f"k must lie in 1..{length}, got {k}")
    index = np.zeros((n, length - k + 1), dtype=np.int64)
    for j in range(k):  # loop over k (small), not over sequences
        index = index * 4 + codes[:, j:length - k + 1 + j]
    return index


def kmer_valid(codes: np.ndarray, k: int) -> np.ndarray | None:
    """Boolean (N, L - k + 1): the k-mer window holds no N. None when there is no N at all."""
    codes = np.asarray(codes)
    unknown = codes > 3
    if not unknown.any():
        return None
    n, length = codes.shape
    cum = np.zeros((n, length + 1), dtype=np.int32)
    np.cumsum(unknown, axis=1, out=cum[:, 1:])
    return (cum[:, k:] - cum[:, :length - k + 1]) == 0


def kmer_counts(codes: np.ndarray, k: int, dtype: type = np.float32) -> np.ndarray:
    """Counts of each of the 4**k k-mers per sequence: (N, 4**k), lexicographic A<C<G<T.

    k-mers containing N are skipped.
    """
    index = kmer_index(codes, k)
    n = index.shape[0]
    size = 4**k
    valid = kmer_valid(codes, k)
    if valid is not None:  # windows with N go to one extra bin per row, dropped below
        size += 1
        index[~valid] = 4**k
    flat = index + (np.arange(n, dtype=np.int64) * size)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n * size).reshape(n, size)
    return counts[:, :4**k].astype(dtype)


def kmer_names(k: int) -> list[str]:
    """Names of the k-mer columns, in the order of :func:`kmer_counts`."""
    names = [""]
    for _ in range(k):
        names = [p + b for p in names for b in "ACGT"]
    return names


def check_k(k: Any, length: int | None = None) -> int:
    """Validate the k-mer size: 1..``MAX_K`` and at most the sequence length."""
    k = int(k)
    if not 1 <= k <= MAX_K:
        raise MotifprobeError(f"k must lie in 1..{MAX_K}, got {k}")
    if length is not None and k > length:
        raise MotifprobeError(f"k={k} is longer than the sequences (length {length})")
    return k


def chunk_rows(k: int) -> int:
    """Sequences per feature chunk for ``4**k`` features."""
    return max(1, min(CHUNK, CHUNK_ELEMENTS // 4**k))


def kmer_features(codes: np.ndarray, k: int, *, frequencies: bool = False) -> np.ndarray:
    """k-mer count features, float32 (N, 4**k), computed in chunks of :func:`chunk_rows` sequences.

    Parameters
    ----------
    codes : numpy.ndarray
        ``uint8`` codes (N, L).
    k : int
        k-mer size.
    frequencies : bool
        Scale counts by ``4**k / W``, W the sequence's k-mer windows without N (``L - k + 1``
        when it has none; a row with no such window stays 0): k-mer frequency relative to the
        uniform expectation (mean 1 per feature whatever L and k), so a fixed L2 penalty ``C`` means
        the same at every sequence length. Plain frequencies (values ~ 4**-k) would make the
        default ``C=1`` so strong that the model collapses to the majority class.

    Returns
    -------
    numpy.ndarray
        ``float32`` array (N, 4**k).
    """
    codes = np.asarray(codes, dtype=np.uint8)
    n, length = codes.shape
    check_k(k, length)
    out = np.empty((n, 4**k), dtype=np.float32)
    step = chunk_rows(k)
    for lo in range(0, n, step):
        out[lo:lo + step] = kmer_counts(codes[lo:lo + step], k)
    if frequencies:
        if not (codes > 3).any():
            out *= np.float32(4**k / (length - k + 1))
        else:
            windows = out.sum(axis=1, dtype=np.float64)
            scale = np.divide(4**k, windows, out=np.zeros_like(windows), where=windows > 0).astype(np.float32)
            out *= scale[:, None]
    return out
