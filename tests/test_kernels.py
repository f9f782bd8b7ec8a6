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
