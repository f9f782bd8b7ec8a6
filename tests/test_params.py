"""One parameter mechanism for every plugin kind; test parameters; presence fills; n-motif tests."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import MOTIFS
from motifprobe import Param, PerturbationTest, api, hookimpl
from motifprobe.cli import main
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.params import coerce, declared_params, parse_scoped_pairs, resolve
from motifprobe.engine.ops import dinuc_shuffle_windows, replace_masked, shuffle_windows
from motifprobe.engine.perturbation import TestBatch
from motifprobe.engine.registry import Registry
from motifprobe.engine.testing import check_perturbation_test
from motifprobe.plugins.tests.presence import PresenceTest
from toy_models import LogicModel

A, B, D = MOTIFS
DECLARED = (Param("k", int, 4, "k-mer length", low=1, high=10), Param("lr", float, 0.1, "rate", low=0, low_open=True),
            Param("mode", str, "a", "mode", choices=("a", "b")), Param("on", bool, False, "switch"),
            Param("names", list, [], "names"))


@pytest.mark.parametrize("given, expected", [
    ({}, {"k": 4, "lr": 0.1, "mode": "a", "on": False, "names": []}),
    ({"k": "7", "lr": "1e-3", "mode": "b", "on": "yes", "names": "x, y"},
     {"k": 7, "lr": 0.001, "mode": "b", "on": True, "names": ["x", "y"]}),
    ({"k": 3.0, "on": 1}, {"k": 3, "lr": 0.1, "mode": "a", "on": True, "names": []}),
])
def test_strings_from_the_command_line_are_coerced(given, expected):
    assert resolve(DECLARED, given, "model plugin 'm'") == expected


@pytest.mark.parametrize("given, fragment", [
    ({"k": "abc"}, "parameter k=abc is not allowed; allowed: an integer with 1 <= x <= 10"),
    ({"k": "11"}, "k=11 is not allowed"),
    ({"k": 2.5}, "k=2.5 is not allowed"),
    ({"lr": "0"}, "allowed: a finite number > 0"),
    ({"lr": "inf"}, "lr=inf is not allowed"),
    ({"lr": "nan"}, "lr=nan is not allowed"),
    ({"mode": "c"}, "allowed: one of a, b"),
    ({"on": "maybe"}, "allowed: true or false"),
    ({"depth": 3}, "unknown parameter(s) depth; valid: k, lr, mode, names, on"),
])
def test_bad_values_and_unknown_keys_are_one_line_naming_the_plugin(given, fragment):
    with pytest.raises(MotifprobeError) as info:
        resolve(DECLARED, given, "model plugin 'm'")
    message = str(info.value)
    assert message.startswith("model plugin 'm': ") and fragment in message and "\n" not in message


def test_numbers_in_errors_are_plain_not_numpy_reprs():
    with pytest.raises(MotifprobeError) as info:
        coerce(Param("x", float, 0.5, low=0, high=1), np.float64(3.5), "rule 'r'")
    assert "x=3.5" in str(info.value) and "np.float64" not in str(info.value)


def test_the_older_param_defaults_dict_is_read_as_typed_parameters():
    class Old:
        param_defaults = {"k": 4, "alpha": 1.0, "balance": False}
        param_help = {"k": "k-mer length"}

    params = {p.name: p for p in declared_params(Old)}
    assert (params["k"].type, params["alpha"].type, params["balance"].type) == (int, float, bool)
    assert params["k"].help == "k-mer length"
    assert resolve(declared_params(Old), {"k": "5"}, "x") == {"k": 5, "alpha": 1.0, "balance": False}


def test_scoped_pairs_parse_and_refuse_a_missing_scope():
    assert parse_scoped_pairs(["presence:fill=shuffle", "presence:x=1"], "--test-param") == {
        "presence": {"fill": "shuffle", "x": "1"}}
    with pytest.raises(MotifprobeError, match="expects NAME:KEY=VALUE"):
        parse_scoped_pairs(["fill=shuffle"], "--test-param")


def _batch(ds, motifs, k=4):
    rows = np.ones(len(ds), bool)
    for m in motifs:
        rows &= ds.site_bounds(m)[0] >= 0
    sub = ds.subset(np.flatnonzero(rows)[:300])
    return TestBatch(sub.codes, sub.labels, tuple(motifs), sub.sites, sub.background, k)


def _instance_bases(batch, arm):
    """Bases of every instance of the tested motif: before (B, w) and in each perturbation (B, K, w)."""
    sites = batch.instances(batch.motifs)
    width = int((sites["end"] - sites["start"]).iloc[0])
    cols = sites["start"].to_numpy()[:, None] + np.arange(width)[None, :]
    rows = sites["seq"].to_numpy()[:, None]
    before = batch.codes[rows, cols]
    after = np.stack([arm[:, k, :][rows, cols] for k in range(arm.shape[1])], axis=1)
    return before, after


@pytest.mark.parametrize("fill", ["shuffle", "dinuc-shuffle"])
def test_presence_shuffles_keep_each_instance_composition_and_change_nothing_else(fill, presence_ds):
    batch = _batch(presence_ds, [A])
    arm = PresenceTest(fill=fill).perturb(batch, np.random.default_rng(0))["perturbed"]
    before, after = _instance_bases(batch, arm)
    for k in range(arm.shape[1]):
        got = after[:, k, :]
        assert np.array_equal(np.sort(got, axis=1), np.sort(before, axis=1)), "composition changed"
        if fill == "dinuc-shuffle":
            pairs = lambda x: np.sort(x[:, :-1] * 4 + x[:, 1:], axis=1)  # noqa: E731
            assert np.array_equal(pairs(got), pairs(before)), "dinucleotide counts changed"
            assert np.array_equal(got[:, [0, -1]], before[:, [0, -1]])
    assert (after != before[:, None, :]).any(axis=2).mean() > 0.8, "the shuffle left most instances as they were"
    outside = ~batch.instance_mask(batch.motifs)
    for k in range(arm.shape[1]):
        assert np.array_equal(arm[:, k, :][outside], batch.codes[outside])


def test_presence_background_fill_draws_new_bases(presence_ds):
    batch = _batch(presence_ds, [A])
    arm = PresenceTest().perturb(batch, np.random.default_rng(0))["perturbed"]
    assert PresenceTest().params == {"fill": "background"}
    mask = batch.instance_mask(batch.motifs)
    assert (arm[:, 0, :][mask] != batch.codes[mask]).mean() > 0.5


def test_shuffle_primitives_preserve_what_they_promise():
    rng = np.random.default_rng(3)
    windows = rng.integers(0, 4, size=(500, 17)).astype(np.uint8)
    plain = shuffle_windows(windows, rng)
    assert np.array_equal(np.sort(plain, axis=1), np.sort(windows, axis=1)) and (plain != windows).any()
    di = dinuc_shuffle_windows(windows, rng)
    pairs = lambda x: np.sort(x[:, :-1] * 5 + x[:, 1:], axis=1)  # noqa: E731
    assert np.array_equal(pairs(di), pairs(windows)) and (di != windows).any(axis=1).mean() > 0.9


def test_dinuc_shuffle_is_uniform_over_the_valid_sequences():
    rng = np.random.default_rng(0)
    window = np.array([[0, 1, 0, 2, 0, 1, 2, 0]], dtype=np.uint8)
    draws = dinuc_shuffle_windows(np.repeat(window, 6000, axis=0), rng)
    _, counts = np.unique(draws, axis=0, return_counts=True)
    assert len(counts) == 6 and counts.min() > 850 and counts.max() < 1150


def test_test_params_reach_the_test_and_are_recorded(presence_ds):
    model = LogicModel([A])
    table = api.interpret(model, presence_ds, [A], tests=["presence"], num_perturbs=2, seed=0,
                          test_params={"presence": {"fill": "dinuc-shuffle"}}).table
    assert table.iloc[0]["test_params"] == '{"fill": "dinuc-shuffle"}' and table.iloc[0]["feature"] == "presence"
    assert table.iloc[0]["verdict"] == "effect"
    with pytest.raises(MotifprobeError, match="allowed: one of background, shuffle, dinuc-shuffle"):
        api.interpret(model, presence_ds, [A], tests=["presence"], test_params={"presence": {"fill": "zeros"}})
    with pytest.raises(MotifprobeError, match="not among the tests run"):
        api.interpret(model, presence_ds, [A], tests=["presence"], test_params={"order": {"x": "1"}})


class ReplaceAll(PerturbationTest):
    """Replace every instance of all n motifs with background."""

    n_motifs = 3
    feature = "presence"
    parameters = (Param("scale", float, 1.0, "unused", low=0),)

    def perturb(self, batch, rng):
        return {"perturbed": replace_masked(batch.codes, batch.instance_mask(batch.motifs), batch.num_perturbs,
                                            batch.background, rng)}


class ThreePlugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("replace-three", ReplaceAll)


def test_a_test_may_probe_three_motifs_at_once(presence_ds):
    registry = Registry(extra_plugins={"three": ThreePlugin}, entry_points=False)
    table = api.interpret(LogicModel([A]), presence_ds, [A, B, D], tests=["replace-three"], num_perturbs=2,
                          seed=0, registry=registry).table
    assert list(table["motifs"]) == [f"{A}+{B}+{D}"] and table.iloc[0]["count"] > 20
    check_perturbation_test(ReplaceAll)
    with pytest.raises(MotifprobeError, match="needs 3 motifs"):
        api.interpret(LogicModel([A]), presence_ds, [A, B], tests=["replace-three"], registry=registry)


def test_check_perturbation_test_fails_a_test_that_perturbs_nothing():
    class Nothing(PerturbationTest):
        feature = "presence"

        def perturb(self, batch, rng):
            return {"perturbed": np.repeat(batch.codes[:, None, :], batch.num_perturbs, axis=1)}

    with pytest.raises(AssertionError, match="perturbs"):
        check_perturbation_test(Nothing)


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--gen-type", "grammar"], "unknown rule plugin 'grammar'"),
    (["generate", "--gen-type", "distance", "--rule-param", "min_dist=-3"], "min_dist=-3 is not allowed"),
    (["generate", "--gen-type", "distance", "--rule-param", "max_dist=ten"], "max_dist=ten is not allowed"),
    (["generate", "--gen-type", "any", "--rule-param", "gap=2"], "unknown parameter(s) gap"),
    (["generate", "--rc-prob", "1.5"], "rc_prob must lie in [0, 1]"),
    (["generate", "--generator-plugin", "fast", "--param", "gc=0.4"], "generator plugin 'fast': unknown parameter(s) gc"),
])
def test_bad_generate_parameters_are_one_line_exit_2_nothing_written(tmp_path, capsys, args, fragment):
    out = tmp_path / "d.parquet"
    code = main(args + ["--num-seqs", "50", "--motifs", A, B, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and "\n" not in err and not out.exists()
    assert not list(tmp_path.iterdir())


def test_cli_generates_an_or_dataset_on_both_strands(tmp_path, capsys):
    out = tmp_path / "or.parquet"
    assert main(["generate", "--generator-plugin", "fast", "--rule", "or", "--rc-prob", "0.5", "--num-seqs", "300",
                 "--motifs", A, B, D, "--pos-motifs", A, B, "--out", str(out)]) == 0
    ds = api.load_dataset(out)
    assert ds.rule["name"] == "any" and set(ds.sites["strand"]) == {"+", "-"}


@pytest.mark.parametrize("extra, fragment", [
    (["--test-param", "presence:fill=zeros"], "perturbation test 'presence': parameter fill=zeros is not allowed"),
    (["--test-param", "presence:depth=1"], "unknown parameter(s) depth; valid: fill"),
    (["--test-param", "nosuch:fill=shuffle"], "unknown perturbation test plugin 'nosuch'"),
    (["--test-param", "fill=shuffle"], "expects NAME:KEY=VALUE"),
])
def test_bad_test_parameters_fail_before_any_work(tmp_path, capsys, extra, fragment):
    data = tmp_path / "d.parquet"
    assert main(["generate", "--generator-plugin", "fast", "--gen-type", "presence", "--num-seqs", "300",
                 "--motifs", A, B, "--pos-motifs", A, "--out", str(data)]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "cmp"
    code = main(["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--tests", "presence", "control",
                 "--out-dir", str(out_dir)] + extra)
    err = capsys.readouterr().err.strip()
    assert code == 2 and fragment in err and "\n" not in err and not out_dir.exists()
