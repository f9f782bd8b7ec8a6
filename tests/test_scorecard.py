"""The scorecard, exactly: every status, reason, count and statement (fast; no model runs).

The end-to-end scorecard tests (a model trained or interpreted, then scored) live in
test_rules.py and test_compare.py; these pin each branch of engine/scorecard.py so that
`make mutate` finds no change of it that the tests let pass.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from motifprobe import PerturbationTest, Rule, hookimpl
from motifprobe.engine.features import Expectation, confounded, effect, no_effect
from motifprobe.engine.registry import Registry
from motifprobe.engine.scorecard import CARD_COLUMNS, _row_status, feature_of_test, score
from motifprobe.plugins.rules.order import OrderRule
from motifprobe.plugins.rules.presence import PresenceRule

A, B, D = "STAT_known2", "CTCF_known1", "GATA_known1"
PRESENCE_AB = {"name": "presence", "pos_motifs": [A, B], "params": {}}


class FixedRule(Rule):
    """Answers every question with one expectation (or raises, or returns junk)."""

    answer: object = None

    def expects(self, feature, motifs):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def fixed(answer, pos=(A,)) -> FixedRule:
    rule = type("Fixed", (FixedRule,), {"answer": answer})(list(pos))
    rule.name = "fixed"
    return rule


def status(rule, feature="presence", motifs=(A,), verdict="effect", direction="+", mode="loss"):
    return _row_status(rule, feature, motifs, verdict, direction, mode)


# ---------------------------------------------------------------- one row

def test_untestable_comes_first_whatever_else_is_missing():
    assert status(None, None, verdict="untestable") == (None, "untestable", "too few sequences to test")


def test_no_feature_then_no_rule_are_unscored():
    assert status(fixed(effect(1)), None) == (None, "unscored", "the test declares no feature")
    assert status(None, "presence") == (None, "unscored", "the dataset carries no planted rule")


@pytest.mark.parametrize("verdict, want", [("effect", "decoy false call"), ("none", "correct none")])
def test_the_control_is_never_asked_to_the_rule(verdict, want):
    rule = fixed(RuntimeError("must not be asked"))
    assert status(rule, "control", verdict=verdict) == (None, want, "the control perturbs no motif")


def test_a_failing_or_wrong_rule_costs_one_row():
    assert status(fixed(ValueError("boom"))) == (None, "unscored", "rule 'fixed' failed: ValueError: boom")
    assert status(fixed({"status": "effect"})) == (
        None, "unscored", "rule 'fixed' failed: TypeError: expects() returned dict, not an Expectation")


def test_confounded_whatever_the_verdict():
    exp = confounded("moves the label")
    for verdict in ("effect", "none"):
        assert status(fixed(exp), verdict=verdict) == (exp, "confounded", "moves the label")


@pytest.mark.parametrize("sign, direction, mode, want", [
    (1, "+", "loss", "hit"),
    (-1, "-", "loss", "hit"),
    (0, "-", "loss", "hit"),  # either direction expected
    (1, "", "loss", "hit"),  # no direction recorded: not checked
    (-1, "", "loss", "hit"),
    (1, "-", "prediction", "hit"),  # signs are not checked in prediction mode
    (1, "-", "loss", "wrong sign"),
    (-1, "+", "loss", "wrong sign"),
])
def test_an_expected_effect_found(sign, direction, mode, want):
    exp = effect(sign, "why")
    got = status(fixed(exp), direction=direction, mode=mode)
    reason = "why" if want == "hit" else f"expected {exp.symbol}, found {direction}: why"
    assert got == (exp, want, reason)


def test_an_expected_effect_not_found_is_a_miss():
    exp = effect(1, "why")
    assert status(fixed(exp), verdict="none", direction="") == (exp, "miss", "why")


def test_an_unexpected_effect_is_extra_on_a_pos_motif_and_a_decoy_call_otherwise():
    exp = no_effect("not in the rule")
    rule = fixed(exp, pos=(A, B))
    assert status(rule, motifs=(A,)) == (exp, "extra", "not in the rule")
    assert status(rule, motifs=(D, A)) == (exp, "extra", "not in the rule")  # any pos motif makes it extra
    assert status(rule, motifs=(D,)) == (exp, "decoy false call", "not in the rule")
    assert status(rule, motifs=(D, "X")) == (exp, "decoy false call", "not in the rule")
    assert status(rule, motifs=(D,), verdict="none") == (exp, "correct none", "not in the rule")


# ---------------------------------------------------------------- feature lookup

class NoFeature(PerturbationTest):
    feature = ""

    def perturb(self, batch, rng):  # pragma: no cover - never run here
        raise NotImplementedError


class NoFeaturePlugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("featureless", NoFeature)


def test_feature_of_test():
    registry = Registry(extra_plugins={"nf": NoFeaturePlugin}, entry_points=False)
    assert feature_of_test("presence", registry) == "presence"
    assert feature_of_test("distance", registry) == "spacing"
    assert feature_of_test("control", registry) == "control"
    assert feature_of_test("featureless", registry) is None
    assert feature_of_test("not-installed", registry) is None
    assert feature_of_test("order") == "order"


# ---------------------------------------------------------------- the table

def table(*calls, model="m", **extra):
    return pd.DataFrame([{"model": model, "test": t, "motifs": m, "verdict": v, "direction": d, **extra}
                         for t, m, v, d in calls])


def test_card_rows_and_columns():
    calls = [("presence", A, "effect", "+"), ("interaction", f"{A}+{B}", "effect", "+"),
             ("presence", D, "none", ""), ("control", A, "effect", "+"), ("presence", B, "untestable", "")]
    card, _ = score(table(*calls), PRESENCE_AB)
    assert list(card.columns) == CARD_COLUMNS
    assert card.to_dict("records") == [
        {"model": "m", "test": "presence", "feature": "presence", "motifs": A, "expected": True,
         "expected_sign": "+", "found": True, "direction": "+", "status": "hit",
         "reason": "removing a pos motif turns a positive negative"},
        {"model": "m", "test": "interaction", "feature": "interaction", "motifs": f"{A}+{B}", "expected": True,
         "expected_sign": "-", "found": True, "direction": "+", "status": "wrong sign",
         "reason": "expected -, found +: AND: removing one pos motif already removes the signal, so both together "
                   "hurt less than the sum"},
        {"model": "m", "test": "presence", "feature": "presence", "motifs": D, "expected": False,
         "expected_sign": "", "found": False, "direction": "", "status": "correct none",
         "reason": "the label depends only on which pos motifs are present"},
        {"model": "m", "test": "control", "feature": "control", "motifs": A, "expected": False,
         "expected_sign": "", "found": True, "direction": "+", "status": "decoy false call",
         "reason": "the control perturbs no motif"},
        {"model": "m", "test": "presence", "feature": "presence", "motifs": B, "expected": False,
         "expected_sign": "", "found": False, "direction": "", "status": "untestable",
         "reason": "too few sequences to test"},
    ]


def test_empty_results_give_empty_frames_with_the_columns():
    card, summary = score(pd.DataFrame(columns=["model", "test", "motifs", "verdict", "direction"]), PRESENCE_AB)
    assert list(card.columns) == CARD_COLUMNS and len(card) == 0 and len(summary) == 0


def test_a_feature_column_wins_over_the_registry_and_blanks_fall_back():
    calls = [("my-test", A, "effect", "+"), ("presence", B, "effect", "+")]
    frame = table(*calls)
    frame["feature"] = ["presence", float("nan")]
    card, _ = score(frame, PRESENCE_AB)
    assert list(card["feature"]) == ["presence", "presence"] and list(card["status"]) == ["hit", "hit"]
    frame["feature"] = ["", ""]
    card, _ = score(frame, PRESENCE_AB)
    assert list(card["feature"]) == ["", "presence"]
    assert list(card["status"]) == ["unscored", "hit"]
    assert card.iloc[0]["reason"] == "the test declares no feature"


def test_the_registry_is_asked_once_per_test(monkeypatch):
    import motifprobe.engine.scorecard as sc

    asked = []
    real = sc.feature_of_test
    monkeypatch.setattr(sc, "feature_of_test", lambda test, registry=None: asked.append(test) or real(test, registry))
    score(table(("presence", A, "effect", "+"), ("presence", B, "none", ""), ("order", f"{A}+{B}", "none", "")),
          PRESENCE_AB)
    assert asked == ["presence", "order"]


def test_the_given_registry_is_used_for_features_and_the_rule():
    registry = Registry(extra_plugins={"nf": NoFeaturePlugin}, entry_points=False)
    card, _ = score(table(("featureless", A, "effect", "+")), PRESENCE_AB, registry=registry)
    assert card.iloc[0]["status"] == "unscored" and card.iloc[0]["feature"] == ""


def test_missing_or_odd_direction_and_mode_read_as_none_and_loss():
    frame = table(("presence", A, "effect", float("nan")))
    card, _ = score(frame, PRESENCE_AB)
    assert card.iloc[0]["direction"] == "" and card.iloc[0]["status"] == "hit"
    frame = table(("presence", A, "effect", "-"), mode=float("nan"))
    assert score(frame, PRESENCE_AB)[0].iloc[0]["status"] == "wrong sign"  # NaN mode is loss mode
    frame = table(("presence", A, "effect", "-"))  # no mode column: loss mode
    assert score(frame, PRESENCE_AB)[0].iloc[0]["status"] == "wrong sign"
    frame = table(("presence", A, "effect", "-"), mode="prediction")
    assert score(frame, PRESENCE_AB)[0].iloc[0]["status"] == "hit"


def test_a_rule_that_cannot_be_built_leaves_every_row_unscored_with_the_reason():
    card, summary = score(table(("presence", A, "effect", "+"), ("presence", B, "untestable", "")),
                          {"name": "no-such-rule", "pos_motifs": [A], "params": {}})
    first, second = card.to_dict("records")
    assert first["status"] == "unscored"
    assert first["reason"].startswith("the planted rule cannot be used: unknown rule plugin 'no-such-rule'")
    assert second["status"] == "untestable" and second["reason"] == "too few sequences to test"
    assert summary.iloc[0]["learned_rule"] == "unknown rule"


def test_a_rule_object_and_its_dict_score_alike():
    calls = [("presence", A, "effect", "+"), ("order", f"{A}+{B}", "none", ""), ("order", f"{A}+{D}", "effect", "+")]
    by_dict = score(table(*calls), {"name": "order", "pos_motifs": [A, B], "params": {}})
    by_object = score(table(*calls), OrderRule([A, B]))
    pd.testing.assert_frame_equal(by_dict[0], by_object[0])
    assert list(by_dict[0]["status"]) == ["hit", "miss", "confounded"]


# ---------------------------------------------------------------- the summary

SUMMARY_COLUMNS = ["model", "accuracy", "auroc", "beats_baseline", "hits", "misses", "wrong_sign", "extras",
                   "decoy_false_calls", "shortcuts", "negatives_tested", "learned_rule", "missing", "wrong", "extra", "statement"]


def test_summary_counts_lists_and_statement_of_a_partial_model():
    calls = [("presence", A, "effect", "+"),           # hit
             ("presence", B, "none", ""),              # miss
             ("interaction", f"{A}+{B}", "effect", "+"),  # wrong sign
             ("order", f"{A}+{B}", "effect", "+"),     # extra (presence rule: order is not part of it)
             ("order", f"{A}+{D}", "none", ""),        # correct none
             ("presence", D, "effect", "+"),           # decoy false call
             ("control", A, "effect", "-"),            # decoy false call
             ("presence", "X", "untestable", "")]
    card, summary = score(table(*calls), PRESENCE_AB, {"m": {"accuracy": 0.91234, "auroc": 0.95,
                                                             "beats_baseline": True}})
    assert list(card["status"]) == ["hit", "miss", "wrong sign", "extra", "correct none", "decoy false call",
                                    "decoy false call", "untestable"]
    assert list(summary.columns) == SUMMARY_COLUMNS
    s = summary.iloc[0].to_dict()
    assert s == {
        "model": "m", "accuracy": 0.91234, "auroc": 0.95, "beats_baseline": True, "hits": 1, "misses": 1,
        "wrong_sign": 1, "extras": 1, "decoy_false_calls": 2, "shortcuts": 0, "negatives_tested": 4, "learned_rule": "partly",
        "missing": f"presence {B}", "wrong": f"interaction {A}+{B}", "extra": f"order {A}+{B}",
        "statement": (f"m learned the rule only partly (test accuracy 0.912): 1 of 3 expected effects found; "
                      f"missing presence {B}; of the wrong sign interaction {A}+{B}. Also sensitive to (not in the "
                      f"rule): order {A}+{B}. False calls on decoys/control: 2."),
    }


def test_summary_of_a_model_that_learned_the_rule():
    calls = [("presence", A, "effect", "+"), ("presence", B, "effect", "+"), ("interaction", f"{A}+{B}", "effect", "-"),
             ("presence", D, "none", "")]
    _, summary = score(table(*calls), PRESENCE_AB, {"m": {"accuracy": 0.9, "beats_baseline": True}})
    s = summary.iloc[0]
    assert (s["learned_rule"], s["hits"], s["misses"], s["negatives_tested"]) == ("yes", 3, 0, 1)
    assert s["statement"] == ("m learned the rule (test accuracy 0.900): all 3 expected effects found. "
                              "False calls on decoys/control: 0.")
    assert math.isnan(s["auroc"])
    assert (s["missing"], s["wrong"], s["extra"]) == ("", "", "")
    assert (s["extras"], s["decoy_false_calls"], s["wrong_sign"]) == (0, 0, 0)


def test_summary_without_metrics_or_negatives():
    _, summary = score(table(("presence", A, "effect", "+")), {"name": "presence", "pos_motifs": [A], "params": {}})
    s = summary.iloc[0]
    assert s["beats_baseline"] is None and math.isnan(s["accuracy"]) and math.isnan(s["auroc"])
    assert s["learned_rule"] == "yes"
    assert s["statement"] == "m learned the rule: all 1 expected effects found."


def test_summary_of_a_model_that_found_nothing_or_only_wrong_signs():
    _, summary = score(table(("presence", A, "none", ""), ("presence", B, "none", "")), PRESENCE_AB)
    s = summary.iloc[0]
    assert (s["learned_rule"], s["hits"], s["misses"]) == ("no", 0, 2)
    assert s["statement"] == "m did not learn the rule: none of the 2 expected effects found."
    _, summary = score(table(("interaction", f"{A}+{B}", "effect", "+"), ("presence", A, "none", "")), PRESENCE_AB)
    assert summary.iloc[0]["learned_rule"] == "no"
    assert summary.iloc[0]["statement"] == (f"m did not learn the rule: none of the 2 expected effects found with "
                                            f"the expected sign (wrong sign: interaction {A}+{B}).")


def test_below_baseline_wins_over_hits():
    _, summary = score(table(("presence", A, "effect", "+")), {"name": "presence", "pos_motifs": [A], "params": {}},
                       {"m": {"accuracy": 0.5, "beats_baseline": False}})
    s = summary.iloc[0]
    assert s["learned_rule"] == "no" and s["beats_baseline"] == False and s["hits"] == 0  # noqa: E712 - issue 14: no hits below the baseline
    assert s["statement"] == ("m did NOT learn the rule: it does not beat the majority baseline "
                              "(test accuracy 0.500).")


def test_hits_with_all_other_expectations_unscored_is_still_yes_and_no_hits_no_misses_is_no():
    # only confounded and untestable rows besides: nothing expected was missed
    calls = [("presence", A, "effect", "+"), ("order", f"{A}+{D}", "effect", "+")]
    _, summary = score(table(*calls), {"name": "order", "pos_motifs": [A, B], "params": {}})
    assert summary.iloc[0]["learned_rule"] == "yes"
    _, summary = score(table(("order", f"{A}+{D}", "effect", "+")), {"name": "order", "pos_motifs": [A, B],
                                                                      "params": {}})
    assert summary.iloc[0]["learned_rule"] == "no"


def test_without_a_rule_nothing_is_scored():
    card, summary = score(table(("presence", A, "effect", "+")), None, {"m": {"accuracy": 0.8}})
    assert list(card["status"]) == ["unscored"] and card.iloc[0]["reason"] == "the dataset carries no planted rule"
    assert summary.iloc[0]["learned_rule"] == "unknown rule"
    assert summary.iloc[0]["statement"] == ("m (test accuracy 0.800): the dataset carries no planted rule, so "
                                            "nothing can be scored.")


def test_models_are_summarized_in_order_of_appearance():
    frame = pd.concat([table(("presence", A, "none", ""), model="zeta"),
                       table(("presence", A, "effect", "+"), model="alpha"),
                       table(("presence", B, "effect", "+"), model="zeta")], ignore_index=True)
    card, summary = score(frame, PRESENCE_AB, {"alpha": {"accuracy": 0.7}, "zeta": {"accuracy": 0.6}})
    assert list(summary["model"]) == ["zeta", "alpha"]
    assert list(summary["accuracy"]) == [0.6, 0.7]
    assert list(summary["hits"]) == [1, 1] and list(summary["misses"]) == [1, 0]
    assert summary.iloc[0]["missing"] == f"presence {A}"


def test_lists_join_several_rows():
    calls = [("presence", A, "none", ""), ("presence", B, "none", ""), ("interaction", f"{A}+{B}", "effect", "-")]
    _, summary = score(table(*calls), PRESENCE_AB)
    assert summary.iloc[0]["missing"] == f"presence {A}, presence {B}"
    assert summary.iloc[0]["statement"] == (f"m learned the rule only partly: 1 of 3 expected effects found; "
                                            f"missing presence {A}, presence {B}.")


def test_expectation_symbols():
    assert [effect(s).symbol for s in (1, -1, 0)] == ["+", "-", "±"]
    assert no_effect().symbol == "" and confounded().symbol == ""
    with pytest.raises(ValueError, match="status must be effect, none or confounded, got 'maybe'"):
        Expectation("maybe")
    with pytest.raises(ValueError, match=r"sign must be -1, 0 or \+1, got 2"):
        Expectation("effect", 2)
    assert Expectation("none") == Expectation("none", 0, "")
    assert (effect(-1, "r").status, effect(-1, "r").sign, effect(-1, "r").reason) == ("effect", -1, "r")
    assert (no_effect("r").status, no_effect("r").reason) == ("none", "r")
    assert (confounded("r").status, confounded("r").reason) == ("confounded", "r")


def test_presence_rule_object_is_accepted_as_is():
    rule = PresenceRule([A])
    card, _ = score(table(("presence", A, "effect", "+")), rule)
    assert card.iloc[0]["status"] == "hit"


def test_partly_with_wrong_signs_only_names_no_missing():
    calls = [("presence", A, "effect", "+"), ("presence", B, "effect", "+"), ("interaction", f"{A}+{B}", "effect", "+")]
    _, summary = score(table(*calls), PRESENCE_AB)
    assert summary.iloc[0]["statement"] == (f"m learned the rule only partly: 2 of 3 expected effects found; "
                                            f"of the wrong sign interaction {A}+{B}.")


def test_no_direction_column_reads_as_no_direction():
    frame = table(("presence", A, "effect", "-")).drop(columns="direction")
    card, _ = score(frame, PRESENCE_AB)
    assert card.iloc[0]["direction"] == "" and card.iloc[0]["status"] == "hit"


class Featureless:
    """A duck-typed test factory with no ``feature`` attribute at all."""

    n_motifs = 1

    def perturb(self, batch, rng):  # pragma: no cover - never run here
        raise NotImplementedError


class MyPresence(NoFeature):
    feature = "presence"


class AlwaysOn(Rule):
    def labels(self, sites, num_seqs):  # pragma: no cover - never run here
        raise NotImplementedError

    def expects(self, feature, motifs):
        return effect(-1, "always on")


class LocalPlugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("duck", Featureless)
        register("my-presence", MyPresence)

    @staticmethod
    @hookimpl
    def register_rules(register):
        register("always-on", AlwaysOn)


def test_features_and_rules_come_from_the_given_registry():
    registry = Registry(extra_plugins={"local": LocalPlugin}, entry_points=False)
    assert feature_of_test("duck", registry) is None
    assert feature_of_test("my-presence", registry) == "presence"
    card, _ = score(table(("my-presence", A, "effect", "-")), {"name": "always-on", "pos_motifs": [A], "params": {}},
                    registry=registry)
    assert (card.iloc[0]["feature"], card.iloc[0]["status"], card.iloc[0]["reason"]) == ("presence", "hit",
                                                                                         "always on")


def test_error_rows_and_models_that_only_errored():
    calls = [("presence", A, "error", ""), ("presence", B, "effect", "+")]
    card, summary = score(table(*calls), PRESENCE_AB)
    assert card.iloc[0][["status", "reason", "expected", "expected_sign"]].tolist() == [
        "error", "the run failed (see the results row's note)", False, ""]
    assert (summary.iloc[0]["hits"], summary.iloc[0]["misses"]) == (1, 0)  # an error row is not a miss
    _, summary = score(table(("presence", A, "error", ""), ("presence", B, "error", "")), PRESENCE_AB,
                       {"m": {"accuracy": 0.9}})
    assert summary.iloc[0]["learned_rule"] == "error"
    assert summary.iloc[0]["statement"] == "m failed: nothing could be scored (see the 'error' rows)."
    assert status(None, None, verdict="error") == (None, "error", "the run failed (see the results row's note)")


# ---------------------------------------------------------------- models that did not learn, labels off the rule

def _rows(model="m"):
    return pd.DataFrame([
        {"model": model, "test": "presence", "feature": "presence", "motifs": A, "verdict": "effect", "direction": "+"},
        {"model": model, "test": "presence", "feature": "presence", "motifs": D, "verdict": "effect", "direction": "+"},
        {"model": model, "test": "presence", "feature": "presence", "motifs": B, "verdict": "untestable",
         "direction": ""},
    ])


def test_a_model_below_its_baseline_collects_no_hits():
    rows = pd.concat([_rows("good"), _rows("weak")], ignore_index=True)
    card, summary = score(rows, PRESENCE_AB, {"good": {"beats_baseline": True}, "weak": {"beats_baseline": False}})
    weak = card[card["model"] == "weak"]
    assert list(weak["status"]) == ["model did not learn", "model did not learn", "untestable"]
    assert "majority baseline" in weak["reason"].iloc[0]
    assert list(card[card["model"] == "good"]["status"]) == ["hit", "decoy false call", "untestable"]
    s = summary.set_index("model")
    assert s.loc["weak", "hits"] == 0 and s.loc["weak", "decoy_false_calls"] == 0 and s.loc["weak", "learned_rule"] == "no"
    assert s.loc["good", "hits"] == 1


def test_labels_that_do_not_follow_the_rule_are_not_scored_against_it():
    from motifprobe.engine.dataset import Dataset

    import numpy as np

    sites = pd.DataFrame({"seq": [0, 0, 1, 2], "name": [A, B, A, B], "start": [0, 10, 0, 0], "end": [5, 15, 5, 5],
                          "strand": ["+"] * 4})
    codes = np.zeros((4, 30), np.uint8)
    follows = Dataset(np.array(["a", "b", "c", "d"], object), codes, np.array([1, 0, 0, 0]), sites,
                      {"rule": PRESENCE_AB})
    card, _ = score(_rows(), PRESENCE_AB, dataset=follows)
    assert card["status"].iloc[0] == "hit"
    shuffled = Dataset(follows.ids, codes, np.array([0, 1, 0, 0]), sites, {"rule": PRESENCE_AB})
    card, summary = score(_rows(), PRESENCE_AB, dataset=shuffled)
    assert list(card["status"]) == ["unscored", "unscored", "untestable"]
    assert "2 of 4 labels do not follow the planted rule 'presence'" in card["reason"].iloc[0]
    unlabeled = Dataset(follows.ids, codes, np.array([-1, -1, -1, -1]), sites, {"rule": PRESENCE_AB})
    assert score(_rows(), PRESENCE_AB, dataset=unlabeled)[0]["status"].iloc[0] == "hit"


@pytest.mark.parametrize("verdict", ["composition", "position"])
def test_a_call_explained_by_a_check_is_a_shortcut_on_decoys_and_a_miss_on_pos_motifs(verdict):
    rows = pd.DataFrame([
        {"model": "m", "test": "presence", "feature": "presence", "motifs": D, "verdict": verdict, "direction": "+"},
        {"model": "m", "test": "presence", "feature": "presence", "motifs": A, "verdict": verdict, "direction": "+"},
        {"model": "m", "test": "control", "feature": "control", "motifs": A, "verdict": verdict, "direction": "+"},
    ])
    card, summary = score(rows, PRESENCE_AB)
    assert list(card["status"]) == ["shortcut", "miss", "shortcut"]
    assert verdict in card["reason"].iloc[0] and "not a false call" in card["reason"].iloc[0]
    assert f"explained by {verdict}" in card["reason"].iloc[1]
    s = summary.iloc[0]
    assert s["decoy_false_calls"] == 0 and s["shortcuts"] == 2 and s["misses"] == 1
    assert "Shortcuts (composition or position, not the motif): presence " + D in s["statement"]


def test_a_feature_the_data_never_varied_is_confounded_not_extra():
    """Strand and copy number the training data never showed: a call there is no false call."""
    from motifprobe import api
    from motifprobe.engine.scorecard import unvaried

    plus = api.generate("fast", num_seqs=200, seq_length=120, gen_type="presence", motifs=[A, D], pos_motifs=[A],
                        seed=1)
    both = api.generate("fast", num_seqs=200, seq_length=120, gen_type="presence", motifs=[A, D], pos_motifs=[A],
                        seed=1, rc_prob=0.5)
    assert "one strand only" in unvaried("orientation", (A,), plus) and A in unvaried("orientation", (A,), plus)
    assert unvaried("orientation", (A,), both) == ""
    assert "two copies" in unvaried("dosage", (A,), plus)
    assert unvaried("presence", (A,), plus) == "" and unvaried("orientation", (A,), None) == ""
    twice = pd.DataFrame({"seq": [0, 0], "name": [A, A], "start": [0, 40], "end": [10, 50], "strand": ["+", "-"]})
    assert unvaried("dosage", (A,), type("WithSites", (), {"sites": twice})()) == ""
    rows = pd.DataFrame([{"model": "m", "test": t, "feature": f, "motifs": A, "verdict": "effect", "direction": "+"}
                         for t, f in (("strand", "orientation"), ("dosage", "dosage"), ("presence", "presence"))])
    card = score(rows, plus.rule, dataset=plus)[0].set_index("test")
    assert card.loc["strand", "status"] == "confounded" and card.loc["dosage", "status"] == "confounded"
    assert card.loc["presence", "status"] == "hit"
    assert score(rows, both.rule, dataset=both)[0].set_index("test").loc["strand", "status"] == "extra"
