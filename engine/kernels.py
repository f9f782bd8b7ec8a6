"""Compiled per-row kernels for the perturbation primitives whose work has no short vectorized form.

Each kernel reads the same keyed streams as :class:`motifprobe.engine.streams.RowStreams`
(SplitMix64 of ``key + golden * counter``) and returns what the numpy version returns for the
same streams, bit for bit (``tests/test_kernels.py`` holds them to it); only the speed differs.
numba compiles a kernel on its first call (a few seconds) and caches the machine code on disk
(:func:`motifprobe.engine.scan.numba_cache_dir`), so later processes only load it.
"""
from __future__ import annotations

import numpy as np

from motifprobe.engine.scan import setup_numba_cache

setup_numba_cache()  # before numba loads: the compiled code is kept where memelite's is, paid once per machine
import numba  # noqa: E402

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 2.0 ** 53


@numba.njit(cache=True, nogil=True)
def _uniform(key, position):
    """The stream's value at ``position`` (1-based): what RowStreams.random draws there."""
    x = key + position * _GOLDEN
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return np.float64(x >> np.uint64(11)) * _TO_UNIT


@numba.njit(cache=True, nogil=True)
def _dinuc_rows(windows, keys, counters, alphabet):
    """The Altschul-Erickson shuffle of each row, drawing from the row's keyed stream."""
    b, w = windows.shape
    m = w - 1
    out = np.empty_like(windows)
    used = np.zeros(b, dtype=np.uint64)
    draws = np.empty(m)
    exit_pos = np.zeros(alphabet, dtype=np.int64)
    nxt = np.zeros(alphabet, dtype=np.int64)
    has_exit = np.zeros(alphabet, dtype=np.bool_)
    chosen = np.zeros(m, dtype=np.bool_)
    values = np.empty(m)
    best = np.empty(alphabet)
    order = np.empty(m, dtype=np.int64)
    pointer = np.zeros(alphabet, dtype=np.int64)
    for i in range(b):
        key, counter = keys[i], counters[i]
        last = np.int64(windows[i, m])
        has_exit[:] = False
        for j in range(m):
            has_exit[windows[i, j]] = True
        while True:  # draw each base's last exit until they form a tree into the final base
            for j in range(m):
                draws[j] = _uniform(key, counter + np.uint64(j + 1))
            counter += np.uint64(m)
            best[:] = -1.0
            exit_pos[:] = 0
            for j in range(m):  # each base's exit with the largest draw (numpy's argmax: first of ties)
                v = windows[i, j]
                if draws[j] > best[v]:
                    best[v], exit_pos[v] = draws[j], j
            for v in range(alphabet):
                nxt[v] = windows[i, exit_pos[v] + 1]
            tree = True
            for v in range(alphabet):
                node = v
                for _ in range(alphabet):
                    if node != last:
                        node = nxt[node]
                if node != last and has_exit[v]:
                    tree = False
            if tree:
                break
        for j in range(m):
            draws[j] = _uniform(key, counter + np.uint64(j + 1))
        counter += np.uint64(m)
        chosen[:] = False
        for v in range(alphabet):
            if has_exit[v] and v != last:
                chosen[exit_pos[v]] = True
        for j in range(m):
            values[j] = windows[i, j] * 4.0 + draws[j] + 2.0 * chosen[j]
        if m > 64:
            order[:] = np.argsort(values)
        else:
            for j in range(m):  # insertion sort: the values are distinct and motif windows short
                at = j
                while at > 0 and values[order[at - 1]] > values[j]:
                    order[at] = order[at - 1]
                    at -= 1
                order[at] = j
        pointer[:] = 0
        for j in range(m):
            pointer[windows[i, j]] += 1
        total = 0
        for v in range(alphabet):
            total, pointer[v] = total + pointer[v], total
        current = np.int64(windows[i, 0])
        out[i, 0] = windows[i, 0]
        for t in range(1, w):
            slot = pointer[current]
            pointer[current] += 1
            current = np.int64(windows[i, order[slot] + 1])
            out[i, t] = current
        used[i] = counter - counters[i]
    return out, used


def dinuc_shuffle_keyed(windows: np.ndarray, keys: np.ndarray, counters: np.ndarray,
                        alphabet: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Dinucleotide shuffles of the rows of ``windows`` (B, w >= 3) from keyed streams.

    Returns the shuffled windows and, per row, how many values its stream used (the caller
    advances the counters by it). Same algorithm and draws as
    :func:`motifprobe.engine.ops.dinuc_shuffle_windows`.
    """
    windows = np.ascontiguousarray(windows)
    keys, counters = np.asarray(keys, dtype=np.uint64), np.asarray(counters, dtype=np.uint64)
    halves = 2 if windows.size >= PARALLEL_ELEMENTS else 1
    if halves == 1:
        return _dinuc_rows(windows, keys, counters, int(alphabet))
    # The kernel releases the GIL and every row has its own stream: two threads, the same bytes.
    from concurrent.futures import ThreadPoolExecutor

    cut = len(windows) // 2
    parts = [slice(0, cut), slice(cut, len(windows))]
    with ThreadPoolExecutor(halves) as pool:
        done = list(pool.map(lambda part: _dinuc_rows(windows[part], keys[part], counters[part], int(alphabet)),
                             parts))
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


PARALLEL_ELEMENTS = 500_000
"""Windows of at least this many bases are shuffled in two threads (whole backgrounds, not motif sites)."""


@numba.njit(cache=True, nogil=True)
def _swap_rows(codes, ls, le, rs, re):
    """Each row with its segments [ls, le) and [rs, re) (left one first) swapped, the bases between kept."""
    n, length = codes.shape
    out = np.empty_like(codes)
    for i in range(n):
        a, b, c, d = ls[i], le[i], rs[i], re[i]
        at = 0
        for lo, hi in ((0, a), (c, d), (b, c), (a, b), (d, length)):  # before, right, between, left, after
            out[i, at:at + hi - lo] = codes[i, lo:hi]
            at += hi - lo
    return out


def swap_segments_rows(codes: np.ndarray, ls: np.ndarray, le: np.ndarray, rs: np.ndarray,
                       re: np.ndarray) -> np.ndarray:
    """Rows of ``codes`` (n, L) as before + right + between + left + after; ``ls <= le <= rs <= re``
    per row (see :func:`motifprobe.engine.ops.swap_segments`, which checks and orders them)."""
    as64 = [np.ascontiguousarray(a, dtype=np.int64) for a in (ls, le, rs, re)]
    return _swap_rows(np.ascontiguousarray(codes), *as64)


@numba.njit(cache=True, nogil=True)
def _kth_valid(valid, low, u, length):
    """``pick_starts`` for one row and one draw: a uniform valid start >= ``low`` (-1 if none)."""
    low = min(max(low, 0), length)
    before, total = 0, 0
    for s in range(length):
        if valid[s]:
            total += 1
            if s < low:
                before += 1
    count = total - before
    if count <= 0:
        return -1
    rank = before + np.int64(np.floor(u * max(count, 1)))
    seen = 0
    for s in range(length):
        if valid[s]:
            if seen == rank:
                return s
            seen += 1
    return -1


@numba.njit(cache=True, nogil=True)
def _window_pairs(blocked, len_l, len_r, u_left, u_right):
    n, length = blocked.shape
    k = u_left.shape[1]
    new_l = np.full((n, k), -1, dtype=np.int64)
    new_r = np.full((n, k), -1, dtype=np.int64)
    cum = np.zeros(length + 1, dtype=np.int64)
    valid_r = np.zeros(length, dtype=np.bool_)
    valid_l = np.zeros(length, dtype=np.bool_)
    right_after = np.zeros(length + 1, dtype=np.int64)
    for i in range(n):
        for p in range(length):
            cum[p + 1] = cum[p] + blocked[i, p]
        for s in range(length):
            e = s + len_r[i]
            valid_r[s] = e <= length and cum[min(e, length)] - cum[s] == 0
        right_after[length] = 0
        for s in range(length - 1, -1, -1):
            right_after[s] = right_after[s + 1] + valid_r[s]
        for s in range(length):
            e = s + len_l[i]
            valid_l[s] = e <= length and cum[min(e, length)] - cum[s] == 0 and right_after[min(e, length)] > 0
        for j in range(k):
            left = _kth_valid(valid_l, 0, u_left[i, j], length)
            new_l[i, j] = left
            new_r[i, j] = _kth_valid(valid_r, left + len_l[i], u_right[i, j], length)
    return new_l, new_r


def window_pairs(blocked: np.ndarray, len_l: np.ndarray, len_r: np.ndarray, u_left: np.ndarray,
                 u_right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`motifprobe.engine.ops.pick_window_pair` without a gap, from its two (n, K) draws."""
    return _window_pairs(np.ascontiguousarray(blocked, dtype=np.bool_), np.asarray(len_l, dtype=np.int64),
                         np.asarray(len_r, dtype=np.int64), np.ascontiguousarray(u_left, dtype=np.float64),
                         np.ascontiguousarray(u_right, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _fill_masked(out, mask, keys, counters, cdf):
    """Under ``mask``, each row's bases drawn from its stream at the flat position's offset."""
    n = out.shape[0]
    inner = out.shape[1]
    length = out.shape[2]
    for i in range(n):
        key, counter = keys[i], counters[i]
        for k in range(inner):
            for t in range(length):
                if mask[i, k, t]:
                    u = np.float32(_uniform(key, counter + np.uint64(k * length + t + 1)))
                    base = 0
                    for threshold in cdf:
                        if u >= threshold:
                            base += 1
                    out[i, k, t] = base


def fill_masked_keyed(out: np.ndarray, mask: np.ndarray, keys: np.ndarray, counters: np.ndarray,
                      background: np.ndarray) -> None:
    """``out[mask] = bases_from_uniform(streams.random_masked(mask), background)`` in place, for
    ``out`` and ``mask`` (n, K, L): the same values as the numpy path (keys and counters from
    :meth:`RowStreams.position`; the caller advances every row by ``K * L``)."""
    from motifprobe.engine.sequences import base_thresholds

    _fill_masked(out, mask, np.asarray(keys, dtype=np.uint64), np.asarray(counters, dtype=np.uint64),
                 np.ascontiguousarray(base_thresholds(background)))
