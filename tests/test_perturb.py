"""The vectorized perturbation primitives against slow, obviously-correct pure-Python references."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from motifprobe.engine.ops import (free_starts, interval_mask, pick_starts, place_windows, relocate_pair, replace_masked,
                            sham_windows, swap_segments)
from motifprobe.engine.perturbation import TestBatch as Batch  # aliased: pytest would try to collect Test*
from motifprobe.engine.perturbation import sham_perturb

N, L = 200, 80
SKEWED = np.array([0.1, 0.2, 0.3, 0.4])


def random_codes(rng: np.random.Generator, n: int = N, length: int = L, alphabet=(0, 1, 2, 3)) -> np.ndarray:
    return rng.choice(np.asarray(alphabet, dtype=np.uint8), size=(n, length))


def to_str(row: np.ndarray) -> str:
    return "".join("ACGT"[int(c)] for c in row)


def random_pairs(rng: np.random.Generator, n: int = N, length: int = L, lo: int = 5, hi: int = 12):
    """Non-overlapping segment pairs (lengths lo..hi) per row, returned in a random argument order.

    Returns (s1, e1, s2, e2) int64 arrays; about half the rows have the right segment first.
    """
    s1, e1, s2, e2 = (np.empty(n, np.int64) for _ in range(4))
    for i in range(n):
        la, lb = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
        gap = int(rng.integers(0, length - la - lb + 1))
        start = int(rng.integers(0, length - la - lb - gap + 1))
        left = (start, start + la)
        right = (start + la + gap, start + la + gap + lb)
        if rng.random() < 0.5:
            left, right = right, left
        (s1[i], e1[i]), (s2[i], e2[i]) = left, right
    return s1, e1, s2, e2


# ---------------------------------------------------------------- slow references

def slow_swap(row: str, s1: int, e1: int, s2: int, e2: int) -> str:
    (ls, le), (rs, re) = sorted([(s1, e1), (s2, e2)])
    return row[:ls] + row[rs:re] + row[le:rs] + row[ls:le] + row[re:]


def slow_interval_mask(n, length, rows, starts, ends):
    out = np.zeros((n, length), bool)
    for r, s, e in zip(rows, starts, ends):
        for p in range(s, e):
            out[r, p] = True
    return out


def slow_free_starts(blocked, lengths):
    n, length = blocked.shape
    out = np.zeros((n, length), bool)
    for i in range(n):
        for s in range(length):
            e = s + int(lengths[i])
            out[i, s] = e <= length and not any(blocked[i, p] for p in range(s, e))
    return out


# ---------------------------------------------------------------- interval_mask / place_windows

def test_interval_mask_matches_slow_loop():
    rng = np.random.default_rng(0)
    m = 600  # several (possibly overlapping, possibly empty) intervals per row
    rows = rng.integers(0, N, m)
    starts = rng.integers(0, L, m)
    ends = np.minimum(starts + rng.integers(0, 15, m), L)
    got = interval_mask(N, L, rows, starts, ends)
    assert got.shape == (N, L) and got.dtype == bool
    np.testing.assert_array_equal(got, slow_interval_mask(N, L, rows, starts, ends))


def test_place_windows_matches_slow_loop():
    rng = np.random.default_rng(1)
    k = 4
    codes = random_codes(rng)
    lengths = rng.integers(0, 13, N)
    starts = rng.integers(-1, L, (N, k))
    starts = np.where(starts + lengths[:, None] <= L, starts, -1)
    got = place_windows(codes, starts, lengths)
    want = np.zeros((N, k, L), bool)
    for i in range(N):
        for j in range(k):
            if starts[i, j] >= 0:
                want[i, j, starts[i, j]:starts[i, j] + lengths[i]] = True
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- swap_segments

def test_swap_segments_matches_string_rearrangement():
    rng = np.random.default_rng(2)
    codes = random_codes(rng)
    before = codes.copy()
    s1, e1, s2, e2 = random_pairs(rng)
    assert np.any(s1 > s2) and np.any(s1 < s2)  # both argument orders are exercised
    out = swap_segments(codes, s1, e1, s2, e2)
    np.testing.assert_array_equal(codes, before)  # input untouched
    assert out.shape == codes.shape
    for i in range(N):
        row = to_str(codes[i])
        want = slow_swap(row, s1[i], e1[i], s2[i], e2[i])
        assert to_str(out[i]) == want, i
        assert len(want) == L
        assert sorted(to_str(out[i])) == sorted(row)  # base multiset kept
    np.testing.assert_array_equal(np.sort(out, axis=1), np.sort(codes, axis=1))


def test_swap_segments_argument_order_irrelevant():
    rng = np.random.default_rng(3)
    codes = random_codes(rng)
    s1, e1, s2, e2 = random_pairs(rng)
    np.testing.assert_array_equal(swap_segments(codes, s1, e1, s2, e2), swap_segments(codes, s2, e2, s1, e1))


def test_swap_segments_adjacent_and_edges():
    codes = np.array([[0, 0, 1, 1, 1, 2, 3, 3]], dtype=np.uint8)
    a = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    # adjacent segments [0,2) and [2,5), touching both ends of the rearranged span
    out = swap_segments(codes, a(0), a(2), a(2), a(5))
    assert to_str(out[0]) == slow_swap(to_str(codes[0]), 0, 2, 2, 5) == "CCCAAGTT"
    # segments at the very start and the very end
    out = swap_segments(codes, a(6), a(8), a(0), a(1))
    assert to_str(out[0]) == slow_swap(to_str(codes[0]), 6, 8, 0, 1) == "TTACCCGA"


def test_swap_segments_swapping_back_restores():
    rng = np.random.default_rng(4)
    codes = random_codes(rng)
    s1, e1, s2, e2 = random_pairs(rng)
    ls, le = np.minimum(s1, s2), np.where(s1 <= s2, e1, e2)
    rs, re = np.maximum(s1, s2), np.where(s1 <= s2, e2, e1)
    out = swap_segments(codes, s1, e1, s2, e2)
    # after the swap the right segment sits at ls and the left one ends at re
    len_l, len_r = le - ls, re - rs
    back = swap_segments(out, ls, ls + len_r, re - len_l, re)
    np.testing.assert_array_equal(back, codes)


@pytest.mark.parametrize("segs", [(10, 20, 15, 25), (15, 25, 10, 20), (10, 20, 10, 20), (10, 30, 12, 18),
                                  (10, 20, 19, 25), (19, 25, 10, 20)])
def test_swap_segments_overlap_raises(segs):
    rng = np.random.default_rng(5)
    codes = random_codes(rng, n=3)
    # rows 0 and 1 are fine (adjacent, and apart); row 2 overlaps
    s1, e1, s2, e2 = (np.array([a, b, v], dtype=np.int64) for a, b, v in zip((0, 5, 5, 10), (40, 45, 60, 70), segs))
    swap_segments(codes[:2], s1[:2], e1[:2], s2[:2], e2[:2])  # the fine rows alone do not raise
    with pytest.raises(ValueError):
        swap_segments(codes, s1, e1, s2, e2)
    with pytest.raises(ValueError):
        swap_segments(codes, s2, e2, s1, e1)


# ---------------------------------------------------------------- replace_masked

def test_replace_masked_only_changes_masked_positions():
    rng = np.random.default_rng(6)
    k = 5
    codes = random_codes(rng, alphabet=(1, 2, 3))
    before = codes.copy()
    mask = rng.random((N, L)) < 0.3
    # background concentrated on A (absent from codes): every masked position must change to A
    out = replace_masked(codes, mask, k, np.array([1.0, 0.0, 0.0, 0.0]), np.random.default_rng(0))
    np.testing.assert_array_equal(codes, before)
    assert out.shape == (N, k, L) and out.dtype == np.uint8
    full = np.broadcast_to(mask[:, None, :], out.shape)
    np.testing.assert_array_equal(out[~full], np.broadcast_to(codes[:, None, :], out.shape)[~full])
    assert np.all(out[full] == 0)


def test_replace_masked_unmasked_identical_with_skewed_background():
    rng = np.random.default_rng(7)
    k = 3
    codes = random_codes(rng)
    mask = rng.random((N, L)) < 0.5
    out = replace_masked(codes, mask, k, SKEWED, rng)
    for j in range(k):
        np.testing.assert_array_equal(out[:, j][~mask], codes[~mask])


def test_replace_masked_follows_background():
    rng = np.random.default_rng(8)
    n, k = 250, 10
    codes = np.full((n, L), 3, dtype=np.uint8)
    mask = rng.random((n, L)) < 0.5
    out = replace_masked(codes, mask, k, SKEWED, np.random.default_rng(123))
    bases = out[np.broadcast_to(mask[:, None, :], out.shape)]
    assert 90_000 < bases.size < 110_000
    observed = np.bincount(bases, minlength=4)
    assert observed.size == 4
    res = chisquare(observed, SKEWED * bases.size)
    assert res.pvalue > 1e-3, (observed, res)
    # the K copies are redrawn independently, not a single draw repeated
    assert np.any(out[:, 0][mask] != out[:, 1][mask])


def test_replace_masked_honors_draws():
    rng = np.random.default_rng(9)
    k = 4
    codes = random_codes(rng)
    mask = rng.random((N, L)) < 0.4
    draws = random_codes(rng, n=N * k).reshape(N, k, L)
    out = replace_masked(codes, mask, k, SKEWED, rng, draws=draws)
    full = np.broadcast_to(mask[:, None, :], out.shape)
    np.testing.assert_array_equal(out[full], draws[full])
    np.testing.assert_array_equal(out[~full], np.broadcast_to(codes[:, None, :], out.shape)[~full])
    # same draws, different mask: the shared positions get the same bases (arms share draws)
    mask2 = mask | (rng.random((N, L)) < 0.2)
    out2 = replace_masked(codes, mask2, k, SKEWED, np.random.default_rng(1), draws=draws)
    np.testing.assert_array_equal(out2[full], out[full])


# ---------------------------------------------------------------- free_starts / pick_starts / sham_windows

def test_free_starts_matches_slow_loop():
    rng = np.random.default_rng(10)
    blocked = rng.random((N, L)) < 0.05
    lengths = rng.integers(1, 16, N)
    lengths[:3] = [0, L, L + 5]  # edge cases: empty window, whole sequence, too long
    blocked[1] = False
    got = free_starts(blocked, lengths)
    np.testing.assert_array_equal(got, slow_free_starts(blocked, lengths))
    assert got[1, 0] and got[1].sum() == 1
    assert not got[2].any()


def test_free_starts_with_interval_blocks():
    rng = np.random.default_rng(11)
    m = 300
    rows, starts = rng.integers(0, N, m), rng.integers(0, L - 12, m)
    blocked = interval_mask(N, L, rows, starts, starts + rng.integers(5, 13, m))
    lengths = rng.integers(5, 25, N)
    np.testing.assert_array_equal(free_starts(blocked, lengths), slow_free_starts(blocked, lengths))


def test_pick_starts_only_valid_and_minus_one_for_empty_rows():
    rng = np.random.default_rng(12)
    k = 30
    valid = rng.random((N, L)) < 0.1
    valid[::17] = False  # rows with no valid start
    valid[5] = False
    valid[5, L - 1] = True  # only the last start
    valid[6] = False
    valid[6, 0] = True  # only the first start
    got = pick_starts(valid, k, np.random.default_rng(0))
    assert got.shape == (N, k) and got.dtype == np.int64
    for i in range(N):
        if not valid[i].any():
            assert np.all(got[i] == -1), i
        else:
            assert np.all(got[i] >= 0) and np.all(valid[i, got[i]]), i
    assert np.all(got[5] == L - 1) and np.all(got[6] == 0)


def test_pick_starts_honors_low():
    rng = np.random.default_rng(13)
    k = 20
    valid = rng.random((N, L)) < 0.15
    low = rng.integers(-5, L + 5, (N, k))
    got = pick_starts(valid, k, np.random.default_rng(1), low=low)
    for i in range(N):
        for j in range(k):
            candidates = np.flatnonzero(valid[i]) if low[i, j] <= 0 else np.flatnonzero(valid[i, low[i, j]:]) + low[i, j]
            if candidates.size == 0:
                assert got[i, j] == -1, (i, j)
            else:
                assert got[i, j] in candidates, (i, j)


def test_pick_starts_roughly_uniform():
    rng = np.random.default_rng(14)
    valid = np.zeros((3, L), bool)
    valid[1] = rng.random(L) < 0.3
    idx = np.flatnonzero(valid[1])
    draws = 40_000
    got = pick_starts(valid, draws, np.random.default_rng(2))
    assert np.all(got[0] == -1) and np.all(got[2] == -1)
    counts = np.array([(got[1] == s).sum() for s in idx])
    assert counts.sum() == draws
    assert chisquare(counts).pvalue > 1e-3


def test_pick_starts_uniform_above_low():
    valid = np.zeros((1, L), bool)
    valid[0, ::3] = True
    draws = 30_000
    low = np.full((1, draws), 31)
    got = pick_starts(valid, draws, np.random.default_rng(3), low=low)
    idx = np.flatnonzero(valid[0, 31:]) + 31
    counts = np.array([(got[0] == s).sum() for s in idx])
    assert counts.sum() == draws
    assert chisquare(counts).pvalue > 1e-3


def test_sham_windows_avoid_blocked():
    rng = np.random.default_rng(15)
    k = 10
    blocked = rng.random((N, L)) < 0.08
    lengths = rng.integers(3, 14, N)
    blocked[0] = True  # nothing fits
    starts = sham_windows(blocked, lengths, k, np.random.default_rng(4))
    free = slow_free_starts(blocked, lengths)
    for i in range(N):
        if not free[i].any():
            assert np.all(starts[i] == -1)
        else:
            assert np.all(free[i, starts[i]])


# ---------------------------------------------------------------- relocate_pair

def relocate_setup(seed: int, with_block: bool = True):
    rng = np.random.default_rng(seed)
    codes = random_codes(rng, alphabet=(1, 2, 3))
    s1, e1, s2, e2 = random_pairs(rng)
    motif = interval_mask(N, L, np.r_[np.arange(N), np.arange(N)], np.r_[s1, s2], np.r_[e1, e2])
    blocked = np.zeros((N, L), bool)
    if with_block:
        # one extra "other motif" per row where it fits outside the pair
        for i in range(N):
            length = int(rng.integers(5, 13))
            ok = [s for s in range(L - length + 1) if not motif[i, s:s + length].any()]
            if ok and rng.random() < 0.8:
                s = int(rng.choice(ok))
                blocked[i, s:s + length] = True
    return codes, (s1, e1), (s2, e2), blocked, motif


@pytest.mark.parametrize("with_block", [True, False])
def test_relocate_pair_properties(with_block):
    k = 6
    codes, first, second, blocked, old_mask = relocate_setup(16, with_block)
    before = codes.copy()
    out, new_l, new_r = relocate_pair(codes, first, second, blocked, k, SKEWED, np.random.default_rng(5))
    np.testing.assert_array_equal(codes, before)
    assert out.shape == (N, k, L) and out.dtype == np.uint8
    assert new_l.shape == new_r.shape == (N, k)
    (s1, e1), (s2, e2) = first, second
    moved = 0
    for i in range(N):
        (ls, le), (rs, re) = sorted([(int(s1[i]), int(e1[i])), (int(s2[i]), int(e2[i]))])
        left, right = to_str(codes[i, ls:le]), to_str(codes[i, rs:re])
        for j in range(k):
            row = to_str(out[i, j])
            nl, nr = int(new_l[i, j]), int(new_r[i, j])
            assert len(row) == L
            assert nl >= 0 and nr >= 0, (i, j)
            # intact motifs at the returned starts, order kept, no overlap, inside the sequence
            assert row[nl:nl + len(left)] == left, (i, j)
            assert row[nr:nr + len(right)] == right, (i, j)
            assert nl + len(left) <= nr and nr + len(right) <= L, (i, j)
            new_mask = np.zeros(L, bool)
            new_mask[nl:nl + len(left)] = True
            new_mask[nr:nr + len(right)] = True
            assert not np.any(new_mask & blocked[i]), (i, j)
            # outside old and new windows nothing changes
            outside = ~(new_mask | old_mask[i])
            np.testing.assert_array_equal(out[i, j][outside], codes[i][outside])
            moved += (nl, nr) != (ls, rs)
    assert moved > N * k // 2  # the placements really are random


def test_relocate_pair_refills_old_places_from_background():
    """With a background that is all A (absent from the input), old positions not covered by
    the new placement become exactly A, and nothing else does."""
    k = 4
    codes, first, second, blocked, old_mask = relocate_setup(17)
    out, new_l, new_r = relocate_pair(codes, first, second, blocked, k, np.array([1.0, 0, 0, 0]),
                                      np.random.default_rng(6))
    (s1, e1), (s2, e2) = first, second
    len_l = np.where(s1 <= s2, e1 - s1, e2 - s2)
    len_r = np.where(s1 <= s2, e2 - s2, e1 - s1)
    new_mask = place_windows(codes, new_l, len_l) | place_windows(codes, new_r, len_r)
    refilled = old_mask[:, None, :] & ~new_mask
    assert refilled.any()
    assert np.all(out[refilled] == 0)
    assert np.all(out[~refilled] != 0)


def test_relocate_pair_argument_order_keeps_left_left():
    """Swapping the ``first``/``second`` arguments still puts the positionally-left motif left."""
    k = 3
    codes, first, second, blocked, _ = relocate_setup(18)
    out_a, l_a, r_a = relocate_pair(codes, first, second, blocked, k, SKEWED, np.random.default_rng(7))
    out_b, l_b, r_b = relocate_pair(codes, second, first, blocked, k, SKEWED, np.random.default_rng(7))
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(l_a, l_b)
    np.testing.assert_array_equal(r_a, r_b)


def test_relocate_pair_tight_fit_keeps_original_layout():
    """When only the original layout fits, it is the one returned."""
    codes = np.array([[1, 2, 3, 1, 2, 3, 1, 2, 3, 1]], dtype=np.uint8)
    blocked = np.zeros((1, 10), bool)
    blocked[0, 4:6] = True
    a = lambda v: np.array([v], dtype=np.int64)  # noqa: E731
    # left motif [0, 4), right motif [6, 10): the only free layout
    out, nl, nr = relocate_pair(codes, (a(6), a(10)), (a(0), a(4)), blocked, 5, SKEWED, np.random.default_rng(8))
    assert np.all(nl == 0) and np.all(nr == 6)
    np.testing.assert_array_equal(out[0], np.repeat(codes, 5, axis=0))


# ---------------------------------------------------------------- sham_perturb

def make_batch(seed: int, motifs=("m1",), k: int = 8, background=SKEWED):
    rng = np.random.default_rng(seed)
    codes = random_codes(rng, alphabet=(1, 2, 3))
    records = []
    for i in range(N):
        free = np.ones(L, bool)
        for name in ("m1", "m2", "m3", "m1"):
            length = int(rng.integers(5, 13))
            ok = [s for s in range(L - length + 1) if free[s:s + length].all()]
            if not ok or (name == "m3" and rng.random() < 0.5):
                continue
            s = int(rng.choice(ok))
            free[s:s + length] = False
            records.append((i, name, s, s + length, "+" if rng.random() < 0.5 else "-"))
    # a row so crowded by sites that no window fits
    records = [r for r in records if r[0] != 0]
    records += [(0, "m1", 0, 10, "+"), (0, "m2", 10, 20, "+")]
    records += [(0, "m3", s, s + 10, "+") for s in range(20, L, 10)]
    sites = pd.DataFrame(records, columns=["seq", "name", "start", "end", "strand"])
    labels = rng.integers(0, 2, N).astype(np.int64)
    return Batch(codes=codes, labels=labels, motifs=tuple(motifs), sites=sites,
                     background=np.asarray(background, float), num_perturbs=k)


def window_lengths(batch: Batch) -> np.ndarray:
    """Slow: bases covered by every instance of the tested motifs per row (what presence replaces)."""
    out = np.zeros(len(batch), np.int64)
    for i in range(len(batch)):
        covered = np.zeros(batch.codes.shape[1], bool)
        for name in batch.motifs:
            for r in batch.sites[(batch.sites["seq"] == i) & (batch.sites["name"] == name)].itertuples():
                covered[r.start:r.end] = True
        out[i] = covered.sum()
    return out


def site_mask(batch: Batch) -> np.ndarray:
    mask = np.zeros(batch.codes.shape, bool)
    for r in batch.sites.itertuples():
        mask[r.seq, r.start:r.end] = True
    return mask


@pytest.mark.parametrize("motifs", [("m1",), ("m1", "m2")])
def test_sham_perturb_changes_one_window_outside_sites(motifs):
    batch = make_batch(19, motifs)
    before = batch.codes.copy()
    out = sham_perturb(batch, np.random.default_rng(9))
    np.testing.assert_array_equal(batch.codes, before)
    assert out.shape == (N, batch.num_perturbs, L) and out.dtype == np.uint8
    sites = site_mask(batch)
    lengths = window_lengths(batch)
    diff = out != batch.codes[:, None, :]
    assert not np.any(diff & sites[:, None, :])  # never touches a recorded site
    assert np.all(diff.sum(axis=2) <= lengths[:, None])  # at most a window's worth of changes
    for i in range(N):
        for j in range(batch.num_perturbs):
            pos = np.flatnonzero(diff[i, j])
            if pos.size:
                assert pos[-1] - pos[0] + 1 <= lengths[i], (i, j)  # all inside one window
    assert not diff[0].any()  # the crowded row has no free window and stays unchanged
    assert diff.any()


@pytest.mark.parametrize("motifs", [("m1",), ("m1", "m2")])
def test_sham_perturb_window_has_exact_length(motifs):
    """With an all-A background (absent from the input) every replaced base shows, so each
    perturbation changes exactly one contiguous run of the tested motifs' length."""
    batch = make_batch(20, motifs, background=[1.0, 0, 0, 0])
    out = sham_perturb(batch, np.random.default_rng(10))
    lengths = window_lengths(batch)
    np.testing.assert_array_equal(batch.motif_lengths(), lengths)
    fits = slow_free_starts(site_mask(batch), lengths).any(axis=1)
    assert not fits[0] and fits[1:].sum() > N // 3
    diff = out != batch.codes[:, None, :]
    for i in range(N):
        for j in range(batch.num_perturbs):
            pos = np.flatnonzero(diff[i, j])
            if not fits[i]:
                assert pos.size == 0, (i, j)
                continue
            assert pos.size == lengths[i], (i, j)
            assert pos[-1] - pos[0] + 1 == lengths[i], (i, j)
            assert np.all(out[i, j, pos] == 0)
    # the K perturbations of a row draw their own windows
    starts = np.where(diff.any(axis=2), diff.argmax(axis=2), -1)
    assert np.mean([len(set(starts[i])) > 1 for i in np.flatnonzero(fits)]) > 0.5
