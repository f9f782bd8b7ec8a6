"""Rules as plugins: labels from planted sites, layouts, signed expectations, the scorecard asking them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import MOTIFS, make
from motifprobe import api
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.features import FEATURES
from motifprobe.engine.motif_library import load_encode_motifs
from motifprobe.engine.rules import make_rule, rule_from_dict
from motifprobe.engine.scorecard import score
from motifprobe.engine.sequences import reverse_complement
from motifprobe.engine.testing import check_rule
from motifprobe.plugins.rules.any import AnyRule
from motifprobe.plugins.rules.distance import DistanceRule
from motifprobe.plugins.rules.order import OrderRule
from motifprobe.plugins.rules.presence import PresenceRule
from toy_models import LogicModel

A, B, D = MOTIFS


def present_in(ds, name):
    return np.isin(np.arange(len(ds)), ds.sites.loc[ds.sites["name"] == name, "seq"].to_numpy())


@pytest.mark.parametrize("generator", ["fast", "simdna"])
def test_any_rule_labels_every_row_by_or(generator):
    ds = make("any", num_seqs=400 if generator == "simdna" else 3000, generator=generator)
    expected = present_in(ds, A) | present_in(ds, B)
    assert np.array_equal(ds.labels, expected.astype(np.int64))
    assert 0.4 < ds.labels.mean() < 0.6
    both = present_in(ds, A) & present_in(ds, B)
    assert both.mean() > 0.1, "an OR layout needs rows with both pos motifs (the redundancy)"
    assert ds.rule == {"name": "any", "pos_motifs": [A, B], "params": {}}


def test_any_rule_negatives_carry_decoys_but_no_pos_motif():
    ds = make("any", num_seqs=2000)
    neg = ds.labels == 0
    assert not (present_in(ds, A) | present_in(ds, B))[neg].any()
    assert 0.3 < present_in(ds, D)[neg].mean() < 0.7


@pytest.mark.parametrize("rule, feature, motifs, status, sign", [
    (AnyRule([A, B]), "presence", (A,), "effect", 1),
    (AnyRule([A, B]), "interaction", (A, B), "effect", 1),
    (AnyRule([A, B]), "interaction", (A, D), "none", 0),
    (AnyRule([A, B]), "order", (A, B), "none", 0),
    (PresenceRule([A, B]), "interaction", (B, A), "effect", -1),
    (PresenceRule([A]), "presence", (D,), "none", 0),
    (OrderRule([A, B]), "order", (B, A), "effect", 1),
    (OrderRule([A, B]), "spacing", (A, B), "none", 0),
    (OrderRule([A, B]), "order", (A, D), "confounded", 0),
    (OrderRule([A, B]), "interaction", (A, B), "effect", -1),
    (DistanceRule([A, B], min_dist=2, max_dist=9), "spacing", (A, B), "effect", 1),
    (DistanceRule([A, B]), "orientation", (A,), "none", 0),
])
def test_rules_state_signed_expectations(rule, feature, motifs, status, sign):
    got = rule.expects(feature, motifs)
    assert (got.status, got.sign) == (status, sign) and got.reason


def table(*calls, model="m", mode="loss"):
    return pd.DataFrame([{"model": model, "test": t, "motifs": m, "verdict": v, "direction": d, "mode": mode}
                         for t, m, v, d in calls])


def test_a_hit_needs_the_expected_sign():
    calls = [("presence", A, "effect", "+"), ("presence", B, "effect", "+"), ("interaction", f"{A}+{B}", "effect", "+")]
    card, summary = score(table(*calls), {"name": "presence", "pos_motifs": [A, B], "params": {}})
    status = dict(zip(card["test"], card["status"]))
    assert status["interaction"] == "wrong sign" and summary.iloc[0]["learned_rule"] == "partly"
    assert "wrong sign" in summary.iloc[0]["statement"] and summary.iloc[0]["wrong_sign"] == 1
    calls[2] = ("interaction", f"{A}+{B}", "effect", "-")
    card, summary = score(table(*calls), {"name": "presence", "pos_motifs": [A, B], "params": {}})
    assert set(card["status"]) == {"hit"} and summary.iloc[0]["learned_rule"] == "yes"


def test_a_presence_effect_of_the_wrong_sign_is_no_hit():
    card, _ = score(table(("presence", A, "effect", "-")), {"name": "presence", "pos_motifs": [A], "params": {}})
    assert card.iloc[0]["status"] == "wrong sign" and card.iloc[0]["expected_sign"] == "+"


def test_prediction_mode_does_not_check_signs():
    card, _ = score(table(("presence", A, "effect", "-"), mode="prediction"),
                    {"name": "presence", "pos_motifs": [A], "params": {}})
    assert card.iloc[0]["status"] == "hit"


def test_the_first_metadata_format_still_scores():
    old = {"gen_type": "distance", "pos_motifs": [A, B], "min_dist": 3, "max_dist": 12}
    rule = rule_from_dict(old)
    assert isinstance(rule, DistanceRule) and rule.params == {"min_dist": 3, "max_dist": 12}
    card, _ = score(table(("distance", f"{A}+{B}", "effect", "+")), old)
    assert card.iloc[0]["feature"] == "spacing" and card.iloc[0]["status"] == "hit"


def test_or_data_scored_end_to_end_an_and_model_did_not_learn_or():
    ds = make("any", num_seqs=1500)
    results = {}
    for op in ("or", "and"):
        res = api.interpret(LogicModel([A, B], op=op), ds, [A, B, D], tests=["presence", "interaction", "control"],
                            num_perturbs=3, seed=1, model_name=op)
        results[op] = res.table
    card, summary = score(pd.concat(results.values(), ignore_index=True), ds.rule)
    card = card.set_index(["model", "test", "motifs"])
    learned = dict(zip(summary["model"], summary["learned_rule"]))
    assert card.loc[("or", "interaction", f"{A}+{B}"), "status"] == "hit"
    assert card.loc[("or", "presence", A), "status"] == "hit" and card.loc[("or", "presence", B), "status"] == "hit"
    assert card.loc[("or", "presence", D), "status"] == "correct none"
    assert learned["or"] == "yes"
    assert card.loc[("and", "interaction", f"{A}+{B}"), "status"] in ("wrong sign", "miss")
    assert learned["and"] != "yes"


def test_minus_strand_sites_carry_the_reverse_complement_of_a_pwm_sample():
    ds = make("presence", num_seqs=800, rc_prob=0.5)
    strands = ds.sites["strand"].value_counts()
    assert 0.35 < strands["-"] / len(ds.sites) < 0.65
    motifs = load_encode_motifs()
    for strand, flip in (("-", True), ("+", False)):
        for name in MOTIFS:
            rows = ds.sites[(ds.sites["name"] == name) & (ds.sites["strand"] == strand)]
            cols = rows["start"].to_numpy()[:, None] + np.arange(motifs[name].length)[None, :]
            bases = ds.codes[rows["seq"].to_numpy()[:, None], cols]
            read = reverse_complement(bases) if flip else bases
            log_odds = np.log(motifs[name].pwm / 0.25)
            forward = log_odds[np.arange(len(log_odds)), read].sum(axis=1)
            backward = log_odds[np.arange(len(log_odds)), reverse_complement(read)].sum(axis=1)
            assert forward.mean() > 0.5 * log_odds.max(axis=1).sum(), (name, strand)
            assert (forward > backward).mean() > 0.9, (name, strand)


def test_rc_prob_zero_plants_every_site_on_the_plus_strand_and_changes_nothing():
    plus = make("order", num_seqs=300, rc_prob=0.0)
    default = make("order", num_seqs=300)
    assert set(plus.sites["strand"]) == {"+"} and np.array_equal(plus.codes, default.codes)


def test_presence_is_still_found_on_minus_strand_sites():
    ds = make("presence", num_seqs=600, rc_prob=1.0)
    model = LogicModel([A], op="and", both_strands=True)
    res = api.interpret(model, ds, [A], tests=["presence"], num_perturbs=2, seed=0).table
    assert res.iloc[0]["verdict"] == "effect" and res.iloc[0]["direction"] == "+"


@pytest.mark.parametrize("factory, params", [(PresenceRule, {}), (AnyRule, {}), (OrderRule, {}),
                                             (DistanceRule, {"min_dist": 4, "max_dist": 20})])
def test_builtin_rules_pass_the_conformance_check(factory, params):
    seen = check_rule(factory, params=params, num_seqs=1500)
    assert 0.25 < seen["positive_share"] < 0.6


def test_check_rule_fails_a_rule_whose_layout_gives_one_class():
    class Always(PresenceRule):
        def labels(self, sites, num_seqs):
            return np.ones(num_seqs, dtype=np.int64)

    with pytest.raises(AssertionError, match="both classes"):
        check_rule(Always, num_seqs=300)


def test_check_rule_fails_a_rule_expecting_effects_of_decoys():
    class Greedy(PresenceRule):
        def expects(self, feature, motifs):
            from motifprobe import effect
            return effect(+1, "everything matters")

    with pytest.raises(AssertionError, match="decoy"):
        check_rule(Greedy, num_seqs=300)


@pytest.mark.parametrize("name, pos, params, fragment", [
    ("distance", [A, B], {"min_dist": 9, "max_dist": 3}, "must not exceed"),
    ("distance", [A, B], {"min_dist": -2}, "min_dist=-2 is not allowed"),
    ("distance", [A, B], {"gap": 3}, "unknown parameter(s) gap; valid: max_dist, min_dist"),
    ("order", [A], {}, "needs exactly 2 pos motif"),
    ("any", [], {}, "needs at least 1 pos motif"),
    ("presence", [A, A], {}, "must differ"),
    ("grammar", [A], {}, "unknown rule plugin 'grammar'"),
])
def test_bad_rules_are_one_line_errors(name, pos, params, fragment):
    with pytest.raises(MotifprobeError) as info:
        make_rule(name, pos, params)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_rule_metadata_naming_a_motif_the_data_lacks_is_refused():
    with pytest.raises(MotifprobeError, match="does not have"):
        rule_from_dict({"name": "presence", "pos_motifs": ["NOPE"], "params": {}}, motifs=[A, B])


def test_the_feature_vocabulary_covers_every_builtin_test():
    from motifprobe.engine.registry import get_registry

    registry = get_registry()
    for name in ("presence", "order", "distance", "interaction"):
        assert registry.get("perturbation_test", name).factory.feature in FEATURES
