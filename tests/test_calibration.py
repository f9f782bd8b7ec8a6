"""Calibration of the verdicts (#14, "Verdicts", item 6): do the calls mean what they say?

End to end (generate -> interpret -> scorecard) with fast numpy models whose behaviour is known
by construction: the sham-vs-sham null is uniform and rarely called; a model that reads only GC
content is read ``composition`` on a GC-rich decoy (a shortcut, not a false call); a model that
reads the motif keeps its call with the right sign; a distance call survives translation only
when the model reads the gap; signs are scored; ``min_count`` sequences that all agree suffice.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from conftest import make
from motifprobe import api
from motifprobe.engine.interpret import summarize_deltas
from motifprobe.engine.motif_library import load_encode_motifs
from motifprobe.engine.scorecard import score
from motifprobe.engine.stats import Thresholds
from toy_models import KmerLinearModel, PresenceModel, PwmScanner

POS = "STAT_known2"
PARTNER = "CTCF_known1"
NEUTRAL_DECOY = "GATA_known1"
GC_DECOY = "EGR1_known4"  # PWM GC share 0.81 over 14 bp (consensus CCCGCCCCCGCCCC); background 0.4
GC = (1, 2)  # codes of C and G


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _two_class(p):
    return np.stack([1.0 - p, p], axis=1)


class GCModel:
    """P(1) = logistic(slope * (GC share - center)): reads no motif at all, only composition."""

    def __init__(self, center: float, slope: float = 40.0):
        self.center, self.slope = center, slope

    def predict_proba(self, codes):
        return _two_class(_sigmoid(self.slope * (np.isin(codes, GC).mean(axis=1) - self.center)))


class InvertedPresenceModel(PresenceModel):
    """P(1) *falls* with the best hit of the motif: the presence effect has the wrong sign."""

    def predict_proba(self, codes):
        return super().predict_proba(codes)[:, ::-1]


class GapModel:
    """P(1) high iff motif b's best hit starts ``lo``..``hi`` bases after the end of motif a's:
    depends on the gap only, never on where the pair sits (translation-invariant)."""

    def __init__(self, a: str, b: str, lo: int = 5, hi: int = 25):
        self.a, self.b, self.lo, self.hi = PwmScanner(a), PwmScanner(b), lo, hi

    def predict_proba(self, codes):
        _, pa = self.a.scan(codes)
        _, pb = self.b.scan(codes)
        gap = pb - (pa + self.a.width)
        return _two_class(np.where((gap >= self.lo) & (gap <= self.hi), 0.9, 0.1))


class PositionModel:
    """P(1) high iff motif a's best hit starts in the first third of the sequence: reads where a
    sits, nothing about its partner (so nothing about their distance)."""

    def __init__(self, a: str):
        self.a = PwmScanner(a)

    def predict_proba(self, codes):
        _, pa = self.a.scan(codes)
        return _two_class(np.where(pa < codes.shape[1] // 3, 0.9, 0.1))


def _row(table, test, motifs):
    rows = table[(table["test"] == test) & (table["motifs"] == motifs)]
    assert len(rows) == 1, (test, motifs, table[["test", "motifs"]])
    return rows.iloc[0]


def _status(card, test, motifs):
    rows = card[(card["test"] == test) & (card["motifs"] == motifs)]
    assert len(rows) == 1
    return rows.iloc[0]


# -- 1, 2: the null ----------------------------------------------------------------------------
N_NULL_RUNS = 40
NULL_MOTIFS = [POS, PARTNER, NEUTRAL_DECOY]


@pytest.fixture(scope="module")
def null_runs():
    """``control`` (sham vs sham) on a k-mer model that every base moves (no ties, no zeros):
    40 runs, 4 datasets x 10 interpret seeds."""
    model = KmerLinearModel([POS, PARTNER])
    runs = []
    for i in range(N_NULL_RUNS):
        if i % 10 == 0:
            ds = make("presence", num_seqs=400, seed=100 + i // 10, motifs=NULL_MOTIFS)
        runs.append(api.interpret(model, ds, tests=["control"], num_perturbs=3, seed=i))
    return runs


def test_sham_vs_sham_p_values_are_uniform(null_runs):
    pooled = np.concatenate([r.table["p_vs_control"].to_numpy(float) for r in null_runs])
    assert pooled.size == 3 * N_NULL_RUNS and np.all(np.isfinite(pooled))
    ks = sps.kstest(pooled, "uniform")
    assert ks.pvalue > 0.01, f"sham-vs-sham p values are not uniform: KS p {ks.pvalue:.3g} (D {ks.statistic:.3f})"
    per_label = np.concatenate([r.table[c].to_numpy(float) for r in null_runs
                                for c in ("p_vs_control_label0", "p_vs_control_label1")])
    per_label = per_label[np.isfinite(per_label)]
    assert sps.kstest(per_label, "uniform").pvalue > 0.01
    # The same deltas read against 0 instead of the matched sham are not uniform (cross-entropy
    # is convex in the logit: zero-mean changes raise the loss on average): the same KS
    # criterion rejects them, so it can see a miscalibrated p value.
    vs_zero = np.concatenate([r.table["p_vs_zero"].to_numpy(float) for r in null_runs])
    assert sps.kstest(vs_zero, "uniform").pvalue < 0.01


def test_controls_are_rarely_called_family_wise(null_runs):
    called = [bool((r.table["verdict"] != "none").any()) for r in null_runs]
    # At alpha 0.01, 0 of 40 is the best 40 runs can show (95% upper bound on the rate: 7.2%).
    assert sum(called) == 0, [r.table[["motifs", "verdict", "reason"]] for r, c in zip(null_runs, called) if c]
    # The q values alone (min_effect 0) at a loose alpha 0.2, so that 40 runs can tell a
    # family-wise rate <= alpha from one that is not: over the family of 3 rows x 3 subsets the
    # share of runs with any call must be consistent with <= 20%.
    loose = Thresholds(alpha=0.2, min_effect=0.0)
    any_call = any_raw = 0
    for r in null_runs:
        table = summarize_deltas(r.deltas, r.metadata["units"], seed=r.metadata["seed"], mode="loss",
                                 thresholds=loose)
        assert len(table) == 3 and set(table["verdict"]) <= {"none", "effect"}
        any_call += bool((table["verdict"] == "effect").any())
        raw = table[["p_vs_control", "p_vs_control_label0", "p_vs_control_label1"]].to_numpy(float)
        any_raw += bool(np.nanmin(raw) < loose.alpha)
    assert sps.binomtest(any_call, N_NULL_RUNS, loose.alpha, alternative="greater").pvalue > 0.01, any_call
    # Power of that check: raw p in any subset (no correction over the family) fails it.
    assert sps.binomtest(any_raw, N_NULL_RUNS, loose.alpha, alternative="greater").pvalue < 0.01, any_raw


# -- 3, 4, 6: presence: composition, a motif reader, the sign -------------------------------------
@pytest.fixture(scope="module")
def gc_ds():
    """Label 1 iff STAT is present; decoys GATA (GC 0.54) and EGR1_known4 (GC 0.81) in both classes."""
    return make("presence", num_seqs=800, seed=11, motifs=[POS, NEUTRAL_DECOY, GC_DECOY])


def test_the_gc_decoy_is_gc_rich():
    pwm = load_encode_motifs()[GC_DECOY].pwm
    consensus = pwm.argmax(axis=1)
    assert pwm[:, list(GC)].sum(axis=1).mean() > 0.8 and np.isin(consensus, GC).mean() > 0.9


def test_gc_shortcut_is_read_composition_and_scored_a_shortcut(gc_ds):
    model = GCModel(center=float(np.isin(gc_ds.codes, GC).mean()))
    result = api.interpret(model, gc_ds, tests=["presence"], num_perturbs=4, seed=0, model_name="gc")
    t = Thresholds()
    row = _row(result.table, "presence", GC_DECOY)
    # Destroying the decoy moves the model (a real call against the sham) ...
    assert row["subset_q"] < t.alpha and abs(row["subset_effect"]) >= t.min_effect, row["reason"]
    # ... but shuffling its own bases in place moves it as little as the sham does.
    assert row["check"] == "composition" and abs(row["check_effect"]) < t.min_effect / 2, row["reason"]
    assert row["verdict"] == "composition", row["reason"]
    card, summary = score(result.table, gc_ds.metadata["rule"], dataset=gc_ds)
    assert _status(card, "presence", GC_DECOY)["status"] == "shortcut"
    assert summary.iloc[0]["decoy_false_calls"] == 0 and summary.iloc[0]["shortcuts"] >= 1
    # The planted motif is not read by this model either: at best its composition.
    assert _row(result.table, "presence", POS)["verdict"] != "effect"


def test_motif_reader_keeps_its_call_with_the_right_sign_and_no_decoy_call(gc_ds):
    result = api.interpret(PresenceModel(POS), gc_ds, tests=["presence", "control"], num_perturbs=4, seed=0,
                           model_name="reader")
    table = result.table
    pos = _row(table, "presence", POS)
    assert pos["verdict"] == "effect" and pos["direction"] == "+", pos["reason"]
    assert pos["check"] == "composition" and pos["check_effect"] > Thresholds().min_effect, pos["reason"]
    for decoy in (NEUTRAL_DECOY, GC_DECOY):
        assert _row(table, "presence", decoy)["verdict"] == "none"
    assert set(table.loc[table["test"] == "control", "verdict"]) == {"none"}
    card, summary = score(table, gc_ds.metadata["rule"], dataset=gc_ds)
    hit = _status(card, "presence", POS)
    assert hit["status"] == "hit" and hit["expected_sign"] == "+" and hit["direction"] == "+"
    others = ~((card["test"] == "presence") & (card["motifs"] == POS))
    assert set(card.loc[others, "status"]) == {"correct none"}
    assert summary.iloc[0]["learned_rule"] == "yes"


def test_an_effect_of_the_wrong_sign_is_scored_wrong_sign(gc_ds):
    result = api.interpret(InvertedPresenceModel(POS), gc_ds, [POS], tests=["presence"], num_perturbs=4, seed=0,
                           model_name="inverted")
    row = _row(result.table, "presence", POS)
    assert row["verdict"] == "effect" and row["direction"] == "-", row["reason"]
    card, summary = score(result.table, gc_ds.metadata["rule"], dataset=gc_ds)
    assert _status(card, "presence", POS)["status"] == "wrong sign"
    assert summary.iloc[0]["hits"] == 0 and summary.iloc[0]["wrong_sign"] == 1


# -- 5: distance vs position ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def distance_small():
    return make("distance", num_seqs=1000, seed=5)


def test_a_gap_reading_model_keeps_its_distance_call(distance_small):
    result = api.interpret(GapModel(POS, PARTNER), distance_small, [POS, PARTNER], tests=["distance"],
                           num_perturbs=4, seed=0, model_name="gap")
    row = _row(result.table, "distance", f"{POS}+{PARTNER}")
    assert row["verdict"] == "effect" and row["direction"] == "+", row["reason"]
    assert row["check"] == "position" and row["check_effect"] >= 0.5 * row["subset_effect"], row["reason"]
    card, _ = score(result.table, distance_small.metadata["rule"], dataset=distance_small)
    assert _status(card, "distance", f"{POS}+{PARTNER}")["status"] == "hit"


def test_a_position_reading_model_loses_its_distance_call(distance_small):
    result = api.interpret(PositionModel(POS), distance_small, [POS, PARTNER], tests=["distance"],
                           num_perturbs=4, seed=0, model_name="position")
    row = _row(result.table, "distance", f"{POS}+{PARTNER}")
    assert row["verdict"] in ("position", "none"), (
        f"a model that reads only where {POS} sits got {row['verdict']} {row['direction']} for distance: "
        f"{row['reason']}")
    assert row["verdict"] == "position", row["reason"]


# -- 7: small n ----------------------------------------------------------------------------------
@pytest.mark.parametrize("min_count", [8, 10])
def test_min_count_sequences_that_all_agree_are_called_and_fewer_are_not(presence_ds, min_count):
    """Exact p: n sequences that all move the same way give p = 2 / 2**n. At min_count 8 that is
    0.0078 < alpha 0.01, where the normal approximation gives 0.012 and could never call it."""
    carriers = np.flatnonzero(np.isin(np.arange(len(presence_ds)),
                                      presence_ds.sites.loc[presence_ds.sites["name"] == POS, "seq"]))
    thresholds = Thresholds(min_count=min_count)
    model = PresenceModel(POS)
    for n in (min_count, min_count - 1):
        ids = presence_ds.ids[carriers[:n]]
        table = api.interpret(model, presence_ds, [POS], tests=["presence"], num_perturbs=4, seed=0, ids=ids,
                              thresholds=thresholds).table
        row = _row(table, "presence", POS)
        assert row["count"] == n
        assert row["p_vs_control"] == pytest.approx(2.0 / 2**n, rel=1e-9), row["p_vs_control"]
        if n == min_count:
            assert row["verdict"] == "effect" and row["direction"] == "+", row["reason"]
        else:
            assert row["verdict"] == "untestable", row["reason"]
            if min_count == 10:  # p 2/512 is below alpha: only min_count stops the call
                assert row["p_vs_control"] < thresholds.alpha
