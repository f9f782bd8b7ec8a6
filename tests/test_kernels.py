"""The compiled dinucleotide shuffle (engine/kernels.py) against the numpy reference: same bytes."""
import numpy as np
import pytest

from motifprobe.engine import ops
from motifprobe.engine.streams import RowStreams, context_key, row_keys


def _streams(n: int, salt: str = "k") -> RowStreams:
    return RowStreams(row_keys(context_key("kernel-test", salt), np.array([f"s{i}" for i in range(n)], dtype=object)))


@pytest.mark.parametrize("width,letters", [(3, 4), (5, 2), (18, 4), (18, 5), (70, 4)])
def test_compiled_dinuc_shuffle_equals_the_numpy_reference(width, letters):
    windows = np.random.default_rng(width * 10 + letters).integers(0, letters, (400, width)).astype(np.uint8)
    ref_rng, fast_rng = _streams(400), _streams(400)
    expected = ops.dinuc_shuffle_reference(windows, ref_rng)
    got = ops.dinuc_shuffle_windows(windows, fast_rng)
    assert got.dtype == windows.dtype
    np.testing.assert_array_equal(got, expected)
    # the streams moved on by as many values: a later draw from either is the same
    np.testing.assert_array_equal(fast_rng._counters, ref_rng._counters)
    np.testing.assert_array_equal(fast_rng.random((400, 3)), ref_rng.random((400, 3)))


def test_compiled_dinuc_shuffle_keeps_dinucleotides_and_ends():
    windows = np.random.default_rng(1).integers(0, 4, (300, 25)).astype(np.uint8)
    out = ops.dinuc_shuffle_windows(windows, _streams(300))
    assert not np.array_equal(out, windows)
    np.testing.assert_array_equal(out[:, 0], windows[:, 0])
    np.testing.assert_array_equal(out[:, -1], windows[:, -1])
    pairs = lambda w: np.sort(w[:, :-1].astype(int) * 5 + w[:, 1:], axis=1)  # noqa: E731
    np.testing.assert_array_equal(pairs(out), pairs(windows))


def test_compiled_dinuc_shuffle_on_a_view_of_rows_advances_only_those_rows():
    windows = np.random.default_rng(2).integers(0, 4, (50, 12)).astype(np.uint8)
    whole, sub = _streams(100), _streams(100)
    view = sub.rows(np.arange(25, 75))
    np.testing.assert_array_equal(ops.dinuc_shuffle_windows(windows, view),
                                  ops.dinuc_shuffle_reference(windows, whole.rows(np.arange(25, 75))))
    np.testing.assert_array_equal(sub._counters, whole._counters)
    assert sub._counters[:25].sum() == 0 and sub._counters[25:75].min() > 0


def test_compiled_segment_swap_equals_the_index_arithmetic():
    rng = np.random.default_rng(4)
    n, length = 500, 60
    codes = rng.integers(0, 5, (n, length)).astype(np.uint8)
    cuts = np.sort(rng.integers(0, length + 1, (n, 4)), axis=1)
    s1, e1, s2, e2 = cuts.T
    flip = rng.random(n) < 0.5  # either argument order
    a = (np.where(flip, s2, s1), np.where(flip, e2, e1), np.where(flip, s1, s2), np.where(flip, e1, e2))
    got = ops.swap_segments(codes, *a)
    expected = np.array([np.concatenate([r[:s], r[c:d], r[b:c], r[s:b], r[d:]])
                         for r, s, b, c, d in zip(codes, s1, e1, s2, e2)])
    np.testing.assert_array_equal(got, expected)
    # the numpy path (any other dtype) gives the same rows
    np.testing.assert_array_equal(ops.swap_segments(codes.astype(np.int16), *a), expected)


@pytest.mark.parametrize("length,density", [(20, 0.0), (60, 0.05), (200, 0.3)])
def test_compiled_window_pairs_equal_the_numpy_reference(length, density):
    g = np.random.default_rng(length)
    n = 400
    blocked = g.random((n, length)) < density
    len_l, len_r = g.integers(1, 25, n), g.integers(1, 25, n)
    ref_rng, fast_rng = _streams(n, "pairs"), _streams(n, "pairs")
    expected = ops.window_pair_reference(blocked, len_l, len_r, 4, ref_rng)
    got = ops.pick_window_pair(blocked, len_l, len_r, 4, fast_rng)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert (got[0] >= 0).any() and (got[0] < 0).any() or density == 0.0
    np.testing.assert_array_equal(fast_rng._counters, ref_rng._counters)


def test_compiled_dinuc_shuffle_in_two_threads_is_the_same_as_in_one(monkeypatch):
    from motifprobe.engine import kernels

    windows = np.random.default_rng(9).integers(0, 4, (301, 40)).astype(np.uint8)
    one = ops.dinuc_shuffle_windows(windows, _streams(301, "halves"))
    monkeypatch.setattr(kernels, "PARALLEL_ELEMENTS", 100)
    both_rng = _streams(301, "halves")
    np.testing.assert_array_equal(ops.dinuc_shuffle_windows(windows, both_rng), one)
    ref_rng = _streams(301, "halves")
    np.testing.assert_array_equal(ops.dinuc_shuffle_reference(windows, ref_rng), one)
    np.testing.assert_array_equal(both_rng._counters, ref_rng._counters)



@pytest.mark.parametrize("background", [(0.25, 0.25, 0.25, 0.25), (0.1, 0.4, 0.4, 0.1), (0.0, 0.5, 0.0, 0.5)])
def test_compiled_background_fill_equals_the_numpy_draws(background):
    from motifprobe.engine.ops import background_at, fill_background

    rng = np.random.default_rng(len(str(background)))
    codes = rng.integers(0, 5, (60, 3, 40)).astype(np.uint8)
    background = np.asarray(background)
    for mask in (rng.random((60, 3, 40)) < 0.3,  # scattered
                 np.broadcast_to(rng.random((60, 1, 40)) < 0.5, (60, 3, 40))):  # one mask for every k (read-only)
        fast_rng, ref_rng = _streams(60, "fill"), _streams(60, "fill")
        view_fast, view_ref = fast_rng.rows(np.arange(10, 50)), ref_rng.rows(np.arange(10, 50))
        got, expected = codes.copy(), codes.copy()
        fill_background(got[10:50], mask[10:50], view_fast, background)
        expected[10:50][mask[10:50]] = background_at(view_ref, mask[10:50], background)
        np.testing.assert_array_equal(got, expected)
        assert set(np.unique(got[10:50][mask[10:50]])) <= set(np.flatnonzero(background))  # never N, never p=0
        np.testing.assert_array_equal(fast_rng._counters, ref_rng._counters)  # rows 10..49 moved on by K*L
        np.testing.assert_array_equal(fast_rng.random((60, 2)), ref_rng.random((60, 2)))
