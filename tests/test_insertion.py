"""Insertion tests: backgrounds, inserted motifs, keyed reproducibility, profiles of known models, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import make
from toy_models import KmerLinearModel, PwmScanner
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.insertion import (Placement, background_dataset, background_rows, draw_backgrounds, insert,
                                         motif_instances, motif_pwms)
from motifprobe.engine.interpret import interpret, plan
from motifprobe.engine.interpret import run as run_mod
from motifprobe.engine.perturbation import Scorer
from motifprobe.engine.registry import get_registry
from motifprobe.engine.scorecard import score
from motifprobe.engine.sequences import reverse_complement
from motifprobe.engine.streams import RowStreams, context_key, row_keys

A, B, D = "STAT_known2", "CTCF_known1", "GATA_known1"
BG = np.full(4, 0.25)
FAST = {"n_backgrounds": 60, "max_gap": 30, "step": 5}
FAST_POSITION = {"n_backgrounds": 60, "step": 40}


class GapModel:
    """P(1) = 0.9 iff A's best hit lies before B's with a gap in [lo, hi] (both present), else 0.1."""

    def __init__(self, lo: int, hi: int):
        self.a, self.b, self.lo, self.hi = PwmScanner(A), PwmScanner(B), lo, hi

    def predict_proba(self, codes):
        sa, pa = self.a.scan(codes)
        sb, pb = self.b.scan(codes)
        gap = pb - (pa + self.a.width)
        ok = (sa > self.a.threshold) & (sb > self.b.threshold) & (gap >= self.lo) & (gap <= self.hi)
        p = np.where(ok, 0.9, 0.1)
        return np.stack([1 - p, p], axis=1)


class CentreModel:
    """P(1) rises only when A's best hit starts within 20 bp of the centre."""

    def __init__(self):
        self.a = PwmScanner(A)

    def predict_proba(self, codes):
        best, at = self.a.scan(codes)
        near = np.abs(at + self.a.width / 2 - codes.shape[1] / 2) <= 20
        p = np.where(near & (best > self.a.threshold), 0.8, 0.2)
        return np.stack([1 - p, p], axis=1)


@pytest.fixture(scope="module")
def ds():
    return make("distance", num_seqs=240, min_dist=5, max_dist=10)


def streams(ids, purpose="t"):
    return RowStreams(row_keys(context_key(purpose, 0), ids))


# -- primitives ---------------------------------------------------------------------------------
def test_insert_writes_bases_and_reverse_complement_without_touching_input():
    codes = np.zeros((3, 20), np.uint8)
    inst = [np.array([[0, 1, 2, 2]] * 3, np.uint8)]
    out = insert(codes, inst, (Placement(0, 2, "+"), Placement(0, 10, "-")))
    assert (out[:, 2:6] == [0, 1, 2, 2]).all() and (out[:, 10:14] == reverse_complement(inst[0])).all()
    assert (out[:, 6:10] == 0).all() and not codes.any()
    with pytest.raises(ValueError):
        insert(codes, inst, (Placement(0, 18),))


def test_backgrounds_keep_what_each_kind_promises(ds):
    codes, lengths = ds.codes[:50], ds.lengths[:50]
    ids = ds.ids[:50]

    def dinucs(x):
        return np.stack([np.bincount(x[i, :-1] * 5 + x[i, 1:], minlength=25) for i in range(len(x))])

    di = draw_backgrounds("dinuc-shuffle", codes, lengths, BG, streams(ids))
    assert (dinucs(di) == dinucs(codes)).all() and (di != codes).any(axis=1).all()
    sh = draw_backgrounds("shuffle", codes, lengths, BG, streams(ids))
    assert (np.sort(sh, axis=1) == np.sort(codes, axis=1)).all() and (sh != codes).any(axis=1).all()
    iid = draw_backgrounds("background", codes, lengths, np.array([1.0, 0, 0, 0]), streams(ids))
    assert (iid == 0).all()
    assert (draw_backgrounds("dataset-negatives", codes, lengths, BG, streams(ids)) == codes).all()
    with pytest.raises(MotifprobeError, match="backgrounds 'nope' is not allowed; allowed: dinuc-shuffle"):
        draw_backgrounds("nope", codes, lengths, BG, streams(ids))


def test_backgrounds_and_samples_are_per_sequence_whatever_the_subset_or_order(ds):
    unit = plan(ds, [A, B], ["spacing"], get_registry(), num_perturbs=1,
                test_params={"spacing": {**FAST, "insert": "sample"}})[0]
    rows = ds.subset(pd.Index(ds.ids).get_indexer(unit.ids))
    full = background_dataset(unit, rows, 7, BG)
    pick = np.array([5, 1, 30, 2])
    part = background_dataset(unit, rows.subset(pick), 7, BG)
    assert (part.codes == full.codes[pick]).all()
    assert not (background_dataset(unit, rows, 8, BG).codes == full.codes).all()
    other = plan(ds, [A], ["position"], get_registry(), num_perturbs=1, test_params={"position": FAST_POSITION})[0]
    assert other.ids == unit.ids  # every insertion test of a run draws from the same rows ...
    assert (background_dataset(other, rows, 7, BG).codes == full.codes).all()  # ... the same backgrounds
    pwms = motif_pwms(ds.metadata, (A,))
    whole = motif_instances(pwms, (A,), len(rows), "sample", streams(rows.ids))[0]
    some = motif_instances(pwms, (A,), len(pick), "sample", streams(rows.ids[pick]))[0]
    assert (some == whole[pick]).all() and len({r.tobytes() for r in whole}) > 1


def test_background_rows_keyed_choice_and_negatives(ds):
    chosen = set(ds.ids[background_rows(ds, "dinuc-shuffle", 50, seed=0)])
    assert len(chosen) == 50
    half = ds.subset(np.arange(0, len(ds), 2))
    again = set(half.ids[background_rows(half, "dinuc-shuffle", 50, seed=0)])
    assert chosen & set(half.ids) <= again  # a row chosen from all stays chosen in any subset holding it
    negatives = background_rows(ds, "dataset-negatives", 1000, seed=0)
    assert (ds.labels[negatives] == 0).all() and len(negatives) == int((ds.labels == 0).sum())
    unlabeled = ds.subset(np.arange(10))
    unlabeled.labels[:] = -1
    with pytest.raises(MotifprobeError, match="'dataset-negatives' needs labels"):
        background_rows(unlabeled, "dataset-negatives", 5, seed=0)


def test_run_unit_insertion_deltas_do_not_depend_on_chunking(ds, monkeypatch):
    registry = get_registry()
    unit = plan(ds, [A, B], ["spacing"], registry, num_perturbs=1,
                test_params={"spacing": {**FAST, "insert": "sample"}})[0]
    rows = ds.subset(pd.Index(ds.ids).get_indexer(unit.ids))
    model = KmerLinearModel([A, B])

    def run():
        return run_mod.run_unit(unit, rows, model, seed=3, scorer=Scorer("loss"), background=BG,
                                original=np.zeros((len(rows), 2)), registry=registry)

    whole = run()
    monkeypatch.setattr(run_mod, "CHUNK_BYTES", 7 * rows.seq_length * 20)  # a few rows per chunk
    chunked = run()
    assert set(whole.arm_probs) == {p["arm"] for p in unit.points} | {"control"}
    for arm, values in whole.arm_probs.items():
        np.testing.assert_allclose(chunked.arm_probs[arm], values, rtol=0, atol=1e-12)
    assert np.abs(whole.arm_probs["AB:10"]).max() > 0


# -- profiles of models whose answer is known ----------------------------------------------------
def test_spacing_curve_of_a_gap_model_peaks_in_the_window_and_a_kmer_curve_is_flat(ds):
    gap = interpret(GapModel(5, 10), ds, [A, B], tests=["spacing"], mode="prediction", test_params={"spacing": FAST},
                    model_name="gap")
    kmer = interpret(KmerLinearModel([A, B]), ds, [A, B], tests=["spacing"], mode="prediction",
                     test_params={"spacing": FAST}, model_name="kmer")
    prof = gap.profiles
    called = prof[prof["called"]]
    assert set(zip(called["order"], called["point"])) == {("AB", 5.0), ("AB", 10.0)}
    assert (called["effect"] > 0.7).all() and (prof.loc[~prof["called"], "effect"].abs() < 0.02).all()
    assert set(called["expected"]) == {"inside"}
    assert gap.table.iloc[0]["verdict"] == "effect" and gap.table.iloc[0]["window"] == "AB 5-10"
    assert kmer.table.iloc[0]["verdict"] == "none"
    results = pd.concat([gap.table, kmer.table], ignore_index=True)
    card, _ = score(results, ds.rule, profiles=pd.concat([gap.profiles, kmer.profiles], ignore_index=True))
    assert dict(zip(card["model"], card["status"])) == {"gap": "hit", "kmer": "miss"}


def test_position_profile_of_a_centre_model_and_dosage_and_strand_run(ds):
    res = interpret(CentreModel(), ds, [A], tests=["position", "dosage"], mode="prediction",
                    test_params={"position": {"n_backgrounds": 40, "step": 20}, "dosage": {"n_backgrounds": 40}})
    pos = res.profiles[res.profiles["test"] == "position"]
    centre = np.abs(pos["point"] + PwmScanner(A).width / 2 - ds.seq_length / 2) <= 20
    assert (pos.loc[centre, "effect"] > 0.5).all() and (pos.loc[~centre, "effect"].abs() < 0.05).all()
    assert res.table.set_index("test").loc["position", "verdict"] == "effect"
    dose = res.profiles[res.profiles["test"] == "dosage"]
    assert list(dose["point"]) == [1.0, 2.0, 3.0, 4.0] and list(dose["point_label"]) == ["1", "2", "3", "4"]
    strand = interpret(KmerLinearModel([A, B]), ds, [A, B], tests=["strand"], mode="prediction",
                       test_params={"strand": {"n_backgrounds": 30}})
    assert list(strand.profiles["point_label"]) == ["++", "+-", "-+", "--"]
    assert strand.profiles["point"].isna().all()


def test_insertion_tests_run_only_when_named(ds):
    names = {u.test for u in plan(ds, [A, B], None, get_registry(), num_perturbs=1)}
    assert names and not names & {"spacing", "strand", "dosage", "position"}


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("test, params, message", [
    ("spacing", {"max_gap": 500}, "test 'spacing': gaps 0..500 do not fit"),
    ("dosage", {"max_copies": 50}, "test 'dosage': max_copies 50 do not fit"),
    ("spacing", {"backgrounds": "nope"}, "nope"),
    ("spacing", {"insert": "best"}, "best"),
])
def test_bad_profiles_fail_before_any_work(ds, test, params, message):
    calls = []

    def model(codes):
        calls.append(len(codes))
        return np.tile([0.5, 0.5], (len(codes), 1))

    motifs = [A, B] if test == "spacing" else [A]
    with pytest.raises(MotifprobeError, match=message):
        interpret(model, ds, motifs, tests=[test], mode="prediction", test_params={test: params})
    assert calls == []


def test_strand_profile_refuses_a_palindromic_motif(ds):
    palindrome = np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]] * 0.97 + 0.0075  # ACGTACGT is its own reverse complement
    meta = dict(ds.metadata, motifs=[{"name": A, "pwm": palindrome.tolist()}])
    pal = ds.subset(np.arange(len(ds)))
    pal.metadata = meta
    with pytest.raises(MotifprobeError, match=f"motif '{A}' is palindromic .*ACGTACGT"):
        plan(pal, [A], ["strand"], get_registry(), num_perturbs=1, test_params={"strand": {"single": True}})


@pytest.mark.parametrize("name, params", [("spacing", {"max_gap": 20}), ("strand", {}), ("dosage", {}),
                                          ("position", {"step": 40})])
def test_builtin_insertion_tests_pass_the_conformance_check(name, params):
    from motifprobe.engine.testing import check_perturbation_test

    assert check_perturbation_test(get_registry().get("perturbation_test", name).factory,
                                   params=params)["share_changed"] == 1.0


def test_profiles_need_no_labels(ds):
    unlabeled = ds.subset(np.arange(80))
    unlabeled.labels[:] = -1
    res = interpret(GapModel(5, 10), unlabeled, [A, B], tests=["spacing"], test_params={"spacing": FAST})
    assert len(res.profiles) == 14 and res.profiles["called"].any()  # loss mode by default, and it still runs
    with pytest.raises(MotifprobeError, match="loss mode needs labels"):
        interpret(GapModel(5, 10), unlabeled, [A, B], tests=["spacing", "presence"], test_params={"spacing": FAST})


def test_profiles_need_no_sites_only_a_matrix(ds):
    bare = ds.subset(np.arange(80))
    bare.sites = bare.sites.iloc[0:0]
    res = interpret(GapModel(5, 10), bare, [A, B], tests=["spacing"], mode="prediction", test_params={"spacing": FAST})
    assert res.profiles["called"].any()
    with pytest.raises(MotifprobeError, match="motif 'NOT_A_MOTIF': no matrix to insert"):
        interpret(GapModel(5, 10), bare, [A, "NOT_A_MOTIF"], tests=["spacing"], mode="prediction",
                  test_params={"spacing": FAST})
