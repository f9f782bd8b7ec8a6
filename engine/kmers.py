"""k-mer counting on codes, vectorized (no loop over sequences)."""
from __future__ import annotations

import numpy as np


def kmer_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Index (base-4 number) of every k-mer window: int64 (N, L - k + 1)."""
    codes = np.asarray(codes, dtype=np.int64)
    n, length = codes.shape
    if not 1 <= k <= length:
        raise ValueError(f"k must lie in 1..{length}, got {k}")
    index = np.zeros((n, length - k + 1), dtype=np.int64)
    for j in range(k):  # loop over k (small), not over sequences
        index = index * 4 + codes[:, j:length - k + 1 + j]
    return index


def kmer_counts(codes: np.ndarray, k: int, dtype: type = np.float32) -> np.ndarray:
    """Counts of each of the 4**k k-mers per sequence: (N, 4**k), lexicographic A<C<G<T."""
    index = kmer_index(codes, k)
    n = index.shape[0]
    flat = index + (np.arange(n, dtype=np.int64) * 4**k)[:, None]
    return np.bincount(flat.ravel(), minlength=n * 4**k).reshape(n, 4**k).astype(dtype)


def kmer_names(k: int) -> list[str]:
    """Names of the k-mer columns, in the order of :func:`kmer_counts`."""
    names = [""]
    for _ in range(k):
        names = [p + b for p in names for b in "ACGT"]
    return names
