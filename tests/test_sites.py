"""Every instance, both strands: which instances each test acts on, and the rules' labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motifprobe.engine.perturbation import TestBatch, sham_perturb
from motifprobe.engine.rules import make_rule
from motifprobe.engine.sites import chosen_instances, instance_pairs
from motifprobe.plugins.tests.distance import DistanceTest
from motifprobe.plugins.tests.order import OrderTest
from motifprobe.plugins.tests.presence import PresenceTest

BG = np.array([0.25, 0.25, 0.25, 0.25])


def sites_frame(records, scores=None) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["seq", "name", "start", "end", "strand"])
    if scores is not None:
        frame["score"] = pd.array(scores, dtype="Float64")
    return frame


def test_chosen_instance_is_highest_score_else_leftmost():
    records = [(0, "a", 30, 36, "+"), (0, "a", 5, 11, "-"), (0, "a", 50, 56, "+"),
               (1, "a", 40, 46, "+"), (1, "a", 10, 16, "+"), (2, "b", 0, 4, "+")]
    start, end = chosen_instances(sites_frame(records), "a", 4)
    np.testing.assert_array_equal(start, [5, 10, -1, -1])  # no scores: leftmost
    np.testing.assert_array_equal(end, [11, 16, -1, -1])
    scored = sites_frame(records, scores=[7.5, 3.0, 9.1, None, 2.0, 1.0])
    start, end = chosen_instances(scored, "a", 4)
    np.testing.assert_array_equal(start, [50, 10, -1, -1])  # highest score; a scored one beats unscored
    np.testing.assert_array_equal(end, [56, 16, -1, -1])
    tie = sites_frame([(0, "a", 30, 36, "+"), (0, "a", 5, 11, "+")], scores=[4.0, 4.0])
    assert chosen_instances(tie, "a", 1)[0][0] == 5  # ties: the leftmost


def batch_of(codes, records, motifs, k=3, scores=None) -> TestBatch:
    return TestBatch(np.asarray(codes, np.uint8), np.ones(len(codes), np.int64), tuple(motifs),
                     sites_frame(records, scores), BG, k)


def test_presence_removes_every_instance_on_both_strands():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(2, 60)).astype(np.uint8)
    records = [(0, "a", 3, 9, "+"), (0, "a", 20, 26, "-"), (0, "b", 40, 46, "+"), (1, "a", 50, 56, "-")]
    batch = batch_of(codes, records, ("a",), k=40)
    out = PresenceTest().perturb(batch, np.random.default_rng(1))["perturbed"]
    changed = (out != codes[:, None, :]).any(axis=1)
    inside = np.zeros(codes.shape, bool)
    for seq, _, s, e in [(0, "a", 3, 9), (0, "a", 20, 26), (1, "a", 50, 56)]:
        inside[seq, s:e] = True
    assert not np.any(changed & ~inside)  # nothing outside the motif's instances
    assert changed[0, 3:9].all() and changed[0, 20:26].all() and changed[1, 50:56].all()  # both instances


def test_order_swaps_the_chosen_pair_and_keeps_other_instances():
    codes = np.zeros((1, 40), np.uint8)
    codes[0, 2:6] = [1, 1, 1, 1]      # a, weak
    codes[0, 10:14] = [1, 2, 1, 2]    # a, strong (chosen by score)
    codes[0, 25:28] = [3, 3, 3]       # b
    records = [(0, "a", 2, 6, "+"), (0, "a", 10, 14, "-"), (0, "b", 25, 28, "+")]
    batch = batch_of(codes, records, ("a", "b"), k=1, scores=[1.0, 8.0, 5.0])
    out = OrderTest().perturb(batch, np.random.default_rng(0))["perturbed"][0, 0]
    expected = codes[0].copy()
    expected[10:13] = [3, 3, 3]
    expected[13:24] = codes[0, 14:25]
    expected[24:28] = [1, 2, 1, 2]
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out[2:6], [1, 1, 1, 1])  # the other instance of a stays


def test_distance_moves_chosen_pair_away_from_other_instances_and_n():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, size=(30, 80)).astype(np.uint8)
    codes[:, 70:] = 4  # padding / unknown bases
    records = []
    for i in range(30):
        records += [(i, "a", 5, 11, "+"), (i, "b", 15, 21, "-"), (i, "a", 40, 46, "+")]
    batch = batch_of(codes, records, ("a", "b"), k=6)
    out = DistanceTest().perturb(batch, np.random.default_rng(4))["perturbed"]
    np.testing.assert_array_equal(out[:, :, 40:46], np.broadcast_to(codes[:, None, 40:46], (30, 6, 6)))
    assert np.all(out[:, :, 70:] == 4)  # never writes into N
    assert np.all(out[:, :, :70] < 4)  # never creates N


def test_sham_avoids_n_and_replaces_as_many_bases_as_all_instances():
    codes = np.full((50, 60), 2, np.uint8)
    codes[:, 30:] = 4
    records = []
    for i in range(50):
        records += [(i, "a", 0, 4, "+"), (i, "a", 10, 14, "+")]
    batch = batch_of(codes, records, ("a",), k=5)
    np.testing.assert_array_equal(batch.motif_lengths(), np.full(50, 8))
    out = sham_perturb(batch, np.random.default_rng(0))
    assert np.all(out[:, :, 30:] == 4)
    assert np.all(out[:, :, :4] == 2) and np.all(out[:, :, 10:14] == 2)


@pytest.mark.parametrize("rule, expected", [
    ("order", [1, 0, 1, 0]),
    ("distance", [1, 0, 0, 0]),
    ("presence", [1, 1, 1, 0]),
])
def test_rule_labels_look_at_every_instance(rule, expected):
    records = [
        (0, "A", 50, 56, "+"), (0, "B", 30, 36, "+"), (0, "A", 20, 26, "-"),  # a second A before B
        (1, "B", 5, 11, "+"), (1, "A", 20, 26, "+"),                           # only B before A
        (2, "A", 0, 6, "+"), (2, "B", 40, 46, "+"), (2, "B", 2, 8, "+"),       # far apart (gap 34)
        (3, "A", 0, 6, "+"),
    ]
    params = {"min_dist": 0, "max_dist": 5} if rule == "distance" else {}
    labels = make_rule(rule, ["A", "B"], params).labels(sites_frame(records), 4)
    np.testing.assert_array_equal(labels, expected)


def test_instance_pairs_cross_product_per_row():
    records = [(0, "A", 0, 2, "+"), (0, "A", 5, 7, "+"), (0, "B", 9, 11, "+"), (1, "A", 0, 2, "+")]
    pairs = instance_pairs(sites_frame(records), "A", "B")
    assert sorted(pairs["start_a"].tolist()) == [0, 5]
    assert set(pairs["seq"]) == {0}
