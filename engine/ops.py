"""Vectorized perturbation primitives over many sequences at once.

Each acts on ``uint8`` codes (n, L) with per-row coordinates and returns new arrays; the
inputs are never modified. No Python loop over sequences.

N (code 4) is never created: redraws come from the A/C/G/T background; shuffles and moves keep
whatever bases a window holds, N included. :func:`n_mask` marks N positions to avoid.

``rng`` is either a :class:`motifprobe.engine.streams.RowStreams` (one keyed stream per row:
what the engine passes, so a row's perturbation never depends on the other rows) or a plain
``numpy.random.Generator`` (one stream for the batch, for quick experiments).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from motifprobe.engine.sequences import N_CODE, bases_from_uniform
from motifprobe.engine.streams import RowStreams


def n_mask(codes: np.ndarray) -> np.ndarray:
    """Boolean mask, the shape of ``codes``, of N positions (code 4; the padding of shorter
    sequences is N too): pass it as ``blocked`` so windows avoid unknown bases."""
    return np.asarray(codes) == N_CODE


def uniform_at(rng, mask: np.ndarray) -> np.ndarray:
    """Uniforms for the positions under ``mask`` (1-D, in mask order), drawn per row when keyed."""
    if isinstance(rng, RowStreams):
        return rng.random_masked(mask)
    return rng.random(int(np.count_nonzero(mask)))


def rows_of(rng, index: np.ndarray):
    """The streams of some rows (a keyed view), or the same generator."""
    return rng.rows(index) if isinstance(rng, RowStreams) else rng


def background_at(rng, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Background bases for the positions under ``mask`` (1-D ``uint8``, in mask order); never N."""
    return bases_from_uniform(uniform_at(rng, mask), background)


def fill_background(out: np.ndarray, mask: np.ndarray, rng, background: np.ndarray) -> None:
    """``out[mask] = background_at(rng, mask, background)``, in place, for (n, K, L) arrays; with
    keyed streams compiled (engine/kernels.py): the same bases, without the index arrays."""
    if isinstance(rng, RowStreams) and out.ndim == 3 and mask.shape == out.shape and out.dtype == np.uint8:
        from motifprobe.engine.kernels import fill_masked_keyed

        keys, counters = rng.position()
        fill_masked_keyed(out, mask, keys, counters, background)
        rng.advance(np.full(len(keys), out.shape[1] * out.shape[2], dtype=np.uint64))
        return
    out[mask] = background_at(rng, mask, background)


def interval_mask(n: int, length: int, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Boolean (n, L) mask covering [start, end) of each (row, start, end)."""
    diff = np.zeros((n, length + 1), dtype=np.int32)
    np.add.at(diff, (rows, starts), 1)
    np.add.at(diff, (rows, ends), -1)
    return np.cumsum(diff[:, :-1], axis=1, dtype=np.int32) > 0


def replace_masked(codes: np.ndarray, mask: np.ndarray, num_perturbs: int, background: np.ndarray,
                   rng: np.random.Generator, draws: np.ndarray | None = None) -> np.ndarray:
    """Copies (n, K, L) of ``codes`` with the ``mask`` positions redrawn from ``background``.

    ``draws`` (n, K, L) may supply the replacement bases, so several arms share them.
    """
    out = np.repeat(codes[:, None, :], num_perturbs, axis=1)
    full = np.broadcast_to(mask[:, None, :], out.shape)
    if draws is None:
        fill_background(out, full, rng, background)
    else:
        out[full] = draws[full]
    return out


def swap_segments(codes: np.ndarray, s1: np.ndarray, e1: np.ndarray, s2: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Swap two non-overlapping segments per row, keeping the length.

    Row i becomes before + right + between + left + after, where left/right are the two
    segments in positional order (so either argument order works).
    """
    codes = np.asarray(codes)
    n, length = codes.shape
    first = s1 <= s2
    ls, le = np.where(first, s1, s2), np.where(first, e1, e2)
    rs, re = np.where(first, s2, s1), np.where(first, e2, e1)
    if np.any(le > rs):
        raise ValueError("segments overlap")
    if codes.dtype == np.uint8 and n:  # compiled: one pass per row instead of eight over (n, L)
        from motifprobe.engine.kernels import swap_segments_rows

        return swap_segments_rows(codes, ls, le, rs, re)
    p = np.arange(length)[None, :]
    ls, le, rs, re = (a[:, None] for a in (ls, le, rs, re))
    len_r, gap = re - rs, rs - le
    src = np.where(p < ls, p,
          np.where(p < ls + len_r, rs + (p - ls),
          np.where(p < ls + len_r + gap, le + (p - ls - len_r),
          np.where(p < re, ls + (p - ls - len_r - gap), p))))
    return np.take_along_axis(codes, src, axis=1)


def free_starts(blocked: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Boolean (n, L) mask of starts s where [s, s + length_i) avoids every blocked position."""
    n, length = blocked.shape
    cum = np.zeros((n, length + 1), dtype=np.int32)
    np.cumsum(blocked, axis=1, out=cum[:, 1:])
    starts = np.arange(length)[None, :]
    ends = starts + lengths[:, None]
    fits = ends <= length
    inside = np.take_along_axis(cum, np.minimum(ends, length), axis=1) - cum[:, :length]
    return fits & (inside == 0)


def pick_starts(valid: np.ndarray, num_perturbs: int, rng: np.random.Generator,
                low: np.ndarray | None = None) -> np.ndarray:
    """Draw starts uniformly among ``valid`` (n, L) per row, K per row: int64 (n, K); -1 if none.

    ``low`` (n, K) restricts each draw to starts >= low.
    """
    n, length = valid.shape
    cs = np.cumsum(valid, axis=1, dtype=np.int64)  # cs[i, s] = valid starts at <= s
    total = cs[:, -1][:, None]
    if low is None:
        before = np.zeros((n, num_perturbs), dtype=np.int64)
    else:
        clipped = np.clip(low, 0, length)
        padded = np.concatenate([np.zeros((n, 1), np.int64), cs], axis=1)
        before = np.take_along_axis(padded, clipped, axis=1)
    count = total - before
    rank = before + np.floor(rng.random((n, num_perturbs)) * np.maximum(count, 1)).astype(np.int64)
    # The rank-th valid start of row i: search a globally increasing copy of cs.
    offset = (np.arange(n, dtype=np.int64) * (length + 1))[:, None]
    flat = (cs + offset).ravel()
    pos = np.searchsorted(flat, (rank + 1 + offset).ravel(), side="left").reshape(n, num_perturbs)
    starts = pos - np.arange(n, dtype=np.int64)[:, None] * length
    return np.where(count > 0, starts, -1)


def sham_windows(blocked: np.ndarray, lengths: np.ndarray, num_perturbs: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Random windows of ``lengths`` avoiding ``blocked``: starts (n, K), -1 where none fits."""
    return pick_starts(free_starts(blocked, lengths), num_perturbs, rng)


def place_windows(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Mask (n, K, L) of windows [starts, starts + length) (rows with start -1 stay empty)."""
    length = codes.shape[1]
    p = np.arange(length)[None, None, :]
    s = starts[:, :, None]
    return (s >= 0) & (p >= s) & (p < s + lengths[:, None, None])


def pick_window_pair(blocked: np.ndarray, len_l: np.ndarray, len_r: np.ndarray, num_perturbs: int,
                     rng: np.random.Generator, gap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random places for two windows per row, the left one first, both avoiding ``blocked``.

    With ``gap`` (n,) the right window starts exactly ``gap`` bases after the left one's start
    (a block move keeping the spacing); without it anywhere after the left window's end.

    Returns
    -------
    (left_starts, right_starts)
        int64 (n, K) each; -1 where no layout fits.
    """
    n, length = blocked.shape
    if gap is None:
        if not n:
            return window_pair_reference(blocked, len_l, len_r, num_perturbs, rng)
        from motifprobe.engine.kernels import window_pairs

        # Compiled (engine/kernels.py), from the same two draws as the reference: the same starts.
        u_left = rng.random((n, num_perturbs))
        return window_pairs(blocked, len_l, len_r, u_left, rng.random((n, num_perturbs)))
    valid_r = free_starts(blocked, len_r)
    target = np.arange(length)[None, :] + gap[:, None]
    inside = target < length
    partner = np.take_along_axis(valid_r, np.clip(target, 0, length - 1), axis=1) & inside
    new_l = pick_starts(free_starts(blocked, len_l) & partner, num_perturbs, rng)
    return new_l, np.where(new_l >= 0, new_l + gap[:, None], -1)


def window_pair_reference(blocked: np.ndarray, len_l: np.ndarray, len_r: np.ndarray, num_perturbs: int,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pick_window_pair` without a gap, in numpy: the reference its compiled kernel is
    tested against (a left start is usable only if some right start >= it + len_l exists)."""
    n, length = blocked.shape
    valid_r = free_starts(blocked, len_r)
    rev = np.cumsum(valid_r[:, ::-1], axis=1)[:, ::-1]
    rev = np.concatenate([rev, np.zeros((n, 1), rev.dtype)], axis=1)
    after = np.minimum(np.arange(length)[None, :] + len_l[:, None], length)
    valid_l = free_starts(blocked, len_l) & (np.take_along_axis(rev, after, axis=1) > 0)
    new_l = pick_starts(valid_l, num_perturbs, rng)
    new_r = pick_starts(valid_r, num_perturbs, rng, low=new_l + len_l[:, None])
    return new_l, new_r


class PairSegments(NamedTuple):
    """Two motifs per row in positional order: bounds and a copy of each one's bases."""

    ls: np.ndarray
    le: np.ndarray
    rs: np.ndarray
    re: np.ndarray
    left_bases: np.ndarray
    right_bases: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, first: tuple[np.ndarray, np.ndarray],
           second: tuple[np.ndarray, np.ndarray]) -> "PairSegments":
        length = codes.shape[1]
        s1, e1 = first
        s2, e2 = second
        left_first = s1 <= s2
        ls, le = np.where(left_first, s1, s2), np.where(left_first, e1, e2)
        rs, re = np.where(left_first, s2, s1), np.where(left_first, e2, e1)
        ahead = np.arange(length)[None, :]
        return cls(ls, le, rs, re, np.take_along_axis(codes, np.minimum(ls[:, None] + ahead, length - 1), axis=1),
                   np.take_along_axis(codes, np.minimum(rs[:, None] + ahead, length - 1), axis=1))

    @property
    def len_l(self) -> np.ndarray:
        return self.le - self.ls

    @property
    def len_r(self) -> np.ndarray:
        return self.re - self.rs

    def old_mask(self) -> np.ndarray:
        """(n, L) mask of both motifs' current places."""
        n, length = self.left_bases.shape
        rows = np.arange(n)
        return interval_mask(n, length, np.concatenate([rows, rows]), np.concatenate([self.ls, self.rs]),
                             np.concatenate([self.le, self.re]))

    def place(self, base: np.ndarray, codes: np.ndarray, new_l: np.ndarray, new_r: np.ndarray) -> np.ndarray:
        """``base`` (n, K, L) with the left motif written at ``new_l`` and the right one at ``new_r``
        (n, K); where either is -1 the row's copy is the original ``codes`` (nothing fits)."""
        n, k, length = base.shape
        out = base.copy()
        for new, bases, seg_len in ((new_l, self.left_bases, self.len_l), (new_r, self.right_bases, self.len_r)):
            width = int(seg_len.max()) if n else 0
            if width <= 0:
                continue
            # Only the windows' own positions (n, K, motif width), not whole sequences (n, K, L).
            offset = np.arange(width)
            pos = new[:, :, None] + offset
            ok = (new >= 0)[:, :, None] & (offset < seg_len[:, None, None]) & (pos < length)
            rows, copies, at = np.nonzero(ok)
            out[rows, copies, pos[rows, copies, at]] = bases[rows, at]
        stuck = (new_l < 0) | (new_r < 0)
        if stuck.any():
            out[stuck] = np.broadcast_to(codes[:, None, :], out.shape)[stuck]
        return out


def fits_at(blocked: np.ndarray, lengths: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bool (n, K): does a window of ``lengths`` (n,) starting at ``starts`` (n, K) avoid ``blocked``?"""
    length = blocked.shape[1]
    valid = free_starts(blocked, lengths)
    inside = (starts >= 0) & (starts < length)
    return inside & np.take_along_axis(valid, np.clip(starts, 0, length - 1), axis=1)


def relocate_pair(codes: np.ndarray, first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray],
                  blocked: np.ndarray, num_perturbs: int, background: np.ndarray,
                  rng: np.random.Generator, keep_gap: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remove two motifs and reinsert them at random non-overlapping places, order kept.

    ``first``/``second`` are (start, end) of the two motifs per row; ``blocked`` marks other
    motifs' positions, which the new places avoid. The old places are refilled with
    background bases. The original layout is always one of the candidates unless other sites
    overlap the tested motifs; a row where nothing fits is returned unchanged (starts -1).
    ``keep_gap`` moves the pair as a block: same spacing, new absolute positions.

    Returns
    -------
    (perturbed, new_left_start, new_right_start)
        perturbed codes (n, K, L) and the new starts (n, K) of the left and right motif.
    """
    seg = PairSegments.of(codes, first, second)
    new_l, new_r = pick_window_pair(blocked, seg.len_l, seg.len_r, num_perturbs, rng,
                                    gap=seg.rs - seg.ls if keep_gap else None)
    base = replace_masked(codes, seg.old_mask(), num_perturbs, background, rng)
    return seg.place(base, codes, new_l, new_r), new_l, new_r


def swap_random_windows(codes: np.ndarray, len_l: np.ndarray, len_r: np.ndarray, blocked: np.ndarray,
                        num_perturbs: int, rng: np.random.Generator) -> np.ndarray:
    """Swap two random ``blocked``-free windows of lengths ``len_l`` (left) and ``len_r`` (right)
    per row: the matched control of an in-place swap of two motifs (no new bases; rows where
    no pair fits stay unchanged). Returns (n, K, L)."""
    n, length = codes.shape
    new_l, new_r = pick_window_pair(blocked, len_l, len_r, num_perturbs, rng)
    flat = np.repeat(codes, num_perturbs, axis=0)
    ls, rs = new_l.ravel(), new_r.ravel()
    ok = (ls >= 0) & (rs >= 0)
    le, re = ls + np.repeat(len_l, num_perturbs), rs + np.repeat(len_r, num_perturbs)
    out = flat.copy()
    if ok.any():
        out[ok] = swap_segments(flat[ok], ls[ok], le[ok], rs[ok], re[ok])
    return out.reshape(n, num_perturbs, length)


def refill_windows(codes: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, num_perturbs: int,
                   shuffle, rng: np.random.Generator) -> np.ndarray:
    """Copies (n, K, L) of ``codes`` with each window [start, end) of ``rows`` replaced by
    ``shuffle(windows (B, w), rng)`` of its own bases, K independent draws per window.

    Windows of equal length are shuffled together, so the work is vectorized over windows.
    """
    out = np.repeat(codes[:, None, :], num_perturbs, axis=1)
    rows, starts, ends = (np.asarray(a, dtype=np.int64) for a in (rows, starts, ends))
    widths = ends - starts
    # The j-th window of a row (in start order) and its k-th copy get their own keyed stream.
    order = np.lexsort((starts, rows))
    ordinal = np.empty(len(rows), dtype=np.int64)
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    run_start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
    ordinal[order] = np.arange(len(rows)) - run_start
    for width in np.unique(widths):
        sel = widths == width
        r, s0 = np.repeat(rows[sel], num_perturbs), np.repeat(starts[sel], num_perturbs)
        k = np.tile(np.arange(num_perturbs), int(sel.sum()))
        cols = s0[:, None] + np.arange(int(width))[None, :]
        windows = codes[r[:, None], cols]
        streams = rng.derive(r, np.repeat(ordinal[sel], num_perturbs) * num_perturbs + k) \
            if isinstance(rng, RowStreams) else rng
        out[r[:, None], k[:, None], cols] = shuffle(windows, streams)
    return out


def shuffle_windows(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle the bases of each row of ``windows`` (B, w) independently: composition kept."""
    keys = rng.random(windows.shape)
    return np.take_along_axis(windows, np.argsort(keys, axis=1), axis=1)


def dinuc_shuffle_windows(windows: np.ndarray, rng: np.random.Generator, alphabet: int = 5) -> np.ndarray:
    """Dinucleotide-preserving shuffle of each row of ``windows`` (B, w), all rows at once.

    The Altschul-Erickson algorithm, vectorized over rows: every row keeps its first and last
    base and the count of every dinucleotide, and is drawn uniformly among the sequences that
    do. Each base's "last exit" edge is drawn at random until those edges form a tree into the
    final base (rows that fail redraw; few ever do), the other exits are put in random order,
    and the walk follows them.
    """
    windows = np.asarray(windows)
    b, w = windows.shape
    if w < 3 or b == 0:
        return windows.copy()
    if isinstance(rng, RowStreams):  # the same draws, compiled (engine/kernels.py): ~20x faster
        from motifprobe.engine.kernels import dinuc_shuffle_keyed

        out, used = dinuc_shuffle_keyed(windows, *rng.position(), alphabet=alphabet)
        rng.advance(used)
        return out.astype(windows.dtype, copy=False)
    return dinuc_shuffle_reference(windows, rng, alphabet)


def dinuc_shuffle_reference(windows: np.ndarray, rng: np.random.Generator, alphabet: int = 5) -> np.ndarray:
    """:func:`dinuc_shuffle_windows` in numpy, vectorized over rows: the reference the compiled
    kernel is tested against, and the path for a plain ``numpy.random.Generator``."""
    windows = np.asarray(windows)
    b, w = windows.shape
    if w < 3 or b == 0:
        return windows.copy()
    src = windows[:, :-1].astype(np.int64)
    dst = windows[:, 1:].astype(np.int64)
    last = windows[:, -1].astype(np.int64)
    letters = np.arange(alphabet)
    has_exit = (src[:, :, None] == letters[None, None, :]).any(axis=1)  # (B, A)
    rows = np.arange(b)
    exit_pos = np.zeros((b, alphabet), dtype=np.int64)
    todo = np.ones(b, dtype=bool)
    while todo.any():
        idx = np.flatnonzero(todo)
        keys = rows_of(rng, idx).random((len(idx), w - 1))
        for v in letters:
            masked = np.where(src[idx] == v, keys, -1.0)
            exit_pos[idx, v] = masked.argmax(axis=1)
        nxt = np.take_along_axis(dst[idx], exit_pos[idx], axis=1)  # (n, A): where each base's last exit leads
        node = np.broadcast_to(letters, (len(idx), alphabet)).copy()
        for _ in range(alphabet):
            at_root = node == last[idx, None]
            node = np.where(at_root, node, np.take_along_axis(nxt, node, axis=1))
        reaches = (node == last[idx, None]) | ~has_exit[idx]
        todo[idx] = ~reaches.all(axis=1)
    # Order each base's exits at random, its chosen last exit at the end.
    keys = rng.random((b, w - 1))
    chosen = np.zeros((b, w - 1), dtype=bool)
    for v in letters:
        sel = has_exit[:, v] & (letters[v] != last)
        chosen[rows[sel], exit_pos[sel, v]] = True
    order = np.argsort(src * 4.0 + keys + 2.0 * chosen, axis=1)
    succ = np.take_along_axis(dst, order, axis=1)
    counts = (src[:, :, None] == letters[None, None, :]).sum(axis=1)
    pointer = np.concatenate([np.zeros((b, 1), np.int64), np.cumsum(counts, axis=1)[:, :-1]], axis=1)
    out = np.empty_like(windows)
    out[:, 0] = windows[:, 0]
    current = windows[:, 0].astype(np.int64)
    for i in range(1, w):
        slot = pointer[rows, current]
        pointer[rows, current] += 1
        current = succ[rows, slot]
        out[:, i] = current
    return out
