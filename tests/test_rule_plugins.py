"""The built-in rules, exactly: labels on hand-made site tables, layouts, every expectation, every error.

Fast (no data generated, no model): each test pins behaviour of engine/rules.py or
plugins/rules/*.py that a plausible change would break (`make mutate` checks they do).
Generated data and end-to-end scoring are tested in test_rules.py and test_generation.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motifprobe import Rule, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.registry import Registry
from motifprobe.engine.rules import as_rule, make_rule, rule_from_dict
from motifprobe.plugins.rules.any import AnyRule
from motifprobe.plugins.rules.distance import DistanceRule
from motifprobe.plugins.rules.order import OrderRule
from motifprobe.plugins.rules.presence import PresenceRule

A, B, D, E = "A", "B", "D", "E"
LEN = 6  # every motif in the hand-made tables is 6 bp


def sites(*rows) -> pd.DataFrame:
    """(seq, name, start) triples as a site table, sorted like a Dataset's."""
    frame = pd.DataFrame([{"seq": s, "name": n, "start": st, "end": st + LEN, "strand": "+"} for s, n, st in rows],
                         columns=["seq", "name", "start", "end", "strand"])
    return frame.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)


def labels(rule, table, n):
    got = rule.labels(table, n)
    assert got.dtype == np.int64 and got.shape == (n,)
    return got.tolist()


# ---------------------------------------------------------------- labels

def test_presence_labels_need_every_pos_motif_even_at_position_0():
    table = sites((0, A, 0), (0, B, 10), (1, A, 3), (2, D, 0), (3, B, 0), (3, A, 20), (4, A, 0), (4, B, 7),
                  (5, B, 2))
    assert labels(PresenceRule([A, B]), table, 7) == [1, 0, 0, 1, 1, 0, 0]
    assert labels(PresenceRule([A]), table, 7) == [1, 1, 0, 1, 1, 0, 0]


def test_any_labels_need_one_pos_motif_even_at_position_0():
    table = sites((0, B, 0), (1, D, 0), (2, A, 4), (2, B, 30), (4, A, 9))
    assert labels(AnyRule([A, B]), table, 5) == [1, 0, 1, 0, 1]


def test_order_labels_need_the_first_pos_motif_strictly_first():
    table = sites((0, A, 0), (0, B, 10), (1, B, 0), (1, A, 10), (2, A, 0), (3, B, 0), (4, A, 5), (4, B, 5),
                  (5, A, 1), (5, B, 0), (5, A, 9))  # row 5: the first A (at 1) is after B
    assert labels(OrderRule([A, B]), table, 7) == [1, 0, 0, 0, 0, 0, 0]


def test_distance_labels_need_order_and_a_gap_inside_the_window():
    rule = DistanceRule([A, B], min_dist=2, max_dist=5)
    # gap = start of B - end of A (A ends at start + 6)
    table = sites((0, A, 0), (0, B, 8),  # gap 2: in
                  (1, A, 0), (1, B, 11),  # gap 5: in
                  (2, A, 0), (2, B, 7),  # gap 1: out
                  (3, A, 0), (3, B, 12),  # gap 6: out
                  (4, B, 0), (4, A, 9),  # reversed
                  (5, A, 0),  # B missing
                  (6, B, 3),  # A missing
                  (7, A, 10), (7, B, 19))  # gap 3, not at 0
    assert labels(rule, table, 9) == [1, 1, 0, 0, 0, 0, 0, 1, 0]
    assert labels(DistanceRule([A, B], min_dist=0, max_dist=0), sites((0, A, 0), (0, B, 6), (1, A, 0), (1, B, 7)),
                  2) == [1, 0]


def test_min_length_is_the_motifs_plus_the_largest_gap():
    lengths = {A: 6, B: 9, D: 4}
    assert PresenceRule([A]).min_length(lengths, [A, B, D]) == 19
    assert DistanceRule([A, B], min_dist=1, max_dist=12).min_length(lengths, [A, B]) == 27


# ---------------------------------------------------------------- expectations

ORDER_REASONS = {
    "presence": "removing a pos motif turns a positive negative",
    "interaction": "both pos motifs are needed (AND-like), so removing both hurts less than the sum",
    "confounded": "moving a pos motif against a decoy changes its place relative to its partner, and so the true label",
    "none": "not part of the rule",
}


@pytest.mark.parametrize("rule, feature, motifs, want", [
    (OrderRule([A, B]), "presence", (A,), ("effect", 1, ORDER_REASONS["presence"])),
    (OrderRule([A, B]), "presence", (D, B), ("effect", 1, ORDER_REASONS["presence"])),
    (OrderRule([A, B]), "presence", (D,), ("none", 0, ORDER_REASONS["none"])),
    (OrderRule([A, B]), "interaction", (B, A), ("effect", -1, ORDER_REASONS["interaction"])),
    (OrderRule([A, B]), "interaction", (A, D), ("none", 0, ORDER_REASONS["none"])),
    (OrderRule([A, B]), "interaction", (A,), ("none", 0, ORDER_REASONS["none"])),
    (OrderRule([A, B]), "order", (A, B), ("effect", 1, "the rule depends on the pos motifs' order")),
    (OrderRule([A, B]), "spacing", (A, B), ("none", 0, "the rule ignores the pos motifs' spacing (order kept)")),
    (OrderRule([A, B]), "order", (A, D), ("confounded", 0, ORDER_REASONS["confounded"])),
    (OrderRule([A, B]), "spacing", (D, B), ("confounded", 0, ORDER_REASONS["confounded"])),
    (OrderRule([A, B]), "order", (D, E), ("none", 0, ORDER_REASONS["none"])),
    (OrderRule([A, B]), "orientation", (A,), ("none", 0, ORDER_REASONS["none"])),
    (DistanceRule([A, B]), "spacing", (A, B), ("effect", 1, "the rule depends on the pos motifs' spacing")),
    (DistanceRule([A, B]), "order", (B, A), ("effect", 1, "the rule depends on the pos motifs' order")),
    (DistanceRule([A, B]), "spacing", (A, D), ("confounded", 0, ORDER_REASONS["confounded"])),
    (PresenceRule([A, B]), "presence", (A,), ("effect", 1, "removing a pos motif turns a positive negative")),
    (PresenceRule([A, B]), "presence", (D, B), ("effect", 1, "removing a pos motif turns a positive negative")),
    (PresenceRule([A, B]), "interaction", (A, B), ("effect", -1, "AND: removing one pos motif already removes the "
                                                                 "signal, so both together hurt less than the sum")),
    (PresenceRule([A, B]), "interaction", (A, D),
     ("none", 0, "the label depends only on which pos motifs are present")),
    (PresenceRule([A, B]), "order", (A, B), ("none", 0, "the label depends only on which pos motifs are present")),
    (PresenceRule([A]), "interaction", (A,), ("none", 0, "the label depends only on which pos motifs are present")),
    (PresenceRule([A, B]), "presence", (D,), ("none", 0, "the label depends only on which pos motifs are present")),
    (AnyRule([A, B]), "presence", (B,), ("effect", 1, "removing the only pos motif turns a positive negative")),
    (AnyRule([A, B]), "presence", (D, A), ("effect", 1, "removing the only pos motif turns a positive negative")),
    (AnyRule([A, B]), "interaction", (A, B), ("effect", 1, "OR: each pos motif can stand in for the other, so "
                                                           "removing both hurts more than the sum")),
    (AnyRule([A, B]), "interaction", (A, D), ("none", 0, "the label depends only on whether any pos motif is present")),
    (AnyRule([A]), "interaction", (A,), ("none", 0, "the label depends only on whether any pos motif is present")),
    (AnyRule([A, B]), "order", (A, B), ("none", 0, "the label depends only on whether any pos motif is present")),
    (AnyRule([A, B]), "presence", (D,), ("none", 0, "the label depends only on whether any pos motif is present")),
])
def test_every_expectation_with_its_sign_and_reason(rule, feature, motifs, want):
    got = rule.expects(feature, motifs)
    assert (got.status, got.sign, got.reason) == want


def test_the_base_rule_expects_nothing():
    class Bare(Rule):
        def labels(self, sites, num_seqs):
            return np.zeros(num_seqs, dtype=np.int64)

    got = Bare([A]).expects("presence", (A,))
    assert (got.status, got.sign, got.reason) == ("none", 0, "")
    assert Bare([A]).draw_pairs([A], np.array([6]), np.ones(3, bool), 50, np.random.default_rng(0)) is None


# ---------------------------------------------------------------- construction and metadata

class OneToThree(PresenceRule):
    min_pos_motifs, max_pos_motifs = 1, 3


@pytest.mark.parametrize("build, message", [
    (lambda: OrderRule([A]), "rule 'order' needs exactly 2 pos motif(s), got 1: A"),
    (lambda: AnyRule([]), "rule 'any' needs at least 1 pos motif(s), got 0: (none)"),
    (lambda: OneToThree([A, B, D, E]), "rule 'presence' needs 1 to 3 pos motif(s), got 4: A, B, D, E"),
    (lambda: PresenceRule([A, B, A]), "rule 'presence': pos motifs must differ, got A, B, A"),
    (lambda: DistanceRule([A, B], gap=3), "rule 'distance': unknown parameter(s) gap; valid: max_dist, min_dist"),
    (lambda: DistanceRule([A, B], min_dist=6, max_dist=5),
     "rule 'distance': min_dist (6) must not exceed max_dist (5)"),
])
def test_construction_errors_are_exact(build, message):
    with pytest.raises(MotifprobeError) as info:
        build()
    assert str(info.value) == message


def test_construction_keeps_strings_params_and_equal_bounds():
    rule = DistanceRule((A, B), min_dist="4", max_dist=4)
    assert rule.pos_motifs == (A, B) and rule.params == {"min_dist": 4, "max_dist": 4}
    assert OneToThree([A, B, D]).pos_motifs == (A, B, D)
    assert rule.to_dict() == {"name": "distance", "pos_motifs": [A, B], "params": {"min_dist": 4, "max_dist": 4}}
    assert repr(PresenceRule([A])) == "PresenceRule({'name': 'presence', 'pos_motifs': ['A'], 'params': {}})"


class Boom(PresenceRule):
    def __init__(self, pos_motifs, **params):
        raise ValueError("bad layout")


class Strict(PresenceRule):
    def __init__(self, pos_motifs, **params):
        raise MotifprobeError("strict says no")


class LocalRules:
    @staticmethod
    @hookimpl
    def register_rules(register):
        register("boom", Boom)
        register("strict", Strict)
        register("local-and", PresenceRule, aliases=("land",))


@pytest.fixture(scope="module")
def registry():
    return Registry(extra_plugins={"local": LocalRules}, entry_points=False)


def test_make_rule_names_the_rule_by_its_registered_name_and_reports_plugin_faults(registry):
    rule = make_rule("land", [A], registry=registry)
    assert isinstance(rule, PresenceRule) and rule.name == "local-and"
    assert make_rule("and", [A]).name == "presence"
    with pytest.raises(MotifprobeError) as info:
        make_rule("boom", [A], registry=registry)
    assert str(info.value) == "rule 'boom' (plugin local, (registered in code)) failed: ValueError: bad layout"
    with pytest.raises(MotifprobeError) as info:
        make_rule("strict", [A], registry=registry)
    assert str(info.value) == "strict says no"


@pytest.mark.parametrize("data, message", [
    ([1, 2], "the planted rule must be a JSON object, got list"),
    ({"pos_motifs": [A]}, "the planted rule has no name (key 'name')"),
    ({"name": 3, "pos_motifs": [A]}, "the planted rule has no name (key 'name')"),
    ({"name": "presence", "pos_motifs": A}, "rule 'presence': 'pos_motifs' must be a list of motif names, got 'A'"),
    ({"name": "presence", "pos_motifs": [A, 1]},
     "rule 'presence': 'pos_motifs' must be a list of motif names, got ['A', 1]"),
    ({"name": "presence", "pos_motifs": [A], "params": [1]},
     "rule 'presence': 'params' must be a JSON object, got [1]"),
    ({"name": "presence", "pos_motifs": [A], "params": {"min_dist": 3}},
     "rule 'presence': unknown parameter(s) min_dist; valid: (none)"),
])
def test_rule_from_dict_errors_are_exact(data, message):
    with pytest.raises(MotifprobeError) as info:
        rule_from_dict(data)
    assert str(info.value) == message


def test_rule_from_dict_reads_both_formats_and_checks_motifs(registry):
    # the first format: gen_type, distance bounds at the top level, ignored where the rule has no such parameter
    old = rule_from_dict({"gen_type": "presence", "pos_motifs": [A], "min_dist": 3, "max_dist": 9})
    assert isinstance(old, PresenceRule) and old.params == {}
    old = rule_from_dict({"gen_type": "distance", "pos_motifs": [A, B], "min_dist": 3})
    assert old.params == {"min_dist": 3, "max_dist": 10}
    old = rule_from_dict({"gen_type": "distance", "pos_motifs": [A, B], "max_dist": 30})
    assert old.params == {"min_dist": 0, "max_dist": 30}
    new = rule_from_dict({"name": "distance", "gen_type": "presence", "pos_motifs": [A, B], "params": {"max_dist": 4}})
    assert isinstance(new, DistanceRule) and new.params == {"min_dist": 0, "max_dist": 4}
    assert rule_from_dict({"name": "land", "pos_motifs": [A]}, registry).name == "local-and"
    with pytest.raises(MotifprobeError) as info:
        rule_from_dict({"name": "presence", "pos_motifs": [A, B, D], "params": {}}, motifs=[B, E])
    assert str(info.value) == "rule 'presence' names motif(s) A, D that the data does not have; motifs: B, E"
    with pytest.raises(MotifprobeError) as info:
        rule_from_dict({"name": "presence", "pos_motifs": [A], "params": {}}, motifs=[])
    assert str(info.value).endswith("that the data does not have; motifs: (none)")
    assert rule_from_dict({"name": "presence", "pos_motifs": [A], "params": {}}, motifs=[A, B]).pos_motifs == (A,)


def test_as_rule(registry):
    rule = PresenceRule([A])
    assert as_rule(None) is None and as_rule(rule) is rule
    built = as_rule({"name": "land", "pos_motifs": [A]}, registry)
    assert isinstance(built, PresenceRule) and built.name == "local-and"
    with pytest.raises(MotifprobeError, match="the planted rule must be a JSON object, got str"):
        as_rule("presence")


# ---------------------------------------------------------------- layouts

N = 20_000


def test_default_layout_forces_all_pos_motifs_into_a_share_of_the_rows():
    names = [A, B, D]
    present, forced = PresenceRule([A, B]).draw_presence(names, N, 0.3, np.random.default_rng(0))
    assert present.dtype == bool and present.shape == (N, 3) and forced.dtype == bool and forced.shape == (N,)
    assert abs(forced.mean() - 0.3) < 0.015
    assert present[forced][:, :2].all()
    assert abs(present[forced][:, 2].mean() - 0.5) < 0.03  # the decoy is not forced
    assert abs(present[~forced].mean() - 0.5) < 0.02
    present, forced = PresenceRule([A]).draw_presence(names, N, 0.9, np.random.default_rng(0))
    assert forced.dtype == bool and not forced.any()  # one pos motif: nothing forced
    assert abs(present.mean() - 0.5) < 0.01


def test_any_layout_positives_carry_a_pos_motif_and_negatives_none():
    names = [A, B, D]
    present, forced = AnyRule([A, B]).draw_presence(names, N, 0.4, np.random.default_rng(1))
    assert forced.dtype == bool and forced.shape == (N,) and not forced.any()
    positive = present[:, :2].any(axis=1)
    assert abs(positive.mean() - 0.4) < 0.015
    # a positive has each pos motif with probability 1/2, and one picked at random when it had none:
    # 1/2 + 1/4 * 1/2 = 0.625 for each
    for col in (0, 1):
        assert abs(present[positive, col].mean() - 0.625) < 0.02, col
    assert abs(present[:, 2].mean() - 0.5) < 0.015  # decoys anywhere


WINDOW = dict(min_dist=2, max_dist=5)


def draw(rule, k=N, seq_length=200, lengths=(6, 6, 6), seed=2):
    names = [A, B, D]
    forced = np.zeros(k + 10, bool)
    forced[5:5 + k] = True
    out = rule.draw_pairs(names, np.array(lengths), forced, seq_length, np.random.default_rng(seed))
    rows, first, second, gaps = out
    assert rows.tolist() == list(range(5, 5 + k))
    assert gaps.dtype == np.int64
    reverse = first == 1
    assert np.array_equal(second, np.where(reverse, 0, 1)) and set(first) <= {0, 1}
    return reverse, gaps


def test_distance_layout_half_inside_a_quarter_near_misses_a_quarter_reversed():
    rule = DistanceRule([A, B], **WINDOW)
    reverse, gaps = draw(rule)
    inside = (gaps >= 2) & (gaps <= 5)
    assert abs(reverse.mean() - 0.25) < 0.015
    assert inside[reverse].all()  # reversed pairs keep a gap inside the window
    assert abs((inside & ~reverse).mean() - 0.5) < 0.015
    assert set(gaps[inside & ~reverse]) == {2, 3, 4, 5}
    near = gaps[~inside]
    assert abs(near.size / N - 0.25) < 0.015
    # width max(5 - 2 + 1, 5) = 5: below [0, 1], above [6, 10], each range picked half the time
    assert set(near) == {0, 1, 6, 7, 8, 9, 10}
    assert abs((near < 2).mean() - 0.5) < 0.03


def test_distance_near_misses_of_a_wide_window_and_a_window_at_0():
    reverse, gaps = draw(DistanceRule([A, B], min_dist=10, max_dist=30), seq_length=300)
    near = gaps[(gaps < 10) | (gaps > 30)]
    assert set(near) == set(range(0, 10)) | set(range(31, 52))  # width 21 on both sides
    _, gaps = draw(DistanceRule([A, B], min_dist=0, max_dist=3))
    assert set(gaps[gaps > 3]) == {4, 5, 6, 7, 8}  # no room below 0: every near miss above
    _, gaps = draw(DistanceRule([A, B], min_dist=1, max_dist=3))
    assert 0 in set(gaps)


def test_distance_near_misses_stay_within_the_room_left():
    # 40 bp, motifs 6 + 6 + 20 = 32: 8 bp to spare, so gaps above the window stop at 8
    _, gaps = draw(DistanceRule([A, B], **WINDOW), seq_length=40, lengths=(6, 6, 20))
    assert set(gaps[gaps > 5]) == {6, 7, 8}
    # exactly the window's top to spare: near misses only below it
    _, gaps = draw(DistanceRule([A, B], **WINDOW), seq_length=37, lengths=(6, 6, 20))
    assert set(gaps[(gaps < 2) | (gaps > 5)]) == {0, 1}


def test_distance_without_room_for_near_misses_reverses_half():
    rule = DistanceRule([A, B], min_dist=0, max_dist=4)
    assert rule._near_miss_gaps(10, 4, np.random.default_rng(0)) is None
    reverse, gaps = draw(rule, seq_length=22, lengths=(6, 6, 6))  # 4 bp to spare = max_dist
    assert abs(reverse.mean() - 0.5) < 0.015
    assert gaps.min() >= 0 and gaps.max() <= 4 and set(gaps) == {0, 1, 2, 3, 4}


def test_distance_layout_of_no_forced_row_is_none():
    rule = DistanceRule([A, B], **WINDOW)
    assert rule.draw_pairs([A, B], np.array([6, 6]), np.zeros(5, bool), 100, np.random.default_rng(0)) is None


def test_plan_places_every_present_motif_once_and_glues_the_pairs():
    from motifprobe.engine.generation import GenerationSpec

    n = 4000
    spec = GenerationSpec(num_seqs=n, seq_length=80, motifs=[A, B, D], pos_motifs=[A, B], pos_share=1.0)
    rule = DistanceRule([A, B], **WINDOW)
    table = rule.plan(spec, {A: 6, B: 8, D: 5}, n, np.random.default_rng(3))
    assert table["start"].dtype == np.int64 and (table["end"] - table["start"]).isin([5, 6, 8]).all()
    assert not table.duplicated(["seq", "name"]).any() and (table["end"] <= 80).all()
    # every row carries both pos motifs; half of them glued inside the window in order (the positives)
    assert (table["name"] == A).sum() == n and (table["name"] == B).sum() == n
    assert abs(rule.labels(table, n).mean() - 0.5) < 0.03
