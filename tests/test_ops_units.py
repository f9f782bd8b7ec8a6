"""Unit tests of the vectorized perturbation primitives (engine/ops.py) against slow references.

Small arrays, exact comparisons, for ``make mutate`` (group ``ops``).
"""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from motifprobe.engine import ops
from motifprobe.engine.sequences import bases_from_uniform
from motifprobe.engine.streams import RowStreams

# Mutation testing runs these thousands of times: no shrinking (a failure is reported as found)
# and no example database.
FAST = dict(phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None)

T_ONLY = np.array([0.0, 0.0, 0.0, 1.0])  # background that always draws T (code 3)
UNIFORM = np.full(4, 0.25)


class Fixed:
    """A stand-in generator whose ``random(shape)`` returns given uniforms, in order."""

    def __init__(self, *values):
        self.values = [np.asarray(v, dtype=np.float64) for v in values]
        self.shapes = []

    def random(self, shape):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.shapes.append(shape)
        v = self.values.pop(0)
        assert v.shape == shape, (v.shape, shape)
        return v


def keyed(n, base=100):
    return RowStreams(np.arange(base, base + n, dtype=np.uint64))


def codes_of(rows):
    return np.array([[int(c) for c in r] for r in rows], dtype=np.uint8)


# -- rng helpers ----------------------------------------------------------------------------------
def test_uniform_at_keyed_is_random_masked_and_generator_draws_count():
    mask = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(ops.uniform_at(keyed(2), mask), keyed(2).random((2, 3))[mask])
    got = ops.uniform_at(np.random.default_rng(4), mask)
    np.testing.assert_array_equal(got, np.random.default_rng(4).random(3))


def test_rows_of_gives_a_view_or_the_generator():
    s = keyed(3)
    view = ops.rows_of(s, np.array([2]))
    assert isinstance(view, RowStreams) and len(view) == 1
    np.testing.assert_array_equal(view.random(1), keyed(3).random(3)[2:])
    g = np.random.default_rng(0)
    assert ops.rows_of(g, np.array([1])) is g


def test_background_at_draws_bases_from_the_background():
    mask = np.array([[True, True, False, True]])
    got = ops.background_at(keyed(1), mask, np.array([0.1, 0.2, 0.3, 0.4]))
    u = keyed(1).random((1, 4))[mask]
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, bases_from_uniform(u, np.array([0.1, 0.2, 0.3, 0.4])))
    np.testing.assert_array_equal(ops.background_at(keyed(1), mask, T_ONLY), [3, 3, 3])


# -- interval_mask ----------------------------------------------------------------------------------
def mask_ref(n, length, rows, starts, ends):
    m = np.zeros((n, length), bool)
    for r, s, e in zip(rows, starts, ends):
        m[r, s:e] = True
    return m


@settings(max_examples=40, deadline=None, **FAST)
@given(st.integers(1, 4), st.integers(1, 9), st.data())
def test_interval_mask_matches_reference(n, length, data):
    k = data.draw(st.integers(0, 6))
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), dtype=np.int64)
    starts = np.array(data.draw(st.lists(st.integers(0, length), min_size=k, max_size=k)), dtype=np.int64)
    ends = np.array([data.draw(st.integers(int(s), length)) for s in starts], dtype=np.int64)
    got = ops.interval_mask(n, length, rows, starts, ends)
    assert got.dtype == bool and got.shape == (n, length)
    np.testing.assert_array_equal(got, mask_ref(n, length, rows, starts, ends))


def test_interval_mask_overlaps_and_ends():
    got = ops.interval_mask(2, 6, np.array([0, 0, 1, 1]), np.array([1, 2, 4, 0]), np.array([4, 3, 6, 1]))
    np.testing.assert_array_equal(got, [[0, 1, 1, 1, 0, 0], [1, 0, 0, 0, 1, 1]])


# -- replace_masked -------------------------------------------------------------------------------
def test_replace_masked_redraws_only_the_mask_in_k_copies():
    codes = codes_of(["0120", "2211"])
    mask = np.array([[False, True, True, False], [True, False, False, False]])
    before = codes.copy()
    out = ops.replace_masked(codes, mask, 3, T_ONLY, keyed(2))
    np.testing.assert_array_equal(codes, before)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], np.tile([0, 3, 3, 0], (3, 1)))
    np.testing.assert_array_equal(out[1], np.tile([3, 2, 1, 1], (3, 1)))


def test_replace_masked_draws_keyed_uniforms_in_mask_order():
    codes = codes_of(["0000", "0000"])
    mask = np.array([[True, False, True, False], [False, True, False, False]])
    out = ops.replace_masked(codes, mask, 2, UNIFORM, keyed(2))
    full = np.broadcast_to(mask[:, None, :], (2, 2, 4))
    expected = np.zeros((2, 2, 4), np.uint8)
    expected[full] = bases_from_uniform(keyed(2).random((2, 2, 4))[full], UNIFORM)
    np.testing.assert_array_equal(out, expected)
    gen = ops.replace_masked(codes, mask, 2, UNIFORM, np.random.default_rng(9))
    expected[full] = bases_from_uniform(np.random.default_rng(9).random(int(full.sum())), UNIFORM)
    np.testing.assert_array_equal(gen, expected)


def test_replace_masked_takes_given_draws():
    codes = codes_of(["0000"])
    mask = np.array([[False, True, True, False]])
    draws = np.arange(8, dtype=np.uint8).reshape(1, 2, 4) % 4
    out = ops.replace_masked(codes, mask, 2, UNIFORM, Fixed(), draws=draws)
    np.testing.assert_array_equal(out[0], [[0, 1, 2, 0], [0, 1, 2, 0]])


# -- swap_segments ----------------------------------------------------------------------------------
def swap_ref(row, s1, e1, s2, e2):
    (ls, le), (rs, re) = sorted([(s1, e1), (s2, e2)])
    return row[:ls] + row[rs:re] + row[le:rs] + row[ls:le] + row[re:]


@settings(max_examples=60, deadline=None, **FAST)
@given(st.integers(2, 10), st.data())
def test_swap_segments_matches_reference(length, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, length), min_size=4, max_size=4)))
    s1, e1, s2, e2 = cuts
    assume(s1 < e1 and s2 < e2)  # motifs are never empty
    if data.draw(st.booleans()):
        s1, e1, s2, e2 = s2, e2, s1, e1
    row = [int(x) for x in data.draw(st.lists(st.integers(0, 3), min_size=length, max_size=length))]
    codes = np.array([row, row[::-1]], dtype=np.uint8)
    a = lambda v: np.array([v, v])  # noqa: E731
    got = ops.swap_segments(codes, a(s1), a(e1), a(s2), a(e2))
    assert got.shape == codes.shape and got.dtype == np.uint8
    assert got[0].tolist() == swap_ref(row, s1, e1, s2, e2)
    assert got[1].tolist() == swap_ref(row[::-1], s1, e1, s2, e2)


def test_swap_segments_examples_and_overlap():
    codes = codes_of(["0011223", "0123012"])
    got = ops.swap_segments(codes, np.array([0, 4]), np.array([2, 6]), np.array([4, 0]), np.array([7, 1]))
    assert got[0].tolist() == swap_ref([0, 0, 1, 1, 2, 2, 3], 0, 2, 4, 7) == [2, 2, 3, 1, 1, 0, 0]
    assert got[1].tolist() == swap_ref([0, 1, 2, 3, 0, 1, 2], 4, 6, 0, 1)
    adjacent = ops.swap_segments(codes[:1], np.array([0]), np.array([3]), np.array([3]), np.array([5]))
    assert adjacent[0].tolist() == [1, 2, 0, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="^segments overlap$"):
        ops.swap_segments(codes[:1], np.array([0]), np.array([4]), np.array([3]), np.array([5]))


# -- free_starts / pick_starts / sham_windows / place_windows ------------------------------------------
def free_ref(blocked, lengths):
    n, length = blocked.shape
    out = np.zeros((n, length), bool)
    for i in range(n):
        for s in range(length):
            e = s + lengths[i]
            out[i, s] = e <= length and not blocked[i, s:e].any()
    return out


@settings(max_examples=40, deadline=None, **FAST)
@given(st.integers(1, 3), st.integers(1, 10), st.data())
def test_free_starts_matches_reference(n, length, data):
    blocked = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=length, max_size=length),
                                          min_size=n, max_size=n)))
    lengths = np.array(data.draw(st.lists(st.integers(1, length + 1), min_size=n, max_size=n)), dtype=np.int64)
    got = ops.free_starts(blocked, lengths)
    assert got.shape == (n, length) and got.dtype == bool
    np.testing.assert_array_equal(got, free_ref(blocked, lengths))


def pick_ref(valid, u, low=None):
    n, k = u.shape
    out = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        for j in range(k):
            lo = 0 if low is None else min(max(int(low[i, j]), 0), valid.shape[1])
            starts = [s for s in np.flatnonzero(valid[i]) if s >= lo]
            if starts:
                out[i, j] = starts[int(np.floor(u[i, j] * len(starts)))]
    return out


@settings(max_examples=40, deadline=None, **FAST)
@given(st.integers(1, 3), st.integers(1, 8), st.integers(1, 3), st.booleans(), st.data())
def test_pick_starts_matches_reference(n, length, k, with_low, data):
    valid = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=length, max_size=length),
                                        min_size=n, max_size=n)))
    u = np.array(data.draw(st.lists(st.lists(st.floats(0, 1, exclude_max=True), min_size=k, max_size=k),
                                    min_size=n, max_size=n)))
    low = np.array(data.draw(st.lists(st.lists(st.integers(-2, length + 2), min_size=k, max_size=k),
                                      min_size=n, max_size=n)), dtype=np.int64) if with_low else None
    got = ops.pick_starts(valid, k, Fixed(u), low=low)
    assert got.dtype == np.int64 and got.shape == (n, k)
    np.testing.assert_array_equal(got, pick_ref(valid, u, low))


def test_pick_starts_examples():
    valid = np.array([[False, True, False, True, True], [False] * 5, [True, False, False, False, False]])
    u = np.array([[0.0, 0.34, 0.99], [0.5, 0.5, 0.5], [0.9, 0.0, 0.5]])
    got = ops.pick_starts(valid, 3, Fixed(u))
    np.testing.assert_array_equal(got, [[1, 3, 4], [-1, -1, -1], [0, 0, 0]])
    low = np.array([[2, 4, 5], [0, 0, 0], [0, 1, 0]])
    got = ops.pick_starts(valid, 3, Fixed(np.full((3, 3), 0.0)), low=low)
    np.testing.assert_array_equal(got, [[3, 4, -1], [-1, -1, -1], [0, -1, 0]])


def test_pick_starts_is_uniform_over_valid_starts():
    valid = np.array([[True, False, True, True, False, True]])
    got = ops.pick_starts(valid, 4000, keyed(1))
    counts = Counter(got[0].tolist())
    assert set(counts) == {0, 2, 3, 5}
    assert all(abs(c - 1000) < 150 for c in counts.values())


def test_sham_windows_picks_free_starts():
    blocked = np.array([[False, False, True, True, False, False, False], [True] * 7])
    lengths = np.array([2, 1])
    u = np.array([[0.0, 0.26, 0.51, 0.99], [0.3, 0.3, 0.3, 0.3]])
    got = ops.sham_windows(blocked, lengths, 4, Fixed(u))
    # row 0: free starts of length 2 are 0, 4, 5
    np.testing.assert_array_equal(got, [[0, 0, 4, 5], [-1, -1, -1, -1]])


def test_place_windows_matches_reference():
    codes = np.zeros((2, 6), np.uint8)
    starts = np.array([[0, 4, -1], [2, 5, 3]])
    lengths = np.array([2, 1])
    got = ops.place_windows(codes, starts, lengths)
    expected = np.zeros((2, 3, 6), bool)
    for i, j in itertools.product(range(2), range(3)):
        if starts[i, j] >= 0:
            expected[i, j, starts[i, j]:starts[i, j] + lengths[i]] = True
    assert got.shape == (2, 3, 6)
    np.testing.assert_array_equal(got, expected)


# -- relocate_pair ----------------------------------------------------------------------------------
def relocate_case():
    # Row 0: left motif 32 at 2..4 (given as `second`), right 232 at 7..10, another site blocks 12..14.
    # Row 1: left 23 at 0..2, right 32 at 8..10; nothing blocked.  Background draws T (3); the rest
    # is made of 0/1, and no motif is a repeat of one base (a copy from the wrong offset shows).
    codes = codes_of(["0132010232010100", "2301100032010100"])
    first = (np.array([7, 0]), np.array([10, 2]))
    second = (np.array([2, 8]), np.array([4, 10]))
    blocked = np.zeros((2, 16), bool)
    blocked[0, 12:14] = True
    return codes, first, second, blocked


def test_relocate_pair_moves_both_motifs_keeps_order_and_refills():
    codes, first, second, blocked = relocate_case()
    k = 300
    out, new_l, new_r = ops.relocate_pair(codes, first, second, blocked, k, T_ONLY, keyed(2))
    assert out.shape == (2, k, 16) and out.dtype == np.uint8
    assert new_l.shape == new_r.shape == (2, k)
    motifs = {0: ((2, 4), (7, 10)), 1: ((0, 2), (8, 10))}
    for i in range(2):
        (ls, le), (rs, re) = motifs[i]
        left, right = codes[i, ls:le].tolist(), codes[i, rs:re].tolist()
        for j in range(k):
            a, b = int(new_l[i, j]), int(new_r[i, j])
            assert 0 <= a and a + len(left) <= b and b + len(right) <= 16
            assert out[i, j, a:a + len(left)].tolist() == left
            assert out[i, j, b:b + len(right)].tolist() == right
            assert not blocked[i, a:a + len(left)].any() and not blocked[i, b:b + len(right)].any()
            moved = np.zeros(16, bool)
            moved[a:a + len(left)] = moved[b:b + len(right)] = True
            old = np.zeros(16, bool)
            old[ls:le] = old[rs:re] = True
            np.testing.assert_array_equal(out[i, j, old & ~moved], 3)
            np.testing.assert_array_equal(out[i, j, ~old & ~moved], codes[i, ~old & ~moved])
    # every left start with room for the right motif after it is drawn, uniformly
    valid_r = free_ref(blocked, np.array([3, 2]))
    for i, (llen, rlen) in enumerate(((2, 3), (2, 2))):
        lefts = [s for s in range(16) if free_ref(blocked[i:i + 1], np.array([llen]))[0, s]
                 and any(valid_r[i, t] for t in range(s + llen, 16))]
        counts = Counter(new_l[i].tolist())
        assert set(counts) == set(lefts)
        assert max(counts.values()) < 3 * k / len(lefts)


def test_relocate_pair_right_start_is_uniform_after_the_left():
    codes = codes_of(["0011000000"])
    out, new_l, new_r = ops.relocate_pair(codes, (np.array([0]), np.array([2])), (np.array([2]), np.array([4])),
                                          np.zeros((1, 10), bool), 3000, T_ONLY, keyed(1))
    pairs = Counter(zip(new_l[0].tolist(), new_r[0].tolist()))
    assert set(pairs) == {(a, b) for a in range(7) for b in range(a + 2, 9)}
    for a in range(7):
        row = [c for (x, _), c in pairs.items() if x == a]
        assert max(row) - min(row) < 0.6 * np.mean(row) + 20


def test_relocate_pair_leaves_rows_where_nothing_fits():
    codes = codes_of(["01230123", "00112233"])
    blocked = np.zeros((2, 8), bool)
    blocked[0, 1] = True  # row 0: the blocked site overlaps the left motif: no layout fits
    first, second = (np.array([0, 0]), np.array([2, 2])), (np.array([4, 4]), np.array([6, 6]))
    blocked[0, 2:] = True
    out, new_l, new_r = ops.relocate_pair(codes, first, second, blocked, 2, T_ONLY, keyed(2))
    np.testing.assert_array_equal(out[0], np.tile(codes[0], (2, 1)))
    assert (new_l[0] < 0).all() or (new_r[0] < 0).all()
    assert (new_l[1] >= 0).all() and (new_r[1] >= new_l[1] + 2).all()
    assert out[1].tolist() != np.tile(codes[1], (2, 1)).tolist() or True
    for j in range(2):
        a, b = new_l[1, j], new_r[1, j]
        assert out[1, j, a:a + 2].tolist() == [0, 0] and out[1, j, b:b + 2].tolist() == [2, 2]


def test_relocate_pair_keyed_rows_are_independent():
    codes, first, second, blocked = relocate_case()
    both = ops.relocate_pair(codes, first, second, blocked, 4, UNIFORM, keyed(2))
    alone = ops.relocate_pair(codes[1:], (first[0][1:], first[1][1:]), (second[0][1:], second[1][1:]),
                              blocked[1:], 4, UNIFORM, RowStreams(np.array([101], dtype=np.uint64)))
    for a, b in zip(both, alone):
        np.testing.assert_array_equal(a[1:], b)


# -- refill_windows / shuffles -------------------------------------------------------------------------
def test_refill_windows_places_each_shuffled_window_in_every_copy():
    codes = codes_of(["0123012301", "3333222211"])
    rows, starts, ends = np.array([1, 0, 0]), np.array([0, 6, 1]), np.array([3, 9, 4])
    reverse = lambda w, rng: w[:, ::-1]  # noqa: E731
    before = codes.copy()
    out = ops.refill_windows(codes, rows, starts, ends, 2, reverse, keyed(2))
    np.testing.assert_array_equal(codes, before)
    assert out.shape == (2, 2, 10) and out.dtype == np.uint8
    exp0 = [0, 3, 2, 1, 0, 1, 0, 3, 2, 1]
    exp1 = [3, 3, 3, 3, 2, 2, 2, 2, 1, 1]
    np.testing.assert_array_equal(out[0], [exp0, exp0])
    np.testing.assert_array_equal(out[1], [exp1, exp1])


def test_refill_windows_keys_each_window_by_row_ordinal_and_copy():
    codes = codes_of(["0123012301", "3333222211"])
    rows, starts, ends = np.array([0, 1, 0, 0]), np.array([6, 0, 1, 4]), np.array([8, 3, 4, 5])
    k = 3
    s = keyed(2)
    seen = {}

    def record(w, rng):
        for win, key in zip(w, rng.keys):
            seen.setdefault(tuple(win.tolist()), []).append(int(key))
        return w

    ops.refill_windows(codes, rows, starts, ends, k, record, s)
    # ordinal in start order within the row: row 0 windows at 1 (0th), 4 (1st), 6 (2nd); row 1 at 0 (0th)
    expect = {(1, 2, 3): (0, 0), (0,): (0, 1), (2, 3): (0, 2), (3, 3, 3): (1, 0)}
    for window, (row, ordinal) in expect.items():
        tags = [ordinal * k + c for c in range(k)]
        assert seen[window] == [int(x) for x in keyed(2).derive(np.full(k, row), tags).keys]


def test_refill_windows_shuffle_keeps_composition_and_rows_are_independent():
    codes = codes_of(["0123012301", "3012301221"])
    rows, starts, ends = np.array([0, 1, 1]), np.array([1, 2, 7]), np.array([7, 6, 10])
    out = ops.refill_windows(codes, rows, starts, ends, 4, ops.shuffle_windows, keyed(2))
    for r, s, e in zip(rows, starts, ends):
        for j in range(4):
            assert sorted(out[r, j, s:e].tolist()) == sorted(codes[r, s:e].tolist())
    np.testing.assert_array_equal(out[0, :, 7:], np.tile(codes[0, 7:], (4, 1)))
    np.testing.assert_array_equal(out[0, :, :1], np.tile(codes[0, :1], (4, 1)))
    assert len({tuple(x) for x in out[0, :, 1:7].tolist()}) > 1
    alone = ops.refill_windows(codes[1:], np.array([0, 0]), starts[1:], ends[1:], 4, ops.shuffle_windows,
                               RowStreams(np.array([101], dtype=np.uint64)))
    np.testing.assert_array_equal(out[1], alone[0])


def test_refill_windows_with_a_generator():
    codes = codes_of(["01230123"])
    out = ops.refill_windows(codes, np.array([0]), np.array([2]), np.array([6]), 2, ops.shuffle_windows,
                             np.random.default_rng(3))
    windows = np.repeat(codes[:, 2:6], 2, axis=0)
    expected = ops.shuffle_windows(windows, np.random.default_rng(3))
    np.testing.assert_array_equal(out[0, :, 2:6], expected)
    np.testing.assert_array_equal(out[0, :, :2], [[0, 1], [0, 1]])


def test_shuffle_windows_is_argsort_of_uniforms():
    w = codes_of(["012301", "333210"])
    got = ops.shuffle_windows(w, keyed(2))
    np.testing.assert_array_equal(got, np.take_along_axis(w, np.argsort(keyed(2).random((2, 6)), axis=1), axis=1))


def dinucs(row):
    return Counter(zip(row[:-1], row[1:]))


def same_dinuc_sequences(row):
    return {seq for seq in itertools.product(range(4), repeat=len(row))
            if seq[0] == row[0] and dinucs(seq) == dinucs(row)}


@settings(max_examples=25, deadline=None, **FAST)
@given(st.lists(st.lists(st.integers(0, 4), min_size=8, max_size=8), min_size=1, max_size=4))
def test_dinuc_shuffle_keeps_ends_and_dinucleotides(rows):
    w = np.array(rows, dtype=np.uint8)
    out = ops.dinuc_shuffle_windows(w, keyed(len(rows)))
    assert out.dtype == np.uint8 and out.shape == w.shape
    for a, b in zip(w.tolist(), out.tolist()):
        assert b[0] == a[0] and b[-1] == a[-1] and dinucs(a) == dinucs(b)


def test_dinuc_shuffle_is_uniform_over_sequences_with_the_same_dinucleotides():
    row = [0, 1, 0, 2, 0, 1, 2]
    allowed = same_dinuc_sequences(row)
    assert len(allowed) > 2
    n = 400 * len(allowed)
    w = np.tile(np.array(row, np.uint8), (n, 1))
    out = ops.dinuc_shuffle_windows(w, keyed(n))
    counts = Counter(map(tuple, out.tolist()))
    assert set(counts) == allowed
    expected = n / len(allowed)
    assert all(abs(c - expected) < 0.2 * expected for c in counts.values()), counts


def test_dinuc_shuffle_retries_touch_only_failing_rows_and_short_windows_are_copied():
    rows = np.array([[0, 1, 0, 2, 0, 1, 2, 1, 0, 3], [2, 1, 0, 2, 3, 1, 2, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
                    dtype=np.uint8)
    both = ops.dinuc_shuffle_windows(rows, keyed(3))
    for i in range(3):
        alone = ops.dinuc_shuffle_windows(rows[i:i + 1], RowStreams(np.array([100 + i], np.uint64)))
        np.testing.assert_array_equal(both[i], alone[0])
    np.testing.assert_array_equal(both[2], rows[2])
    short = np.array([[0, 1], [2, 3]], np.uint8)
    got = ops.dinuc_shuffle_windows(short, keyed(2))
    np.testing.assert_array_equal(got, short)
    assert got is not short
    empty = np.zeros((0, 5), np.uint8)
    assert ops.dinuc_shuffle_windows(empty, keyed(0)).shape == (0, 5)


def test_dinuc_shuffle_with_a_generator_and_n_codes():
    w = np.array([[4, 0, 4, 1, 0, 4, 2, 4]], np.uint8)
    out = ops.dinuc_shuffle_windows(np.repeat(w, 50, axis=0), np.random.default_rng(1))
    for b in out.tolist():
        assert b[0] == 4 and b[-1] == 4 and dinucs(b) == dinucs(w[0].tolist())
    assert len({tuple(b) for b in out.tolist()}) > 1


def test_relocate_pair_copies_a_motif_that_ends_the_sequence():
    codes = codes_of(["01230000000000123"])  # left 123 at 1..4, right 0123 at 13..17 (the last base)
    out, new_l, new_r = ops.relocate_pair(codes, (np.array([1]), np.array([4])), (np.array([13]), np.array([17])),
                                          np.zeros((1, 17), bool), 50, T_ONLY, keyed(1))
    for j in range(50):
        a, b = new_l[0, j], new_r[0, j]
        assert out[0, j, a:a + 3].tolist() == [1, 2, 3] and out[0, j, b:b + 4].tolist() == [0, 1, 2, 3]


# -- pick_window_pair / keep_gap / swap_random_windows / n_mask -------------------------------------
def pair_ref(blocked, len_l, len_r, u_l, u_r, gap=None):
    """Reference: left start uniform among those with a fitting right window, then the right one."""
    n, length = blocked.shape
    fl, fr = free_ref(blocked, len_l), free_ref(blocked, len_r)
    if gap is None:
        valid_l = np.array([[fl[i, s] and fr[i, s + len_l[i]:].any() for s in range(length)] for i in range(n)])
        new_l = pick_ref(valid_l, u_l)
        new_r = pick_ref(fr, u_r, low=new_l + len_l[:, None]) if u_r is not None else None
        return new_l, new_r
    valid_l = np.array([[fl[i, s] and s + gap[i] < length and fr[i, s + gap[i]] for s in range(length)]
                        for i in range(n)])
    new_l = pick_ref(valid_l, u_l)
    return new_l, np.where(new_l >= 0, new_l + gap[:, None], -1)


@settings(max_examples=40, deadline=None, **FAST)
@given(st.integers(1, 3), st.integers(2, 10), st.integers(1, 3), st.booleans(), st.data())
def test_pick_window_pair_matches_reference(n, length, k, with_gap, data):
    blocked = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=length, max_size=length),
                                          min_size=n, max_size=n)))
    len_l = np.array(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), dtype=np.int64)
    len_r = np.array(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), dtype=np.int64)
    unit = st.floats(0, 1, exclude_max=True)
    u_l = np.array(data.draw(st.lists(st.lists(unit, min_size=k, max_size=k), min_size=n, max_size=n)))
    u_r = np.array(data.draw(st.lists(st.lists(unit, min_size=k, max_size=k), min_size=n, max_size=n)))
    if with_gap:
        gap = np.array(data.draw(st.lists(st.integers(-2, length + 1), min_size=n, max_size=n)), dtype=np.int64)
        gap = np.maximum(gap, len_l)  # the right window starts after the left one ends
        got = ops.pick_window_pair(blocked, len_l, len_r, k, Fixed(u_l), gap=gap)
        expected = pair_ref(blocked, len_l, len_r, u_l, None, gap)
    else:
        got = ops.pick_window_pair(blocked, len_l, len_r, k, Fixed(u_l, u_r))
        expected = pair_ref(blocked, len_l, len_r, u_l, u_r)
    for a, b in zip(got, expected):
        assert a.dtype == np.int64 and a.shape == (n, k)
        np.testing.assert_array_equal(a, b)


def test_pick_window_pair_examples():
    blocked = np.array([[False, False, False, True, False, False, False, False, False]])
    u = np.array([[0.0, 0.99]])
    # gap 4, lengths 2 and 2: left starts with a free left window and a free right one 4 later: 0 (-> 4), 4 (-> 8 no),
    # so 0 and ... 5 -> 9 is out of range
    new_l, new_r = ops.pick_window_pair(blocked, np.array([2]), np.array([1]), 2, Fixed(u), gap=np.array([4]))
    np.testing.assert_array_equal(new_l, [[0, 4]])
    np.testing.assert_array_equal(new_r, [[4, 8]])
    new_l, new_r = ops.pick_window_pair(blocked, np.array([2]), np.array([2]), 2, Fixed(u), gap=np.array([8]))
    np.testing.assert_array_equal(new_l, [[-1, -1]])
    np.testing.assert_array_equal(new_r, [[-1, -1]])


def test_relocate_pair_keep_gap_moves_the_pair_as_a_block():
    codes, first, second, blocked = relocate_case()
    out, new_l, new_r = ops.relocate_pair(codes, first, second, blocked, 200, T_ONLY, keyed(2), keep_gap=True)
    np.testing.assert_array_equal(new_r - new_l, np.tile([[5], [8]], (1, 200)))
    for i, (left, right) in enumerate((([3, 2], [2, 3, 2]), ([2, 3], [3, 2]))):
        for j in range(200):
            a, b = new_l[i, j], new_r[i, j]
            assert out[i, j, a:a + len(left)].tolist() == left and out[i, j, b:b + len(right)].tolist() == right
            assert not blocked[i, a:a + len(left)].any() and not blocked[i, b:b + len(right)].any()
    # row 0: left 2 bases, right 3 bases 5 later, avoiding 12..14: starts 0..4 and 8 would end in 12..14 ...
    assert set(new_l[0].tolist()) == {s for s in range(16) if s + 5 + 3 <= 16
                                      and not blocked[0, s:s + 2].any() and not blocked[0, s + 5:s + 8].any()}
    assert set(new_l[1].tolist()) == set(range(0, 7))


def test_swap_random_windows_matches_swap_segments_at_the_drawn_places():
    codes = codes_of(["0123012301", "3210321032", "0000000000"])
    blocked = np.zeros((3, 10), bool)
    blocked[0, 4] = True
    blocked[2, :] = True  # nothing fits: unchanged
    len_l, len_r = np.array([2, 3, 1]), np.array([3, 1, 1])
    u_l = np.array([[0.1, 0.7], [0.5, 0.95], [0.3, 0.3]])
    u_r = np.array([[0.2, 0.9], [0.0, 0.5], [0.3, 0.3]])
    out = ops.swap_random_windows(codes, len_l, len_r, blocked, 2, Fixed(u_l, u_r))
    new_l, new_r = pair_ref(blocked, len_l, len_r, u_l, u_r)
    assert out.shape == (3, 2, 10) and out.dtype == np.uint8
    for i in range(3):
        for j in range(2):
            a, b = new_l[i, j], new_r[i, j]
            if a < 0:
                assert out[i, j].tolist() == codes[i].tolist()
                continue
            assert out[i, j].tolist() == swap_ref(codes[i].tolist(), a, a + len_l[i], b, b + len_r[i])
            assert out[i, j].tolist() != codes[i].tolist() or a + len_l[i] == b
    nothing = ops.swap_random_windows(codes[2:], len_l[2:], len_r[2:], blocked[2:], 3, keyed(1))
    np.testing.assert_array_equal(nothing, np.tile(codes[2], (1, 3, 1)))


def test_n_mask_marks_code_4():
    got = ops.n_mask(np.array([[0, 4, 3], [4, 4, 1]], np.uint8))
    assert got.dtype == bool
    np.testing.assert_array_equal(got, [[False, True, False], [True, True, False]])
    np.testing.assert_array_equal(ops.n_mask([[4, 2]]), [[True, False]])


def test_pick_starts_rows_with_every_start_valid_beside_sparse_rows():
    valid = np.array([[True] * 6, [False] * 5 + [True], [True] * 6, [False, True] + [False] * 4])
    u = np.array([[0.99, 0.0], [0.5, 0.99], [0.9, 0.5], [0.0, 0.99]])
    np.testing.assert_array_equal(ops.pick_starts(valid, 2, Fixed(u)), pick_ref(valid, u))
    np.testing.assert_array_equal(pick_ref(valid, u), [[5, 0], [5, 5], [5, 3], [1, 1]])


def test_dinuc_shuffle_of_one_base_windows_and_pinned_keyed_output():
    one = np.array([[2], [0]], np.uint8)
    np.testing.assert_array_equal(ops.dinuc_shuffle_windows(one, keyed(2)), one)
    # The keyed perturbation of a window is part of the reproducibility promise: pinned.
    w = np.array([[0, 1, 0, 2, 0, 1, 2, 1, 0, 3, 0, 2], [2, 2, 1, 0, 3, 2, 1, 0, 1, 2, 3, 3]], np.uint8)
    got = ops.dinuc_shuffle_windows(w, keyed(2, base=7))
    assert got.tolist() == [[0, 2, 1, 2, 0, 1, 0, 3, 0, 1, 0, 2], [2, 1, 0, 3, 2, 2, 1, 0, 1, 2, 3, 3]]
    for a, b in zip(w.tolist(), got.tolist()):
        assert dinucs(a) == dinucs(b) and a != b
