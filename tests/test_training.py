"""train: split, balancing, run directory, loading, bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from motifprobe.cli import main
from motifprobe import api
from motifprobe.engine.dataset import write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.runs import load_run
from motifprobe.engine.training import resolve_balance, split_indices


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, order_ds):
    path = tmp_path_factory.mktemp("data") / "order.parquet"
    write_dataset(order_ds, path)
    return path


def test_split_is_stratified_disjoint_and_deterministic():
    labels = np.r_[np.zeros(800, int), np.ones(200, int)]
    tr, va, te = split_indices(labels, 0.1, seed=3)
    assert len(set(tr) | set(va) | set(te)) == 1000 and len(tr) + len(va) + len(te) == 1000
    assert len(te) == len(va) == 100 and labels[te].mean() == pytest.approx(0.2)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), split_indices(labels, 0.1, seed=3)))
    assert not np.array_equal(te, split_indices(labels, 0.1, seed=4)[2])


def test_split_holds_out_equal_stratified_test_and_validation_sets_per_seed():
    labels = np.r_[np.zeros(131, int), np.ones(69, int)]
    tr, va, te = split_indices(labels, 0.1, seed=7)
    assert len(te) == len(va) == 20  # 10% of 200 each, the validation set as large as the test set
    assert np.bincount(labels[te]).tolist() == np.bincount(labels[va]).tolist() == [13, 7]  # 65.5% / 34.5%
    assert np.array_equal(np.sort(np.r_[tr, va, te]), np.arange(200))
    assert all(np.array_equal(part, np.sort(part)) for part in (tr, va, te))  # predictions stay in dataset order
    # the split depends on the labels and the seed only: the same for every model of a compare
    again = split_indices(labels.copy(), 0.1, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))


def test_split_refuses_too_few_sequences_with_one_line():
    with pytest.raises(MotifprobeError, match=r"6 sequences \(label 0: 5, label 1: 1\) are too few to split with "
                                              r"test_sz 0.1 \(scikit-learn: The least populated class"):
        split_indices(np.r_[np.zeros(5, int), 1], 0.1, seed=0)
    with pytest.raises(MotifprobeError, match="test_sz must lie in"):
        split_indices(np.r_[np.zeros(5, int), np.ones(5, int)], 0.5, seed=0)


def test_metrics_match_hand_computed_values_and_nan_conventions():
    from motifprobe.engine.metrics import auprc, auroc, classification_metrics

    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
    # positive/negative pairs ordered right: (0.35 > 0.1), (0.8 > all 3), (0.4 > 0.1) + 2 ties at 0.4 count half
    assert auroc(labels, scores) == pytest.approx((1 + 3 + 1 + 2 * 0.5) / 9)
    # thresholds 0.8 (P 1/1, R 1/3), 0.4 (P 2/4, R 2/3), 0.35 (P 3/5, R 3/3): AP = 1/3 + 1/2 * 1/3 + 3/5 * 1/3
    assert auprc(labels, scores) == pytest.approx((1 + 0.5 + 0.6) / 3)
    assert np.isnan(auroc([1, 1], [0.2, 0.3])) and np.isnan(auroc([0, 1], [np.nan, 0.3]))
    assert np.isnan(auprc([0, 0], [0.2, 0.3])) and np.isnan(auprc([0, 1], [0.1, np.inf]))
    probs = np.c_[1 - scores, scores]
    m = classification_metrics(labels, probs, np.array([0, 0, 1]))
    assert m["accuracy"] == pytest.approx(4 / 6) and m["majority_baseline"] == 0.5 and m["beats_baseline"] is True
    assert m["auroc"] == auroc(labels, scores) and m["auprc"] == auprc(labels, scores)


def test_balance_auto_turns_on_below_40_percent():
    assert resolve_balance("auto", np.r_[np.zeros(70, int), np.ones(30, int)]) is True
    assert resolve_balance("auto", np.r_[np.zeros(55, int), np.ones(45, int)]) is False
    assert resolve_balance("False", np.zeros(3, int)) is False
    with pytest.raises(MotifprobeError, match="True, False or auto"):
        resolve_balance("maybe", np.zeros(3, int))


def test_train_writes_a_complete_run_and_loads_it_back(data_file, tmp_path):
    ds = api.load_dataset(data_file)
    run = api.train(ds, "sklearn", seed=1, out_dir=tmp_path, model_name="lr")
    files = {p.name for p in (tmp_path / "lr").iterdir()}
    assert {"manifest.json", "predictions.parquet", "model"} <= files
    manifest = json.loads((tmp_path / "lr" / "manifest.json").read_text())
    assert manifest["model_plugin"] == "kmer-logreg" and manifest["dataset"]["sha256"] == ds.sha256
    assert manifest["split"] == {"train": len(ds) - 2 * manifest["split"]["test"], "val": manifest["split"]["test"],
                                 "test": manifest["split"]["test"]}
    assert {"accuracy", "auroc", "auprc", "majority_baseline", "beats_baseline"} <= set(manifest["metrics"])
    preds = pd.read_parquet(tmp_path / "lr" / "predictions.parquet")
    assert list(preds.columns) == ["id", "label", "pred_label", "prob"] and len(preds) == manifest["split"]["test"]
    back = load_run(tmp_path / "lr", ds)
    assert np.allclose(back.model.predict_proba(ds.codes[:50]), run.model.predict_proba(ds.codes[:50]))


def test_existing_run_is_refused_unless_overwrite(data_file, tmp_path):
    ds = api.load_dataset(data_file)
    api.train(ds, "sklearn", seed=1, out_dir=tmp_path)
    with pytest.raises(MotifprobeError, match="--overwrite"):
        api.train(ds, "sklearn", seed=1, out_dir=tmp_path)
    api.train(ds, "sklearn", seed=2, out_dir=tmp_path, overwrite=True)


def test_dataset_hash_mismatch_is_refused(data_file, tmp_path, presence_ds):
    ds = api.load_dataset(data_file)
    api.train(ds, "sklearn", seed=1, out_dir=tmp_path)
    other = api.load_dataset(write_dataset(presence_ds, tmp_path / "other.parquet"))
    with pytest.raises(MotifprobeError, match="is not the one run"):
        load_run(tmp_path / "kmer-logreg", other)


def test_tampered_model_file_is_a_clear_error(data_file, tmp_path):
    ds = api.load_dataset(data_file)
    api.train(ds, "sklearn", seed=1, out_dir=tmp_path)
    for f in (tmp_path / "kmer-logreg" / "model").iterdir():
        f.write_bytes(f.read_bytes()[:20])
    with pytest.raises(MotifprobeError):
        load_run(tmp_path / "kmer-logreg", ds)


@pytest.mark.parametrize("args, fragment", [
    (["--test-sz", "0.5"], "test_sz must lie in (0, 0.5)"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--lr", "0"], "lr must be a finite number > 0"),
    (["--lr", "inf"], "lr must be a finite number > 0, got inf"),
    (["--lr", "nan"], "lr must be a finite number > 0, got nan"),
    (["--early-stop", "-1"], "early_stop (patience) must be at least 0 (0 = off)"),
    (["--param", "C=0"], "model plugin 'kmer-logreg': parameter C=0 is not allowed; allowed: a finite number > 0"),
    (["--param", "num_threads=-1"], "parameter num_threads=-1 is not allowed; allowed: an integer >= 0"),
    (["--dropout", "1.0"], "dropout must lie in [0, 1)"),
    (["--model-plugin", "nope"], "unknown model plugin 'nope'"),
    (["--param", "depth=3"], "model plugin 'kmer-logreg': unknown parameter(s) depth; valid: C, balance"),
    (["--param", "k=abc"], "parameter k=abc is not allowed; allowed: an integer"),
])
def test_bad_train_input(data_file, tmp_path, capsys, args, fragment):
    base = ["train", "--data-file", str(data_file), "--out-dir", str(tmp_path / "runs"), "--model-plugin", "sklearn"]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_one_class_dataset_is_refused(order_ds, tmp_path):
    only = order_ds.subset(np.flatnonzero(order_ds.labels == 0))
    with pytest.raises(MotifprobeError, match="only one class"):
        api.train(only, "sklearn", out_dir=None)


def test_missing_data_file_is_refused(tmp_path, capsys):
    assert main(["train", "--data-file", str(tmp_path / "none.parquet")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_seed_spelling_of_train_works(data_file, tmp_path, capsys):
    code = main(["train", "--data_file", str(data_file), "--test_sz", "0.1", "--sampler", "True", "--epochs", "2",
                 "--early_stop", "1", "--model_name", "seedstyle", "--lr", "0.005", "--dropout", "0.1",
                 "--out_dir", str(tmp_path)])
    assert code == 0
    manifest = json.loads((tmp_path / "seedstyle" / "manifest.json").read_text())
    assert manifest["model_plugin"] == "torch-cnn" and manifest["balance"] is True
    assert manifest["params"]["epochs"] == 2 and manifest["params"]["lr"] == 0.005
    assert "held-out test split" in capsys.readouterr().out


@pytest.mark.parametrize("plugin", ["torch-cnn", "sklearn", "xgboost-kmer"])
def test_every_builtin_model_learns_a_presence_rule(plugin, tmp_path):
    from conftest import make

    ds = make("presence", num_seqs=4000, seed=21)
    # Logistic regression on 4-mers tops out near 0.86 on PWM-sampled motifs; 6-mers reach ~0.94.
    params = {"torch-cnn": {"epochs": 8}, "sklearn": {"k": 6}}.get(plugin, {})
    run = api.train(ds, plugin, params=params, seed=0, out_dir=None)
    assert run.metrics["accuracy"] >= 0.9, run.metrics
    assert run.metrics["beats_baseline"]


def test_manifest_records_every_file_hash_and_the_threads(data_file, tmp_path):
    import hashlib

    ds = api.load_dataset(data_file)
    api.train(ds, "sklearn", seed=1, out_dir=tmp_path, model_name="lr")
    run_dir = tmp_path / "lr"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["threads"] == 1 and manifest["format_version"] == 2
    on_disk = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()
                     and p.name != "manifest.json")
    assert sorted(manifest["files"]) == on_disk == ["model/config.json", "model/model.safetensors", "predictions.parquet"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest


def test_early_stop_zero_is_accepted(order_ds):
    run = api.train(order_ds.subset(np.arange(300)), "xgboost-kmer", early_stop=0, params={"n_estimators": 4, "k": 2},
                    seed=0, out_dir=None)
    assert run.manifest["params"]["early_stop"] == 0 and run.metrics["n_epochs"] == 4


class _NanModel:
    """Trains, then predicts NaN: such a model must never be saved."""

    param_defaults: dict = {}

    def __init__(self, **params):
        self.params = params

    def fit(self, codes, labels, *, val=None, seed=None, progress=None):
        return self

    def predict_proba(self, codes):
        return np.full((len(codes), 2), np.nan, dtype=np.float32)

    def save(self, directory):
        (directory / "nan.json").write_text("{}")


def test_non_finite_predictions_are_not_saved(order_ds, tmp_path):
    from motifprobe import hookimpl
    from motifprobe.engine.registry import Registry

    class Plugin:
        @staticmethod
        @hookimpl
        def register_models(register):
            register("nan-model", _NanModel)

    registry = Registry(extra_plugins={"nan": Plugin()}, entry_points=False)
    with pytest.raises(MotifprobeError, match="non-finite predictions .* nothing was saved"):
        api.train(order_ds.subset(np.arange(300)), "nan-model", seed=0, out_dir=tmp_path / "runs", registry=registry)
    assert not (tmp_path / "runs" / "nan-model").exists()


# -- how training ended (issue #14 item 5) ---------------------------------------------------------
def test_early_stop_point_counts_patience_after_the_best_and_respects_min_epochs():
    from motifprobe.plugins.models.torch_cnn import early_stop_point

    auc = [0.5, 0.6, 0.6, 0.55, 0.58, 0.59, 0.57, 0.9]
    assert early_stop_point(auc, patience=3, min_epochs=1) == (5, 2, True)
    assert early_stop_point(auc, patience=3, min_epochs=7) == (7, 2, True)  # not before min_epochs
    assert early_stop_point(auc, patience=8, min_epochs=1) == (8, 8, False)  # patience 8 reaches the late rise
    assert early_stop_point(auc, patience=0, min_epochs=1) == (8, 8, False)  # 0 = off
    assert early_stop_point([0.7, 0.6, float("nan"), 0.65], patience=2, min_epochs=1, maximize=False) == (4, 2, True)


def test_readme_states_the_torch_cnn_defaults():
    import re
    from pathlib import Path

    from motifprobe.plugins.models.torch_cnn import TorchCNN

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = dict(re.findall(r"^\| `torch-cnn` \| `(\w+)` \| ([^|]+?) \|", text, flags=re.M))
    declared = {p.name: p.default for p in TorchCNN.parameters}
    assert set(table) == set(declared), set(table) ^ set(declared)
    for name, default in declared.items():
        assert table[name] == (repr(default) if isinstance(default, str) else str(default)), name
    for name in ("epochs", "early_stop", "min_epochs", "lr_schedule"):  # the prose on training says the same
        value = declared[name]
        assert re.search(rf"`{name}`={re.escape(str(value))}\b", text), f"README prose lacks `{name}`={value}"


def _noise(n: int, length: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4, size=(n, length)).astype(np.uint8), rng.integers(0, 2, n)


def _dataset(codes, labels):
    from motifprobe.engine.dataset import Dataset

    return Dataset(ids=np.array([f"s{i}" for i in range(len(codes))]), codes=codes, labels=labels)


TINY = {"n_filters": 4, "hidden": 4, "kernel_size": 5, "epochs": 12, "early_stop": 2, "min_epochs": 3, "lr": 0.01}


def test_manifest_says_why_training_ended_and_flags_a_plateau_at_the_baseline(tmp_path):
    codes, labels = _noise(600)  # random labels: nothing to learn, validation stays at the baseline
    ds = _dataset(codes, labels)
    api.train(ds, "torch-cnn", params=TINY, seed=0, out_dir=tmp_path, model_name="noise")
    manifest = json.loads((tmp_path / "noise" / "manifest.json").read_text())
    m = manifest["metrics"]
    assert m["stopped_early"] is True and m["n_epochs"] < 12
    assert manifest["stopped"].startswith(f"early stop at epoch {m['n_epochs']} (patience 2), best epoch "
                                          f"{m['best_epoch']}; a plateau near the majority baseline")
    assert m["plateau_near_baseline"] is True and m["best_val_accuracy"] <= m["val_baseline"] + 0.05
    assert load_run(tmp_path / "noise", ds).manifest["stopped"] == manifest["stopped"]  # a valid manifest


def test_a_model_that_learns_is_not_flagged_even_when_it_stops_early():
    codes, labels = _noise(600, seed=1)
    codes[labels == 1, 10:16] = [0, 1, 2, 3, 0, 1]  # ACGTAC planted in the positives: learnable in a few epochs
    # (one base at one position was too faint: whether the tiny CNN left the baseline depended on the split)
    run = api.train(_dataset(codes, labels), "torch-cnn", params={**TINY, "lr": 0.02, "epochs": 30}, seed=0,
                    out_dir=None)
    m = run.metrics
    assert m["stopped_early"] is True and run.manifest["stopped"].startswith("early stop at epoch")
    assert m["best_val_accuracy"] > m["val_baseline"] + 0.05 and m["plateau_near_baseline"] is False
    assert "plateau" not in run.manifest["stopped"]


def test_training_end_of_a_full_run_and_of_a_model_without_epochs():
    from types import SimpleNamespace

    from motifprobe.engine.training import training_end

    val, train = np.r_[np.zeros(6, int), np.ones(4, int)], np.r_[np.zeros(60, int), np.ones(40, int)]
    still = SimpleNamespace(n_epochs_=5, best_epoch_=5, stopped_early_=False,
                            history_=[{"val_accuracy": 0.6}, {"val_accuracy": 0.62}])
    stopped, facts = training_end(still, {"epochs": 5, "early_stop": 3}, val, train)
    assert stopped == "ran all 5 epochs, best epoch 5 (still improving at the last epoch: more epochs may help)"
    assert facts == {"stopped_early": False, "plateau_near_baseline": False, "best_val_accuracy": 0.62,
                     "val_baseline": 0.6}  # at the baseline, but it ran every epoch: not a plateau stop
    rounds = SimpleNamespace(n_epochs_=40, best_epoch_=20)  # e.g. xgboost: fewer rounds than allowed = early stop
    assert training_end(rounds, {"n_estimators": 300, "early_stop": 20}, val, train) == (
        "early stop at epoch 40 (patience 20), best epoch 20", {"stopped_early": True, "plateau_near_baseline": False})
    assert training_end(object(), {}, val, train) == (None, {})


def test_the_compare_statement_names_a_plateau_stop():
    from motifprobe.engine.scorecard import score

    results = pd.DataFrame({"model": ["cnn", "lr"], "test": ["presence", "presence"], "motifs": ["A", "A"],
                            "verdict": ["none", "none"], "direction": ["", ""]})
    metrics = {"cnn": {"accuracy": 0.51, "n_epochs": 9, "plateau_near_baseline": True, "best_val_accuracy": 0.52,
                       "val_baseline": 0.5},
               "lr": {"accuracy": 0.9, "n_epochs": 9, "plateau_near_baseline": False}}
    _, summary = score(results, None, metrics)
    said = dict(zip(summary["model"], summary["statement"]))
    assert "stopped early on a plateau near the majority baseline (epoch 9, best validation accuracy 0.520 vs 0.500)" \
        in said["cnn"]
    assert "plateau" not in said["lr"]
