"""Profiles: per-point statistics, the profile's results row, and scoring against a planted window."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from motifprobe.engine.interpret.summarize import summarize_deltas
from motifprobe.engine.profiles import (PROFILE_COLUMNS, point_stats, preferred_window, profile_status, profile_table,
                                        summary_row)
from motifprobe.engine.scorecard import score
from motifprobe.engine.stats import Thresholds, benjamini_hochberg
from motifprobe.plugins.rules.distance import DistanceRule

A, B = "STAT_known2", "CTCF_known1"
RULE = DistanceRule([A, B], min_dist=5, max_dist=10)
GAPS = list(range(0, 31, 5))
T = Thresholds()


def spacing_unit(model="m", test_params='{"max_gap": 30}'):
    points = [{"arm": f"{o}:{g}", "point": float(g), "label": str(g), "order": o, "control": "control"}
              for o in ("AB", "BA") for g in GAPS]
    return {"model": model, "test": "spacing", "feature": "spacing", "motifs": f"{A}+{B}", "test_params": test_params,
            "deterministic": True, "num_perturbs": 1, "status": "ok", "error": "", "control": "control", "checks": [],
            "insertion": True, "profile": points}


def spacing_deltas(curve, n=80, model="m", noise=0.01, seed=0, test_params='{"max_gap": 30}'):
    """Per background: each arm's change = curve(order, gap) + noise; the control's change = noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"model": model, "test": "spacing", "feature": "spacing", "motifs": f"{A}+{B}",
                          "test_params": test_params, "id": [f"s{i}" for i in range(n)], "label": -1,
                          "delta": 0.0, "control_delta": 0.0, "prob_effect": 0.0, "control_prob_effect": 0.0,
                          "flip_rate": 0.0, "control_flip_rate": 0.0})
    frame["prob_arm_control"] = rng.normal(0, noise, n)
    for order in ("AB", "BA"):
        for gap in GAPS:
            frame[f"prob_arm_{order}:{gap}"] = curve(order, gap) + rng.normal(0, noise, n)
    return frame


def window_curve(order, gap):  # a model that learned the rule: responds only to AB at gaps 5..10
    return 0.6 if order == "AB" and 5 <= gap <= 10 else 0.0


def flat_curve(order, gap):  # a k-mer model: the pair raises the prediction whatever the gap
    return 0.3


def test_point_stats_mean_ci_and_paired_p():
    rng = np.random.default_rng(1)
    arm, control = 0.2 + rng.normal(0, 0.05, 200), rng.normal(0, 0.05, 200)
    s = point_stats(arm, control)
    diff = arm - control
    assert s["n"] == 200 and s["effect"] == pytest.approx(diff.mean())
    assert s["ci_low"] < diff.mean() < s["ci_high"] and s["ci_high"] - s["ci_low"] < 0.03
    assert s["control"] == pytest.approx(control.mean()) and s["p_value"] < 1e-20
    same = point_stats(control, control)
    assert same["effect"] == 0 and same["p_value"] == 1.0


def test_profile_table_columns_bh_within_profile_and_window():
    table = profile_table(spacing_deltas(window_curve), [spacing_unit()], thresholds=T, rule=RULE)
    assert list(table.columns) == PROFILE_COLUMNS and len(table) == 2 * len(GAPS)
    called = table[table["called"]]
    assert set(zip(called["order"], called["point"])) == {("AB", 5.0), ("AB", 10.0)}
    inside = table[table["expected"] == "inside"]
    assert set(zip(inside["order"], inside["point"])) == {("AB", 5.0), ("AB", 10.0)}
    assert set(table["expected"]) == {"inside", "outside"}
    assert (table["q_value"] >= table["p_value"]).all()
    two = profile_table(pd.concat([spacing_deltas(window_curve), spacing_deltas(flat_curve, model="k")]),
                        [spacing_unit(), spacing_unit("k")], thresholds=T)
    for _, one in two.groupby("model"):  # BH over each profile's own points, not over every profile
        np.testing.assert_allclose(one["q_value"], benjamini_hochberg(one["p_value"].to_numpy()))
    assert table.loc[table["arm"] == "AB:5", "effect"].iloc[0] == pytest.approx(0.6, abs=0.01)
    # the pair named the other way round: the rule's order is BA of these motifs
    unit = dict(spacing_unit(), motifs=f"{B}+{A}")
    d = spacing_deltas(window_curve).assign(motifs=f"{B}+{A}")
    swapped = profile_table(d, [unit], thresholds=T, rule=RULE)
    assert set(swapped.loc[swapped["expected"] == "inside", "order"]) == {"BA"}
    # no rule: no expectation
    assert set(profile_table(spacing_deltas(window_curve), [spacing_unit()])["expected"]) == {""}


def test_preferred_window_is_the_run_around_the_peak():
    profile = pd.DataFrame({"order": ["AB"] * 6 + ["BA"] * 2, "point": [0, 5, 10, 15, 20, 25, 0, 5],
                            "effect": [0.0, 0.4, 0.8, 0.5, 0.1, 0.6, 0.3, 0.2]})
    assert preferred_window(profile) == ("AB", 5.0, 15.0)  # 25 is high too, but not contiguous with the peak
    assert preferred_window(profile.assign(effect=-0.1))[0] == ""


def test_summary_row_calls_a_peaked_curve_and_not_a_flat_one():
    peaked = profile_table(spacing_deltas(window_curve), [spacing_unit()], thresholds=T)
    row = summary_row(peaked, spacing_unit(), T)
    assert row["verdict"] == "effect" and row["direction"] == "+" and row["window"] == "AB 5-10"
    assert row["effect"] == pytest.approx(0.6, abs=0.01) and row["points_called"] == 2 and row["mode"] == "prediction"
    flat = profile_table(spacing_deltas(flat_curve), [spacing_unit()], thresholds=T)
    row = summary_row(flat, spacing_unit(), T)
    assert flat["called"].all()  # every point differs from the shuffled control ...
    assert row["verdict"] == "none" and "flat" in row["reason"]  # ... but the curve does not move with the gap
    bump = profile_table(spacing_deltas(lambda o, g: 0.34 if g == 0 else 0.3), [spacing_unit()], thresholds=T)
    row = summary_row(bump, spacing_unit(), T)  # a junction bump: spans 0.04 > min_effect, < a quarter of the peak
    assert row["verdict"] == "none" and "flat: the curve spans only 0.04" in row["reason"]


def test_profile_status_against_the_planted_window():
    def status(curve):
        return profile_status(profile_table(spacing_deltas(curve), [spacing_unit()], thresholds=T, rule=RULE),
                              "m", "spacing", f"{A}+{B}")

    assert status(window_curve)[0] == "hit"
    assert status(lambda o, g: 0.0)[0] == "miss"
    peak_outside = status(lambda o, g: 0.6 if o == "AB" and g == 25 else 0.0)
    assert peak_outside[0] == "miss" and "outside" in peak_outside[1]
    also_outside = status(lambda o, g: 0.6 if o == "AB" and (5 <= g <= 10 or g == 25) else 0.0)
    assert also_outside[0] == "miss" and "overlaps it by only" in also_outside[1]
    other_order = status(lambda o, g: 0.6 if o == "AB" and 5 <= g <= 10 else (0.5 if o == "BA" else 0.0))
    assert other_order[0] == "hit" and "the other order also responds" in other_order[1]
    small_outside = status(lambda o, g: 0.6 if o == "AB" and 5 <= g <= 10 else (0.1 if o == "BA" else 0.0))
    assert small_outside[0] == "hit"
    blurred = status(lambda o, g: 0.6 if o == "AB" and 5 <= g <= 15 else 0.0)  # one step past the window: 67%
    assert blurred[0] == "hit" and "overlap 67%" in blurred[1]
    too_wide = status(lambda o, g: 0.6 if o == "AB" and g >= 5 else 0.0)  # any gap from 5 on: 2 of 6 points
    assert too_wide[0] == "miss" and "overlaps it by only 33%" in too_wide[1]
    second_peak = status(lambda o, g: 0.6 if o == "AB" and (5 <= g <= 10 or g == 30) else 0.0)
    assert second_peak[0] == "miss" and "window AB 5-30 bp overlaps it by only 33%" in second_peak[1]
    table = profile_table(spacing_deltas(window_curve), [spacing_unit()], thresholds=T)  # no rule: no window
    assert profile_status(table, "m", "spacing", f"{A}+{B}") is None


def test_scorecard_scores_spacing_profiles_hit_and_flat_miss():
    units = [spacing_unit("cnn"), spacing_unit("kmer")]
    deltas = pd.concat([spacing_deltas(window_curve, model="cnn"), spacing_deltas(flat_curve, model="kmer")],
                       ignore_index=True)
    results = summarize_deltas(deltas, units, seed=0, mode="prediction", thresholds=T)
    profiles = profile_table(deltas, units, thresholds=T, rule=RULE)
    card, _ = score(results, RULE, profiles=profiles)
    status = dict(zip(card["model"], card["status"]))
    assert status == {"cnn": "hit", "kmer": "miss"}
    # without the profiles only the verdict counts: the flat curve is still a miss, a peak anywhere a hit
    wrong_place = spacing_deltas(lambda o, g: 0.6 if o == "AB" and g == 25 else 0.0, model="cnn")
    res = summarize_deltas(wrong_place, units[:1], seed=0, mode="prediction", thresholds=T)
    assert score(res, RULE)[0]["status"].iloc[0] == "hit"
    prof = profile_table(wrong_place, units[:1], thresholds=T, rule=RULE)
    assert score(res, RULE, profiles=prof)[0]["status"].iloc[0] == "miss"


def test_summarize_keeps_other_units_as_they_were_and_the_unit_order():
    rng = np.random.default_rng(3)
    n = 40
    other = {"model": "m", "test": "presence", "feature": "presence", "motifs": A, "test_params": "",
             "deterministic": False, "num_perturbs": 2, "status": "ok", "error": "", "control": "sham", "checks": []}
    plain = pd.DataFrame({"model": "m", "test": "presence", "feature": "presence", "motifs": A, "test_params": "",
                          "id": [f"s{i}" for i in range(n)], "label": rng.integers(0, 2, n),
                          "delta": rng.normal(0.3, 0.1, n), "control_delta": rng.normal(0, 0.1, n),
                          "prob_effect": rng.normal(0.2, 0.1, n), "control_prob_effect": rng.normal(0, 0.1, n),
                          "flip_rate": 0.0, "control_flip_rate": 0.0})
    alone = summarize_deltas(plain, [other], seed=1, mode="loss", thresholds=T)
    both = summarize_deltas(pd.concat([spacing_deltas(window_curve), plain], ignore_index=True),
                            [spacing_unit(), other], seed=1, mode="loss", thresholds=T)
    assert list(both["test"]) == ["spacing", "presence"]
    pd.testing.assert_series_equal(both.iloc[1][alone.columns], alone.iloc[0], check_names=False)
    assert both.iloc[0]["verdict"] == "effect" and both.iloc[0]["window"] == "AB 5-10"
    json.loads(both.to_json(orient="records"))  # the results JSON twin can hold the profile rows


def dosage_unit():
    points = [{"arm": str(c), "point": float(c), "label": str(c), "order": "", "control": f"control:{c}"}
              for c in (1, 2, 3)]
    return {"model": "m", "test": "dosage", "feature": "dosage", "motifs": A, "test_params": "",
            "deterministic": True, "num_perturbs": 1, "status": "ok", "error": "", "control": "control:1",
            "checks": [], "insertion": True, "profile": points}


@pytest.mark.parametrize("per_copy, shape", [
    (lambda c: 0.1 * c, "additive"),
    (lambda c: 0.3, "saturating"),
    (lambda c: 0.05 * c * c, "synergistic"),
])
def test_dosage_row_tests_against_additivity(per_copy, shape):
    rng = np.random.default_rng(2)
    n = 60
    frame = pd.DataFrame({"model": "m", "test": "dosage", "feature": "dosage", "motifs": A, "test_params": "",
                          "id": [f"s{i}" for i in range(n)], "label": -1, "delta": 0.0, "control_delta": 0.0,
                          "prob_effect": 0.0, "control_prob_effect": 0.0, "flip_rate": 0.0, "control_flip_rate": 0.0})
    for c in (1, 2, 3):
        frame[f"prob_arm_{c}"] = per_copy(c) + rng.normal(0, 0.01, n)
        frame[f"prob_arm_control:{c}"] = rng.normal(0, 0.01, n)
    row = summarize_deltas(frame, [dosage_unit()], seed=0, mode="prediction", thresholds=T).iloc[0]
    assert row["additivity"] == shape and shape in row["reason"]
