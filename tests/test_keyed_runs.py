"""Reproducible runs: keyed streams, plan -> run -> summarize, and checked plugin boundaries."""
from __future__ import annotations

import concurrent.futures
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifprobe import PerturbationTest, api, hookimpl
from motifprobe.cli import main
from motifprobe.engine.errors import ModelFault, MotifprobeError
from motifprobe.engine.interpret import interpret, read_deltas, summarize_file, write_deltas
from motifprobe.engine.interpret import run as run_module
from motifprobe.engine.registry import Registry
from motifprobe.engine.streams import RowStreams, context_key, id_hashes, row_keys
from toy_models import KmerLinearModel, LogicModel

A, B, D = "STAT_known2", "CTCF_known1", "GATA_known1"
TESTS = ["presence", "order", "distance", "interaction", "control"]


def per_sequence(result) -> pd.DataFrame:
    cols = ["delta", "control_delta", "flip_rate", "control_flip_rate"]
    arms = [c for c in result.deltas.columns if c.startswith("arm_")]
    return result.deltas.set_index(["test", "motifs", "id"])[cols + arms].sort_index()


@pytest.fixture(scope="module")
def full(order_ds):
    model = LogicModel([A, B], op="and")
    return model, interpret(model, order_ds, [A, B, D], tests=TESTS, num_perturbs=3, seed=11)


def test_a_subset_of_ids_gets_the_same_per_sequence_deltas(order_ds, full):
    model, whole = full
    half = list(order_ds.ids[1::2])
    part = interpret(model, order_ds, [A, B, D], tests=TESTS, num_perturbs=3, seed=11, ids=half)
    a, b = per_sequence(whole), per_sequence(part)
    assert len(b) > 1000
    pd.testing.assert_frame_equal(a.loc[b.index], b)


def test_chunk_size_and_row_order_do_not_change_deltas(order_ds, full, monkeypatch):
    model, whole = full
    monkeypatch.setattr(run_module, "CHUNK_SEQS", 37)
    rng = np.random.default_rng(0)
    shuffled = order_ds.subset(rng.permutation(len(order_ds)))
    again = interpret(model, shuffled, [A, B, D], tests=TESTS, num_perturbs=3, seed=11)
    pd.testing.assert_frame_equal(per_sequence(whole), per_sequence(again))


def test_another_seed_gives_other_perturbations(order_ds):
    model = KmerLinearModel([A, B])  # every replaced base moves its k-mer counts
    one = interpret(model, order_ds, [A, B], tests=["presence"], num_perturbs=3, seed=11)
    other = interpret(model, order_ds, [A, B], tests=["presence"], num_perturbs=3, seed=12)
    a = per_sequence(one).loc["presence"]
    b = per_sequence(other).loc["presence"]
    shared = a.index.intersection(b.index)
    assert (a.loc[shared, "delta"] != b.loc[shared, "delta"]).mean() > 0.5


def _half_in_a_process(args):
    import warnings

    warnings.filterwarnings("ignore")
    from conftest import make
    from toy_models import LogicModel as Model

    ids, seed = args
    ds = make("order")
    res = interpret(Model([A, B], op="and"), ds, [A, B], tests=["presence", "distance"], num_perturbs=2,
                    seed=seed, ids=ids)
    return res.deltas


def test_two_processes_on_two_halves_equal_the_whole_run(order_ds):
    model = LogicModel([A, B], op="and")
    whole = interpret(model, order_ds, [A, B], tests=["presence", "distance"], num_perturbs=2, seed=4)
    halves = [list(order_ds.ids[:1000]), list(order_ds.ids[1000:])]
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(_half_in_a_process, [(h, 4) for h in halves]))
    joined = pd.concat(parts, ignore_index=True)

    def keyed(frame):
        return frame.set_index(["test", "motifs", "id"])[["delta", "control_delta"]].sort_index()

    pd.testing.assert_frame_equal(keyed(whole.deltas), keyed(joined))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=40, unique=True), st.integers(0, 2**32 - 1),
       st.data())
def test_keyed_draws_of_a_row_never_depend_on_the_other_rows(ids, seed, data):
    keys = row_keys(context_key(seed, "t"), ids)
    whole = RowStreams(keys)
    first = whole.random((len(ids), 3, 5))
    second = whole.integers(0, 7, (len(ids), 4))
    pick = data.draw(st.lists(st.integers(0, len(ids) - 1), min_size=1, unique=True))
    part = RowStreams(row_keys(context_key(seed, "t"), [ids[i] for i in pick]))
    assert np.array_equal(part.random((len(pick), 3, 5)), first[pick])
    assert np.array_equal(part.integers(0, 7, (len(pick), 4)), second[pick])
    mask = data.draw(st.lists(st.booleans(), min_size=len(ids) * 6, max_size=len(ids) * 6))
    mask = np.array(mask).reshape(len(ids), 6)
    dense, sparse = RowStreams(keys), RowStreams(keys)
    assert np.array_equal(sparse.random_masked(mask), dense.random((len(ids), 6))[mask])


def test_keyed_uniforms_look_uniform_and_ids_hash_apart():
    keys = row_keys(context_key(0, "x"), [f"seq{i}" for i in range(2000)])
    u = RowStreams(keys).random((2000, 50))
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.all(np.abs(counts / u.size - 0.1) < 0.005)
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.1
    assert len(set(id_hashes([f"seq{i}" for i in range(5000)]))) == 5000
    assert id_hashes(["a"])[0] != id_hashes(["a "])[0] and id_hashes(["é"])[0] != id_hashes(["e"])[0]


def test_rows_view_advances_only_its_rows():
    streams = RowStreams(row_keys(1, ["a", "b", "c"]))
    fresh = RowStreams(row_keys(1, ["a", "b", "c"]))
    streams.rows(np.array([1])).random((1, 4))
    after = streams.random((3, 2))
    reference = fresh.random((3, 6))
    assert np.array_equal(after[[0, 2]], reference[[0, 2], :2]) and np.array_equal(after[1], reference[1, 4:6])


def test_keyed_draws_need_the_rows_as_leading_axis():
    with pytest.raises(ValueError, match="leading axis"):
        RowStreams(row_keys(1, ["a", "b"])).random((5,))


# -- summarize ---------------------------------------------------------------------------------
def test_summarize_rebuilds_the_results_bit_for_bit(full, tmp_path):
    _, whole = full
    path = write_deltas(whole.deltas, whole.metadata, tmp_path / "d.parquet")
    rebuilt = summarize_file(path)
    pd.testing.assert_frame_equal(whole.table.reset_index(drop=True), rebuilt.reset_index(drop=True))


def test_summarize_can_rethreshold_without_the_model(full, tmp_path):
    from motifprobe.engine.stats import Thresholds

    _, whole = full
    path = write_deltas(whole.deltas, whole.metadata, tmp_path / "d.parquet")
    strict = summarize_file(path, Thresholds(min_effect=100.0))
    assert (strict["verdict"] != "effect").all() and (whole.table["verdict"] == "effect").any()


@pytest.fixture(scope="module")
def sklearn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    data = root / "d.parquet"
    api.generate("fast", num_seqs=600, gen_type="presence", motifs=[A, D], pos_motifs=[A], seed=3, out=data)
    api.train(api.load_dataset(data), "sklearn", seed=0, out_dir=root / "runs")
    return root, data


def test_cli_interpret_writes_deltas_by_default_and_summarize_reproduces_the_csv(sklearn_run, tmp_path, capsys):
    root, data = sklearn_run
    out = tmp_path / "res.csv"
    assert main(["interpret", "--run", str(root / "runs" / "kmer-logreg"), "--data-file", str(data), "--out", str(out),
                 "--num-perturbs", "2", "--tests", "presence", "control"]) == 0
    deltas = tmp_path / "res.deltas.parquet"
    frame, meta = read_deltas(deltas)
    assert meta["seed"] == 0 and {u["test"] for u in meta["units"]} == {"presence", "control"}
    assert {"id", "label", "delta", "control_delta", "arm_perturbed"} <= set(frame.columns)
    again = tmp_path / "again.csv"
    assert main(["summarize", str(deltas), "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "res.json").read_bytes()


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable Parquet file"),
    ("version", "format version 99"),
    ("plain", "no motifprobe deltas metadata"),
])
def test_bad_deltas_files_are_one_line(full, tmp_path, capsys, damage, fragment):
    _, whole = full
    path = tmp_path / "d.parquet"
    if damage == "version":
        write_deltas(whole.deltas, {**whole.metadata, "format_version": 99}, path)
    elif damage == "plain":
        whole.deltas.to_parquet(path)
    else:
        write_deltas(whole.deltas, whole.metadata, path)
        damage(path)
    out = tmp_path / "r.csv"
    assert main(["summarize", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and not out.exists()


# -- plugin boundaries -------------------------------------------------------------------------
class NaNModel:
    def predict_proba(self, codes):
        p = np.full((len(codes), 2), 0.5)
        p[0] = np.nan
        return p


class WrongShape:
    def predict_proba(self, codes):
        return np.full((len(codes) + 1, 2), 0.5)


class NotSummingToOne:
    def predict_proba(self, codes):
        return np.full((len(codes), 2), 0.7)


class Raises:
    def predict_proba(self, codes):
        raise RuntimeError("weights missing")


@pytest.mark.parametrize("model, fragment", [
    (NaNModel(), "NaN"), (WrongShape(), "shape"), (NotSummingToOne(), "do not sum to 1"),
    (Raises(), "raised RuntimeError: weights missing"),
])
def test_a_model_breaking_its_contract_is_one_line(presence_ds, model, fragment):
    with pytest.raises(ModelFault) as info:
        interpret(model, presence_ds, [A], tests=["presence"], num_perturbs=2, model_name="bad")
    assert fragment in str(info.value) and "model 'bad'" in str(info.value) and "\n" not in str(info.value)


class WrongDtype(PerturbationTest):
    feature = "presence"

    def perturb(self, batch, rng):
        return {"perturbed": np.repeat(batch.codes[:, None, :], batch.num_perturbs, axis=1).astype(np.int64)}


class Nothing(PerturbationTest):
    feature = "presence"

    def perturb(self, batch, rng):
        return {"perturbed": np.repeat(batch.codes[:, None, :], batch.num_perturbs, axis=1)}


class Crashes(PerturbationTest):
    feature = "presence"

    def perturb(self, batch, rng):
        raise KeyError("no such column")


class BrokenTests:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("wrong-dtype", WrongDtype)
        register("nothing", Nothing)
        register("crashes", Crashes)


def test_broken_tests_become_error_rows_and_the_rest_completes(presence_ds):
    registry = Registry(extra_plugins={"broken": BrokenTests}, entry_points=False)
    res = interpret(LogicModel([A]), presence_ds, [A], tests=["presence", "wrong-dtype", "nothing", "crashes"],
                    num_perturbs=2, registry=registry)
    table = res.table.set_index("test")
    assert table.loc["presence", "verdict"] == "effect" and res.failed
    assert "uint8 of shape" in table.loc["wrong-dtype", "note"] and "int64" in table.loc["wrong-dtype", "note"]
    assert "perturbed nothing" in table.loc["nothing", "note"]
    assert "raised KeyError" in table.loc["crashes", "note"] and "plugin broken" in table.loc["crashes", "note"]
    assert set(table.loc[["wrong-dtype", "nothing", "crashes"], "verdict"]) == {"error"}
    units = {u["test"]: u["status"] for u in res.metadata["units"]}
    assert units == {"presence": "ok", "wrong-dtype": "error", "nothing": "error", "crashes": "error"}


def test_cli_exits_3_with_results_when_a_test_fails(sklearn_run, tmp_path, capsys, monkeypatch):
    from motifprobe.engine import registry as registry_module

    monkeypatch.setattr(registry_module, "_registry", Registry(extra_plugins={"broken": BrokenTests}))
    root, data = sklearn_run
    out = tmp_path / "res.csv"
    code = main(["interpret", "--run", str(root / "runs" / "kmer-logreg"), "--data-file", str(data), "--out", str(out),
                 "--num-perturbs", "2", "--tests", "presence", "crashes"])
    err = capsys.readouterr().err.strip()
    assert code == 3 and "2 of 4 result rows failed" in err and "\n" not in err
    rows = pd.read_csv(out).set_index("test")
    assert (rows.loc["crashes", "verdict"] == "error").all()
    assert rows.loc["presence", "verdict"].isin(["effect", "none"]).all()


def test_cli_nan_model_is_one_line_and_writes_nothing(sklearn_run, tmp_path, capsys, monkeypatch):
    from motifprobe.plugins.models import sklearn_kmer

    root, data = sklearn_run
    monkeypatch.setattr(sklearn_kmer.SklearnKmer, "predict_proba",
                        lambda self, codes: np.full((len(codes), 2), np.nan, dtype=np.float32))
    out = tmp_path / "res.csv"
    code = main(["interpret", "--run", str(root / "runs" / "kmer-logreg"), "--data-file", str(data), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "NaN" in err and "model 'kmer-logreg'" in err
    assert not list(tmp_path.iterdir())


class _NaNPlugin:
    params: dict = {}

    def __init__(self, **params):
        self.params = params

    def fit(self, codes, labels, *, val=None, seed=None, progress=None):
        return self

    def predict_proba(self, codes):
        return np.full((len(codes), 2), np.nan)

    def save(self, directory):
        (directory / "w.json").write_text("{}")

    @classmethod
    def load(cls, directory):
        return cls()


class _GoodPlugin(_NaNPlugin):
    def predict_proba(self, codes):
        return LogicModel([A]).predict_proba(codes)


class ToyModels:
    @staticmethod
    @hookimpl
    def register_models(register):
        register("nan-model", _NaNPlugin)
        register("good-model", _GoodPlugin)


def test_compare_marks_a_failing_models_rows_and_keeps_the_others(presence_ds, tmp_path):
    from motifprobe.engine.compare import compare

    registry = Registry(extra_plugins={"toys": ToyModels}, entry_points=False)
    out = tmp_path / "cmp"
    result = compare(presence_ds, ["good-model", "nan-model"], motifs=[A, D], tests=["presence", "control"],
                     num_perturbs=2, registry=registry, out_dir=out, figures=False)
    by_model = result.results.groupby("model")["verdict"].apply(set).to_dict()
    assert by_model["nan-model"] == {"error"} and "error" not in by_model["good-model"]
    assert "non-finite" in result.failed["nan-model"]
    summary = result.summary.set_index("model")
    assert summary.loc["nan-model", "learned_rule"] == "error"
    rebuilt = summarize_file(out / "deltas.parquet")
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), result.results.reset_index(drop=True))
    assert json.loads((out / "compare.json").read_text())["results"]
