"""A first-layer convolution over one-hot DNA, computed from the integer codes by table lookup.

A ``Conv1d(4, F, k)`` over one-hot input multiplies by zeros and ones: each output is the sum,
over the ``k`` offsets, of the weight column of the base found there. Cut the ``k`` offsets into
chunks of ``c`` bases; a chunk's contribution depends only on its ``c`` codes, one of ``5**c``
words (N counts as a fifth symbol that contributes nothing). Tabulating each chunk's word sums
once per model turns ``4 * k * F`` multiply-adds per position into ``ceil(k / c)`` lookups of
``F`` floats, with no one-hot tensor at all. Max-pooling and ReLU are fused in, so the first
block of a CNN reads ``L`` bytes per sequence and writes ``F * L / pool`` floats.

The result equals ``maxpool(relu(conv(one_hot(codes)) + bias))`` up to float32 rounding of the
tabulated sums (``tests/test_onehot_conv.py`` holds it to 1e-5 of torch).
"""
from __future__ import annotations

import numpy as np

from motifprobe.engine.scan import setup_numba_cache

setup_numba_cache()  # before numba loads: compiled once per machine, then loaded from disk
import numba  # noqa: E402

CHUNK = 5
"""Bases per table word: 5**5 = 3,125 rows of F floats per chunk (400 KB at F = 32)."""


def chunk_tables(weight: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Word-sum tables (n_chunks, 5**chunk, F) float32 of a one-hot convolution's ``weight`` (F, 4, k).

    Entry ``[c, w]`` is the sum over ``j < chunk`` of ``weight[:, base_j(w), c * chunk + j]``,
    where ``base_j(w)`` is digit ``j`` of ``w`` in base 5 (digit 4, N or padding, adds nothing,
    as do offsets past ``k`` in the last chunk). Sums are taken in float64, rounded once.
    """
    weight = np.asarray(weight, dtype=np.float64)
    n_filters, channels, k = weight.shape
    if channels != 4:
        raise ValueError(f"a one-hot convolution has 4 input channels, got {channels}")
    chunk = max(1, min(int(chunk), k))
    n_chunks = -(-k // chunk)
    words = np.arange(5 ** chunk)
    tables = np.zeros((n_chunks, words.size, n_filters))
    for c in range(n_chunks):
        for j in range(chunk):
            offset = c * chunk + j
            if offset >= k:
                break
            column = np.zeros((5, n_filters))
            column[:4] = weight[:, :, offset].T
            tables[c] += column[(words // 5 ** j) % 5]
    return tables.astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _conv_pool_relu(codes, tables, bias, kernel, pool, out):
    n, length = codes.shape
    n_chunks, _, n_filters = tables.shape
    chunk = 0
    size = tables.shape[1]
    while size > 1:
        size //= 5
        chunk += 1
    left = (kernel - 1) // 2  # torch's padding="same": the extra pad of an even kernel goes right
    padded = length + n_chunks * chunk - 1
    top = 5 ** (chunk - 1)
    symbols = np.full(padded, 4, dtype=np.int64)
    words = np.empty(length + (n_chunks - 1) * chunk, dtype=np.int64)
    acc = np.empty(n_filters, dtype=np.float32)
    best = np.empty(n_filters, dtype=np.float32)
    n_pooled = length // pool
    for r in range(n):
        for t in range(length):
            code = codes[r, t]
            symbols[left + t] = code if code < 4 else 4
        word = 0
        for j in range(chunk - 1, -1, -1):
            word = word * 5 + symbols[j]
        words[0] = word
        for t in range(1, words.size):  # slide: drop the first base, add the next as the top digit
            word = word // 5 + symbols[t + chunk - 1] * top
            words[t] = word
        for p in range(n_pooled):
            for q in range(pool):
                i = p * pool + q
                first = tables[0, words[i]]
                for f in range(n_filters):
                    acc[f] = first[f]
                for c in range(1, n_chunks):
                    row = tables[c, words[i + c * chunk]]
                    for f in range(n_filters):
                        acc[f] += row[f]
                if q == 0:
                    for f in range(n_filters):
                        best[f] = acc[f]
                else:
                    for f in range(n_filters):
                        best[f] = max(best[f], acc[f])
            for f in range(n_filters):  # max(a) + b == max(a + b) exactly: rounding is monotonic
                value = best[f] + bias[f]
                out[r, f, p] = value if value > 0.0 else 0.0
    return out


def conv_pool_relu(codes: np.ndarray, tables: np.ndarray, bias: np.ndarray, kernel: int, pool: int) -> np.ndarray:
    """``maxpool(relu(conv(one_hot(codes)) + bias), pool)`` as float32 (n, F, L // pool).

    Parameters
    ----------
    codes : numpy.ndarray
        Integer codes (n, L): 0-3 for A, C, G, T; anything else is N (an all-zero column).
    tables : numpy.ndarray
        :func:`chunk_tables` of the convolution's weight.
    bias : numpy.ndarray
        The convolution's bias (F,).
    kernel : int
        The convolution's width ``k`` (``padding="same"``, as torch pads it).
    pool : int
        Max-pool window and stride (a trailing remainder shorter than ``pool`` is dropped).
    """
    codes = np.ascontiguousarray(codes)
    n, length = codes.shape
    out = np.empty((n, tables.shape[2], length // pool), dtype=np.float32)
    if n and length // pool:
        _conv_pool_relu(codes, tables, np.ascontiguousarray(bias, dtype=np.float32), int(kernel), int(pool), out)
    return out
