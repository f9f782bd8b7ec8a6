"""Unit tests of the keyed random streams (engine/streams.py) against a pure-Python SplitMix64.

Fast and exact, for ``make mutate`` (group ``streams``): every value is compared with an
independent reference, not with the code's own output.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from motifprobe.engine.streams import RowStreams, _mix, context_key, id_hashes, row_keys

# Mutation testing runs these thousands of times: no shrinking (a failure is reported as found)
# and no example database.
FAST = dict(phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None)

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix_ref(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class SplitMix64:
    """The reference generator (Vigna): state += golden; return mix(state)."""

    def __init__(self, state: int):
        self.state = state & MASK

    def next(self) -> int:
        self.state = (self.state + GOLDEN) & MASK
        return mix_ref(self.state)

    def uniform(self) -> float:
        return (self.next() >> 11) * 2.0**-53


def fnv1a_ref(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def u64(values) -> np.ndarray:
    return np.array(values, dtype=np.uint64)


# -- the published SplitMix64 values ---------------------------------------------------------
def test_reference_generator_matches_published_splitmix64_values():
    # Seed 1234567: the first outputs of splitmix64.c (as used to seed xoshiro), known values.
    g = SplitMix64(1234567)
    assert [g.next() for _ in range(3)] == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def test_mix_is_the_splitmix64_finalizer():
    values = [0, 1, 2, GOLDEN, MASK, 0x0123456789ABCDEF, 1 << 63]
    got = _mix(u64(values))
    assert got.dtype == np.uint64
    assert [int(v) for v in got] == [mix_ref(v) for v in values]


def test_mix_does_not_modify_its_input():
    x = u64([5, 6, 7])
    _mix(x)
    assert x.tolist() == [5, 6, 7]


# -- keys --------------------------------------------------------------------------------------
def test_context_key_is_blake2b_of_the_joined_parts():
    expected = int.from_bytes(hashlib.blake2b("sham\x1f11\x1fA\x1fB".encode(), digest_size=8).digest(), "little")
    assert context_key("sham", 11, "A", "B") == expected
    assert 0 <= expected < 2**64
    # Pinned: the same on every machine and process.
    assert context_key("test", 0, "presence", "STAT") == int.from_bytes(
        hashlib.blake2b(b"test\x1f0\x1fpresence\x1fSTAT", digest_size=8).digest(), "little")


def test_context_key_separates_parts():
    assert context_key("ab", "c") != context_key("a", "bc")
    assert context_key("a", 1) != context_key("a", 2)
    assert context_key("a", "b") != context_key("b", "a")


@pytest.mark.parametrize("ids", [["a"], ["seq_1", "seq_22", ""], ["é", "日本", "x" * 40, "ab", "b"],
                                 ["", ""], ["zz", "z", "zzz"]])
def test_id_hashes_are_fnv1a_of_utf8(ids):
    got = id_hashes(ids)
    assert got.dtype == np.uint64 and got.shape == (len(ids),)
    assert [int(v) for v in got] == [fnv1a_ref(s) for s in ids]


def test_id_hashes_of_no_ids_and_of_arrays():
    assert id_hashes([]).dtype == np.uint64 and id_hashes([]).shape == (0,)
    arr = np.array(["p", "qq"], dtype=object)
    assert [int(v) for v in id_hashes(arr)] == [fnv1a_ref("p"), fnv1a_ref("qq")]


@settings(max_examples=30, deadline=None, **FAST)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                        max_size=6), min_size=1, max_size=5))
def test_id_hashes_property(ids):
    assert [int(v) for v in id_hashes(ids)] == [fnv1a_ref(s) for s in ids]


def test_row_keys_mix_context_with_id_hash():
    ctx = context_key("test", 3, "presence", "A")
    got = row_keys(ctx, ["s1", "s2"])
    assert got.dtype == np.uint64
    assert [int(v) for v in got] == [mix_ref(fnv1a_ref(s) ^ ctx) for s in ("s1", "s2")]


# -- draws against the reference ------------------------------------------------------------------
def test_raw_draws_are_splitmix64_per_row():
    keys = [7, 2**64 - 3, 123456789]
    s = RowStreams(u64(keys))
    got = s._raw((3, 2, 2))
    assert got.shape == (3, 2, 2) and got.dtype == np.uint64
    for i, key in enumerate(keys):
        g = SplitMix64(key)
        assert [int(v) for v in got[i].ravel()] == [g.next() for _ in range(4)]


def test_random_is_53_bit_uniform_of_splitmix64_and_continues_the_stream():
    keys = [1, 99]
    s = RowStreams(u64(keys))
    first = s.random((2, 3))
    second = s.random(2)
    assert first.dtype == np.float64 and first.shape == (2, 3) and second.shape == (2,)
    for i, key in enumerate(keys):
        g = SplitMix64(key)
        assert first[i].tolist() == [g.uniform() for _ in range(3)]
        assert second[i] == g.uniform()
    assert np.all((first >= 0) & (first < 1))


def test_random_dtype_float32():
    s = RowStreams(u64([5]))
    got = s.random((1, 4), dtype=np.float32)
    g = SplitMix64(5)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got[0], np.array([g.uniform() for _ in range(4)], dtype=np.float32))


def test_a_row_draws_the_same_alone_in_a_batch_and_in_any_order():
    keys = u64([11, 22, 33, 44])
    whole = RowStreams(keys).random((4, 5))
    alone = RowStreams(keys[2:3]).random((1, 5))
    rev = RowStreams(keys[::-1]).random((4, 5))
    np.testing.assert_array_equal(whole[2], alone[0])
    np.testing.assert_array_equal(whole[::-1], rev)


def test_leading_axis_must_be_the_rows():
    s = RowStreams(u64([1, 2]))
    with pytest.raises(ValueError, match="rows as the leading axis"):
        s.random((3, 2))
    with pytest.raises(ValueError, match="rows as the leading axis"):
        s._raw(())
    with pytest.raises(ValueError, match="rows as the leading axis"):
        s.random_masked(np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="rows as the leading axis"):
        s.random_masked(np.array(True))


def test_len_counts_the_view_rows():
    s = RowStreams(u64([1, 2, 3]))
    assert len(s) == 3
    assert len(s.rows([0, 2])) == 2


def test_rows_view_draws_those_rows_and_advances_them_in_the_parent():
    keys = [10, 20, 30]
    s = RowStreams(u64(keys))
    view = s.rows(np.array([2, 0]))
    got = view.random((2, 2))
    g2, g0 = SplitMix64(30), SplitMix64(10)
    assert got[0].tolist() == [g2.uniform(), g2.uniform()]
    assert got[1].tolist() == [g0.uniform(), g0.uniform()]
    after = s.random(3)  # rows 0 and 2 advanced by 2, row 1 not at all
    assert after[0] == g0.uniform()
    assert after[1] == SplitMix64(20).uniform()
    assert after[2] == g2.uniform()
    # a view of a view maps through both
    vv = s.rows([1, 2]).rows([1])
    assert vv.random(1)[0] == g2.uniform()


def test_derive_keys_depend_on_row_key_and_tag_only():
    keys = [1000, 2000, 3000]
    s = RowStreams(u64(keys))
    s.random(3)  # counters do not matter for derived streams
    d = s.derive(np.array([2, 0, 2]), [5, 0, 6])
    expected = [mix_ref(k ^ mix_ref((t + GOLDEN) & MASK)) for k, t in ((3000, 5), (1000, 0), (3000, 6))]
    assert [int(v) for v in d.keys] == expected
    assert len(d) == 3
    # numpy tags give the same, and a view maps its rows to the parent's keys
    d2 = s.rows([2, 1]).derive(np.array([0]), np.array([5], dtype=np.uint64))
    assert int(d2.keys[0]) == expected[0]
    g = SplitMix64(expected[1])
    assert d.random(3)[1] == g.uniform()


def test_random_masked_equals_random_under_the_mask_and_advances_full_rows():
    keys = u64([3, 4, 5])
    mask = np.zeros((3, 2, 3), bool)
    mask[0, 0, 1] = mask[0, 1, 2] = mask[2, 0, 0] = mask[2, 1, 1] = True
    a = RowStreams(keys)
    got = a.random_masked(mask)
    b = RowStreams(keys)
    full = b.random((3, 2, 3))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, full[mask])
    np.testing.assert_array_equal(a.random((3, 2)), b.random((3, 2)))  # both advanced by 6 per row
    one_d = RowStreams(keys).random_masked(np.array([True, False, True]))
    np.testing.assert_array_equal(one_d, RowStreams(keys).random(3)[[0, 2]])


def test_random_masked_after_earlier_draws_and_through_a_view():
    keys = u64([8, 9])
    a, b = RowStreams(keys), RowStreams(keys)
    a.random((2, 2))
    b.random((2, 2))
    mask = np.array([[True, True], [False, True]])
    np.testing.assert_array_equal(a.rows([1, 0]).random_masked(mask[::-1]), b.rows([1, 0]).random((2, 2))[mask[::-1]])


def test_integers_are_floor_of_uniform_times_span():
    keys = u64([1, 2])
    s, ref = RowStreams(keys), RowStreams(keys)
    got = s.integers(3, 10, (2, 4))
    u = ref.random((2, 4))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, 3 + np.floor(u * 7).astype(np.int64))
    assert got.min() >= 3 and got.max() < 10


def test_integers_one_bound_broadcast_bounds_and_empty_spans():
    keys = u64([1, 2, 3])
    s, ref = RowStreams(keys), RowStreams(keys)
    got = s.integers(np.array([4, 1, 6]))  # size from the bounds, high only
    u = ref.random(3)
    np.testing.assert_array_equal(got, np.floor(u * np.array([4, 1, 6])).astype(np.int64))
    low, high = np.array([[0], [5], [2]]), np.array([[3], [5], [1]])
    got = s.integers(low, high, (3, 2))
    u = ref.random((3, 2))
    np.testing.assert_array_equal(got[0], np.floor(u[0] * 3).astype(np.int64))
    np.testing.assert_array_equal(got[1:], [[5, 5], [2, 2]])  # empty spans give low
    got = s.integers(0, 2**40, 3)
    np.testing.assert_array_equal(got, np.floor(ref.random(3) * 2**40).astype(np.int64))


def test_integers_cover_the_range_uniformly():
    s = RowStreams(u64(np.arange(4000)))
    got = s.integers(0, 4, 4000)
    counts = np.bincount(got, minlength=4)
    assert counts.shape == (4,) and np.all(np.abs(counts - 1000) < 120)


def test_permuted_order_is_argsort_of_the_uniforms():
    keys = u64([12, 13])
    s, ref = RowStreams(keys), RowStreams(keys)
    got = s.permuted_order((2, 6))
    np.testing.assert_array_equal(got, np.argsort(ref.random((2, 6)), axis=-1))
    assert sorted(got[0].tolist()) == list(range(6))


def test_different_contexts_and_ids_give_different_draws():
    ids = ["s1", "s2", "s3"]
    base = RowStreams(row_keys(context_key("test", 1, "presence", "A"), ids)).random((3, 8))
    for ctx in (context_key("test", 2, "presence", "A"), context_key("test", 1, "order", "A"),
                context_key("test", 1, "presence", "B"), context_key("sham", 1, "A")):
        other = RowStreams(row_keys(ctx, ids)).random((3, 8))
        assert not np.any(other == base)
    assert not np.any(base[0] == base[1])


@settings(max_examples=15, deadline=None, **FAST)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=6, unique=True), st.integers(1, 5),
       st.integers(0, 3))
def test_row_draws_do_not_depend_on_the_other_rows(keys, width, skip):
    whole = RowStreams(u64(keys))
    whole.random((len(keys), skip)) if skip else None
    got = whole.random((len(keys), width))
    for i, key in enumerate(keys):
        g = SplitMix64(key)
        for _ in range(skip):
            g.next()
        assert got[i].tolist() == [g.uniform() for _ in range(width)]


# -- inputs of other types ------------------------------------------------------------------------
def test_keys_given_as_python_ints_draw_the_same():
    got = RowStreams([7, 8]).random((2, 2))
    assert got.dtype == np.float64
    for i, key in enumerate((7, 8)):
        g = SplitMix64(key)
        assert got[i].tolist() == [g.uniform(), g.uniform()]


def test_views_and_derived_streams_of_no_rows():
    s = RowStreams(u64([1, 2]))
    assert len(s.rows([])) == 0
    assert s.rows([]).random((0, 3)).shape == (0, 3)
    d = s.derive([], [])
    assert len(d) == 0 and d.keys.dtype == np.uint64


def test_derive_takes_any_iterable_of_tags():
    s = RowStreams(u64([1000, 2000]))
    from_gen = s.derive([1, 0], (t for t in (5, 6)))
    from_list = s.derive(np.array([1, 0]), [5, 6])
    expected = [mix_ref(k ^ mix_ref((t + GOLDEN) & MASK)) for k, t in ((2000, 5), (1000, 6))]
    assert [int(v) for v in from_gen.keys] == [int(v) for v in from_list.keys] == expected


def test_integers_size_from_low_and_unsigned_bounds():
    keys = u64([1, 2, 3])
    s, ref = RowStreams(keys), RowStreams(keys)
    got = s.integers(np.array([1, 2, 3]), 10)  # size from low
    np.testing.assert_array_equal(got, np.array([1, 2, 3]) + np.floor(ref.random(3) * np.array([9, 8, 7])))
    got = s.integers(np.array([2, 3, 4], dtype=np.uint64), 9, 3)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.array([2, 3, 4]) + np.floor(ref.random(3) * np.array([7, 6, 5])))


def test_permuted_order_permutes_the_last_axis():
    keys = u64([12, 13])
    got = RowStreams(keys).permuted_order((2, 3, 4))
    np.testing.assert_array_equal(got, np.argsort(RowStreams(keys).random((2, 3, 4)), axis=-1))
    for row in got.reshape(-1, 4):
        assert sorted(row.tolist()) == [0, 1, 2, 3]
