"""compare: scorecard logic, paired model statistics, toy models with known behaviour, outputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motifprobe import hookimpl
from motifprobe.engine.compare import compare, pairwise_tests
from motifprobe.engine.registry import Registry
from motifprobe.engine.scorecard import score
from toy_models import KmerLinearModel, OrderModel

A, B, D = "STAT_known2", "CTCF_known1", "GATA_known1"
BUILTIN_TESTS = ["presence", "order", "distance", "interaction", "control"]


def rows(model, calls):
    return pd.DataFrame([{"model": model, "test": t, "motifs": m, "verdict": v, "direction": ""} for t, m, v in calls])


@pytest.mark.parametrize("rule, expected", [
    ({"name": "presence", "pos_motifs": [A], "params": {}}, {("presence", A)}),
    ({"name": "presence", "pos_motifs": [A, B], "params": {}},
     {("presence", A), ("presence", B), ("interaction", f"{A}+{B}")}),
    ({"name": "order", "pos_motifs": [A, B], "params": {}},
     {("presence", A), ("presence", B), ("order", f"{A}+{B}"), ("interaction", f"{A}+{B}")}),
    ({"name": "distance", "pos_motifs": [A, B], "params": {"min_dist": 0, "max_dist": 10}},
     {("presence", A), ("presence", B), ("order", f"{A}+{B}"), ("interaction", f"{A}+{B}"), ("distance", f"{A}+{B}")}),
])
def test_the_scorecard_expects_what_the_rule_implies(rule, expected):
    calls = [(t, m, "none") for t in ("presence", "control") for m in (A, B, D)]
    calls += [(t, f"{x}+{y}", "none") for t in ("order", "distance", "interaction") for x, y in ((A, B), (A, D))]
    card, _ = score(rows("m", calls), rule)
    assert set(zip(card.loc[card["expected"], "test"], card.loc[card["expected"], "motifs"])) == expected


def test_scorecard_statuses_on_a_hand_made_table():
    rule = {"gen_type": "order", "pos_motifs": [A, B]}  # the first metadata format still scores
    table = rows("m", [("presence", A, "effect"), ("presence", B, "none"), ("order", f"{A}+{B}", "effect"),
                       ("interaction", f"{A}+{B}", "effect"), ("distance", f"{A}+{B}", "effect"),
                       ("presence", D, "effect"), ("control", A, "none"), ("order", f"{A}+{D}", "effect"),
                       ("interaction", f"{A}+{D}", "effect"), ("presence", "X", "untestable")])
    card, summary = score(table, rule, {"m": {"accuracy": 0.9, "beats_baseline": True}})
    status = dict(zip(zip(card["test"], card["motifs"]), card["status"]))
    assert status[("presence", A)] == "hit" and status[("presence", B)] == "miss"
    assert status[("distance", f"{A}+{B}")] == "extra"
    assert status[("presence", D)] == "decoy false call"
    assert status[("order", f"{A}+{D}")] == "confounded"
    assert status[("interaction", f"{A}+{D}")] == "extra"
    assert status[("control", A)] == "correct none" and status[("presence", "X")] == "untestable"
    s = summary.iloc[0]
    assert (s["hits"], s["misses"], s["decoy_false_calls"], s["learned_rule"]) == (3, 1, 1, "partly")
    assert "missing presence CTCF_known1" in s["statement"]


def test_a_model_below_baseline_did_not_learn_even_with_hits():
    table = rows("m", [("presence", A, "effect")])
    _, summary = score(table, {"gen_type": "presence", "pos_motifs": [A]}, {"m": {"accuracy": 0.5, "beats_baseline": False}})
    assert summary.iloc[0]["learned_rule"] == "no" and "NOT" in summary.iloc[0]["statement"]


def test_no_rule_means_unknown():
    _, summary = score(rows("m", [("presence", A, "effect")]), None)
    assert summary.iloc[0]["learned_rule"] == "unknown rule"


def test_pairwise_statistics_match_scipy():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(200)]
    a, b = rng.normal(0.5, 0.2, 200), rng.normal(0.0, 0.2, 200)
    deltas = pd.concat([pd.DataFrame({"model": m, "test": "order", "motifs": "x+y", "id": ids, "delta": d})
                        for m, d in (("cnn", a), ("kmer", b))])
    table = pairwise_tests(deltas)
    row = table.iloc[0]
    # no labels, no control, no probabilities: the deltas themselves, pooled; n 200: the normal approximation
    assert row["subset"] == "pooled"
    assert row["p_value"] == pytest.approx(wilcoxon(a - b, method="asymptotic").pvalue)
    assert row["stronger"] == "cnn" and row["mean_diff"] == pytest.approx(np.mean(a - b))
    # with labels and probabilities: per label, the probability-scale effect beyond the control
    pa, pb = rng.normal(0.3, 0.05, 200), rng.normal(-0.1, 0.05, 200)
    labels = np.repeat([0, 1], 100)
    deltas = pd.concat([pd.DataFrame({"model": m, "test": "order", "motifs": "x+y", "id": ids, "label": labels,
                                      "delta": d, "control_delta": 0.0, "prob_effect": p,
                                      "control_prob_effect": 0.05})
                        for m, d, p in (("cnn", a, pb), ("kmer", b, pa))])
    table = pairwise_tests(deltas).set_index("subset")
    assert set(table.index) == {"label0", "label1"} and (table["n"] == 100).all()
    row = table.loc["label1"]
    assert row["mean_a"] == pytest.approx(np.mean(pb[100:] - 0.05))
    assert row["mean_b"] == pytest.approx(np.mean(pa[100:] - 0.05))
    assert row["stronger"] == "kmer"  # reads probabilities (0.25 vs -0.15), not the larger loss delta of cnn


class _Toy:
    """A toy model as a model plugin: nothing to fit."""

    param_defaults: dict = {}
    inner = None

    def __init__(self, **params):
        self.params = params

    def fit(self, codes, labels, *, val=None, seed=None, progress=None):
        return self

    def predict_proba(self, codes):
        return self.inner.predict_proba(codes).astype(np.float32)

    def save(self, directory):
        (directory / "toy.json").write_text("{}")

    @classmethod
    def load(cls, directory):
        return cls()


class ToyOrder(_Toy):
    inner = OrderModel(A, B)


class ToyKmer(_Toy):
    inner = KmerLinearModel([A, B])


class ToyPlugin:
    @staticmethod
    @hookimpl
    def register_models(register):
        register("toy-order", ToyOrder)
        register("toy-kmer", ToyKmer)


@pytest.fixture(scope="module")
def toy_compare(order_ds, tmp_path_factory):
    registry = Registry(extra_plugins={"toy": ToyPlugin()}, entry_points=False)
    out = tmp_path_factory.mktemp("cmp") / "out"
    result = compare(order_ds, ["toy-order", "toy-kmer"], motifs=[A, B, D], tests=BUILTIN_TESTS, num_perturbs=2,
                     seed=5, out_dir=out, registry=registry)
    return result, out, registry


def test_order_blind_kmer_model_misses_order(toy_compare):
    result, _, _ = toy_compare
    card = result.scorecard.set_index(["model", "test", "motifs"])["status"]
    summary = result.summary.set_index("model")
    # an order-blind model cannot beat the majority baseline on order data: none of its calls counts
    assert not summary.loc["toy-kmer", "beats_baseline"] and summary.loc["toy-kmer", "hits"] == 0
    assert card[("toy-kmer", "order", f"{A}+{B}")] == "model did not learn"
    assert card[("toy-order", "order", f"{A}+{B}")] == "hit"
    pair = result.pairwise.set_index(["test", "motifs", "subset"])
    for subset in ("label0", "label1"):  # swapping moves the order model's prediction in both classes
        assert pair.loc[("order", f"{A}+{B}", subset), "stronger"] == "toy-order"


def test_compare_writes_tables_figures_and_report(toy_compare):
    result, out, _ = toy_compare
    for name in ("compare.csv", "scorecard.csv", "summary.csv", "pairwise.csv", "deltas.parquet", "report.html"):
        assert (out / name).stat().st_size > 0, name
    for name in ("heatmap.png", "distributions.png", "scorecard.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    logos = len(list((out / "logos").glob("*.png")))
    assert logos == 3  # one logo per tested motif
    assert html.count("data:image/png;base64,") == 2 + logos and "toy-order" in html and "scorecard" in html
    assert len(pd.read_csv(out / "compare.csv")) == len(result.results)


def test_compare_is_deterministic_and_models_see_the_same_perturbations(toy_compare, order_ds):
    result, _, registry = toy_compare
    again = compare(order_ds, ["toy-order", "toy-kmer"], motifs=[A, B, D], tests=BUILTIN_TESTS, num_perturbs=2,
                    seed=5, registry=registry, figures=False)
    pd.testing.assert_frame_equal(result.results, again.results)
    ids = result.deltas.groupby("model")["id"].apply(list)
    assert ids["toy-order"] == ids["toy-kmer"]


def test_existing_output_directory_is_refused(toy_compare, order_ds):
    from motifprobe.engine.errors import MotifprobeError

    _, out, registry = toy_compare
    with pytest.raises(MotifprobeError, match="--overwrite"):
        compare(order_ds, ["toy-order"], out_dir=out, registry=registry)


def test_no_verdict_contradicts_the_numbers_shown_beside_it(toy_compare):
    """Walk every row as the report and the CLI show it: a called effect's deciding subset meets
    both thresholds there; a row read 'none' does not; a check's verdict names a check that failed."""
    result, out, _ = toy_compare
    t = result.metadata["thresholds"]
    shown = pd.read_csv(out / "compare.csv")
    assert len(shown) == len(result.results) and shown["reason"].notna().all()
    for _, row in shown.iterrows():
        meets = row["subset_q"] < t["alpha"] and abs(row["subset_effect"]) >= t["min_effect"]
        if row["verdict"] == "effect":
            assert meets, row.to_dict()
            assert row["direction"] == ("+" if row["subset_effect"] >= 0 else "-")
            assert row["subset"] in str(row["called_in"]).split(",")
        elif row["verdict"] == "none":
            assert not meets, row.to_dict()
        elif row["verdict"] in ("composition", "position"):
            assert meets and row["check"] == row["verdict"], row.to_dict()
            need = min(t["min_effect"], 0.25 * abs(row["subset_effect"]))
            assert not (row["check_q"] < t["alpha"] and abs(row["check_effect"]) >= need
                        and row["check_effect"] * row["subset_effect"] > 0), row.to_dict()
