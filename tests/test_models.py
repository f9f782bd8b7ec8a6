"""Model plugins (torch-cnn, sklearn, xgboost-kmer) on a small synthetic motif task.

Label 1 iff the 8-bp motif TGACGTCA was written at a random position into uniform random
background; every model should find that easily. Fitted models are shared per module to keep
the file fast.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from motifprobe.engine import kmers
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.kmers import chunk_rows, kmer_counts
from motifprobe.plugins.models.sklearn_kmer import SklearnKmer, kmer_features
from motifprobe.plugins.models.torch_cnn import TorchCNN, epoch_indices
from motifprobe.plugins.models.xgboost_kmer import XGBoostKmer, balanced_weights

MOTIF = np.array([3, 2, 0, 1, 2, 3, 1, 0], dtype=np.uint8)  # TGACGTCA
LENGTH = 60

PLUGINS = {
    "torch-cnn": (TorchCNN, {"epochs": 15}, "model.safetensors"),
    "sklearn": (SklearnKmer, {}, "model.safetensors"),
    "xgboost-kmer": (XGBoostKmer, {"n_estimators": 100}, "model.ubj"),
}
SMALL = {"torch-cnn": {"epochs": 2}, "sklearn": {}, "xgboost-kmer": {"n_estimators": 20}}


def rehash(directory) -> None:
    """Re-record the sha256 of every weights file a saved model's config lists (as an attacker would)."""
    config = json.loads((directory / "config.json").read_text())
    config["sha256"] = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in config["sha256"]}
    (directory / "config.json").write_text(json.dumps(config))


def make_data(n: int, rng: np.random.Generator, length: int = LENGTH) -> tuple[np.ndarray, np.ndarray]:
    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    labels = rng.integers(0, 2, size=n).astype(np.int64)
    starts = rng.integers(0, length - len(MOTIF) + 1, size=n)
    pos = np.flatnonzero(labels == 1)
    cols = starts[pos, None] + np.arange(len(MOTIF))
    codes[pos[:, None], cols] = MOTIF
    return codes, labels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    train = make_data(1500, rng)
    test = make_data(400, rng)
    return train, test


@pytest.fixture(scope="module", params=list(PLUGINS))
def fitted(request, data):
    cls, params, weights = PLUGINS[request.param]
    (x, y), (xt, yt) = data
    model = cls(**params).fit(x, y, val=(xt[:200], yt[:200]), seed=0)
    return request.param, model, weights


def test_accuracy(fitted, data):
    name, model, _ = fitted
    _, (xt, yt) = data
    accuracy = float(np.mean(model.predict_proba(xt).argmax(axis=1) == yt))
    assert accuracy >= 0.9, f"{name}: accuracy {accuracy:.3f}"


def test_probabilities(fitted, data):
    _, model, _ = fitted
    _, (xt, _) = data
    probs = model.predict_proba(xt)
    assert probs.dtype == np.float32 and probs.shape == (len(xt), 2)
    assert probs.min() >= 0 and probs.max() <= 1
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    empty = model.predict_proba(np.zeros((0, LENGTH), dtype=np.uint8))
    assert empty.shape == (0, 2) and empty.dtype == np.float32


def test_batching_invariance(fitted, data, monkeypatch):
    name, model, _ = fitted
    _, (xt, _) = data
    whole = model.predict_proba(xt)
    halves = np.concatenate([model.predict_proba(xt[:157]), model.predict_proba(xt[157:])])
    np.testing.assert_allclose(whole, halves, atol=1e-6)
    # The chunk size comes from the plugin's own setting...
    if name == "torch-cnn":
        assert model.predict_chunk == model.params["predict_batch_size"] == 128
    else:
        assert model.predict_chunk == chunk_rows(model.params["k"])
    # ...and the base really calls the plugin chunk by chunk, each chunk its own rows.
    seen = []
    inner = type(model)._predict_proba
    monkeypatch.setattr(type(model), "predict_chunk", 7)
    monkeypatch.setattr(type(model), "_predict_proba", lambda self, x: seen.append(x.copy()) or inner(self, x))
    monkeypatch.setattr(type(model), "predict_streams", 1, raising=False)
    np.testing.assert_allclose(model.predict_proba(xt), whole, atol=1e-6)
    assert [len(x) for x in seen] == [7] * (len(xt) // 7) + [len(xt) % 7]
    assert np.array_equal(np.concatenate(seen), xt)
    # Several streams (threads) at once: the same chunks, each scored once, the same outputs.
    serial, seen[:] = list(seen), []
    monkeypatch.setattr(type(model), "predict_streams", 3, raising=False)
    np.testing.assert_array_equal(model.predict_proba(xt), model.predict_proba(xt))
    np.testing.assert_allclose(model.predict_proba(xt), whole, atol=1e-6)
    assert sorted(x.tobytes() for x in seen[:len(serial)]) == sorted(x.tobytes() for x in serial)


def test_save_load_roundtrip(fitted, data, tmp_path):
    name, model, weights = fitted
    _, (xt, _) = data
    model.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {weights, "config.json"}
    loaded = type(model).load(tmp_path)
    before, after = model.predict_proba(xt), loaded.predict_proba(xt)
    assert np.array_equal(before, after)  # bit for bit, as the README promises
    assert loaded.params == model.params


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
@pytest.mark.parametrize("checksum", [True, False])
def test_damaged_model_file(fitted, tmp_path, damage, checksum):
    _, model, weights = fitted
    model.save(tmp_path)
    path = tmp_path / weights
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a model\xff" * 7)
    else:
        path.unlink()
    if not checksum and path.exists():  # exercise the format's own parser: a config hash that matches
        rehash(tmp_path)
    with pytest.raises(MotifprobeError, match=weights) as err:
        type(model).load(tmp_path)
    assert "\n" not in str(err.value)
    if damage != "missing":
        assert ("checksum mismatch" in str(err.value)) == checksum


def test_config_without_sha256_is_refused(fitted, tmp_path):
    _, model, weights = fitted
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["sha256"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(MotifprobeError, match="lacks a valid sha256"):
        type(model).load(tmp_path)


def test_saved_files_are_byte_reproducible(fitted, data, tmp_path):
    """Same seed, same data, same threads: the same bytes, for every file of every model."""
    name, _, _ = fitted
    cls = PLUGINS[name][0]
    (x, y), (xt, yt) = data
    for out in ("a", "b"):
        cls(**SMALL[name]).fit(x[:300], y[:300], val=(xt[:100], yt[:100]), seed=3).save(tmp_path / out)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files and files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_damaged_config(fitted, tmp_path):
    _, model, _ = fitted
    model.save(tmp_path)
    (tmp_path / "config.json").write_text('{"params": ')
    with pytest.raises(MotifprobeError, match="config.json"):
        type(model).load(tmp_path)


@pytest.mark.parametrize("name", list(PLUGINS))
def test_same_seed_same_predictions(name, data):
    cls, _, _ = PLUGINS[name]
    (x, y), (xt, yt) = data
    x, y = x[:400], y[:400]
    runs = [cls(**SMALL[name]).fit(x, y, val=(xt[:100], yt[:100]), seed=7).predict_proba(xt) for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize("cls", [TorchCNN, SklearnKmer, XGBoostKmer])
def test_unknown_param(cls):
    with pytest.raises(MotifprobeError, match="unknown parameter"):
        cls(bogus=1)


def test_params_from_strings_are_coerced():
    model = TorchCNN(epochs="3", lr="0.01", balance="true")
    assert model.params["epochs"] == 3 and model.params["lr"] == 0.01 and model.params["balance"] is True
    assert all(p.help for p in TorchCNN.parameters), "every declared parameter has one line of help"


def test_torch_monitor_validated():
    with pytest.raises(MotifprobeError, match="monitor"):
        TorchCNN(monitor="f1")


def test_torch_progress_and_early_stopping(data):
    (x, y), (xt, yt) = data
    calls = []
    model = TorchCNN(epochs=4, early_stop=1, monitor="loss", balance=True).fit(
        x[:300], y[:300], val=(xt[:100], yt[:100]), seed=1, progress=lambda **kw: calls.append(kw))
    assert len(calls) == model.n_epochs_ == len(model.history_) <= 4
    assert 1 <= model.best_epoch_ <= model.n_epochs_
    assert calls[0]["epoch"] == 1 and calls[0]["total"] == 4
    assert {"train_loss", "val_accuracy", "val_auroc"} <= set(calls[0])


def test_torch_early_stopping_stops_after_patience_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(300, 40)).astype(np.uint8)
    y = rng.integers(0, 2, 300)  # noise: validation loss soon gets worse
    xv, yv = rng.integers(0, 4, size=(100, 40)).astype(np.uint8), rng.integers(0, 2, 100)
    model = TorchCNN(epochs=40, early_stop=2, min_epochs=6, monitor="loss", lr=0.01).fit(x, y, val=(xv, yv), seed=1)
    losses = [h["val_loss"] for h in model.history_]
    best = int(np.argmin(losses)) + 1
    assert model.n_epochs_ < 40 and model.best_epoch_ == best
    assert model.n_epochs_ == max(best + 2, 6)  # patience after the best epoch, never before min_epochs
    assert model._evaluate(xv, yv)["val_loss"] == pytest.approx(losses[best - 1], abs=1e-5)  # best weights back


def test_epoch_indices():
    rng = np.random.default_rng(0)
    labels = (rng.random(10_000) < 0.1).astype(np.int64)
    balanced = epoch_indices(labels, True, rng)
    assert len(balanced) == len(labels)
    assert 0.4 <= labels[balanced].mean() <= 0.6
    plain = epoch_indices(labels, False, rng)
    assert np.array_equal(np.sort(plain), np.arange(len(labels)))


def test_balanced_weights():
    labels = np.array([0] * 90 + [1] * 10)
    w = balanced_weights(labels)
    assert w[labels == 0].sum() == pytest.approx(w[labels == 1].sum())


def test_sklearn_estimators(data):
    (x, y), (xt, yt) = data
    model = SklearnKmer(estimator="random_forest", n_estimators=50, balance=True).fit(x, y, seed=0)
    assert np.mean(model.predict_proba(xt).argmax(axis=1) == yt) >= 0.9
    nb = SklearnKmer(estimator="naive_bayes", balance=True).fit(x, y, seed=0)
    assert nb.predict_proba(xt).shape == (len(xt), 2)
    with pytest.raises(MotifprobeError, match="logistic_regression"):
        SklearnKmer(estimator="bogus")


def test_logistic_regression_scale_on_long_sequences():
    # Plain k-mer frequencies (~4**-k) with the default C=1 collapse to the majority class at
    # length 200; relative frequencies (x 4**k) keep the default penalty sensible.
    rng = np.random.default_rng(5)
    (x, y), (xt, yt) = make_data(1500, rng, 200), make_data(400, rng, 200)
    model = SklearnKmer().fit(x, y, seed=0)
    assert np.mean(model.predict_proba(xt).argmax(axis=1) == yt) >= 0.75


@pytest.mark.parametrize("estimator", ["logistic_regression", "random_forest", "gradient_boosting", "naive_bayes"])
def test_sklearn_arrays_predict_like_sklearn_and_round_trip(estimator, data, tmp_path):
    """The saved arrays reproduce scikit-learn's own predict_proba; save -> load is bit-identical."""
    from threadpoolctl import threadpool_limits

    (x, y), (xt, _) = data
    x, y = x[:400], y[:400] + (x[:400, 0] == 0)  # three classes: the multi-class code paths too
    model = SklearnKmer(estimator=estimator, k=3, n_estimators=20).fit(x, y, seed=0)
    with threadpool_limits(1):  # as in fit: OpenMP spinning on a busy machine is slow
        reference = model._make_estimator(0).fit(model._features(x), y)
        expected = reference.predict_proba(model._features(xt))
    ours = model.predict_proba(xt)
    assert ours.shape == (len(xt), 3)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    model.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.safetensors", "config.json"}
    assert np.array_equal(SklearnKmer.load(tmp_path).predict_proba(xt), ours)


def _rewrite_arrays(directory, change):
    """Apply ``change`` to a saved sklearn model's arrays and re-record the hash (as an attacker would)."""
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(directory / "model.safetensors"))
    change(arrays)
    save_file(arrays, str(directory / "model.safetensors"))
    rehash(directory)


@pytest.mark.parametrize("estimator, change, fragment", [
    ("random_forest", lambda a: a["left"].__setitem__(0, 10**9), "child index"),
    ("random_forest", lambda a: a["left"].__setitem__(1, 0) if a["left"][1] >= 0 else a["right"].__setitem__(0, 0),
     "child index"),  # a loop back to the root: would never end
    ("random_forest", lambda a: a["feature"].__setitem__(0, 4**3), "feature index"),
    ("gradient_boosting", lambda a: a.__setitem__("value", a["value"].astype(np.float32)), "dtype"),
    ("logistic_regression", lambda a: a["coef"].__setitem__((0, 0), np.nan), "non-finite"),
    ("naive_bayes", lambda a: a.pop("class_log_prior"), "expected arrays"),
])
def test_sklearn_tampered_arrays_are_refused(estimator, change, fragment, data, tmp_path):
    (x, y), _ = data
    SklearnKmer(estimator=estimator, k=3, n_estimators=3).fit(x[:200], y[:200], seed=0).save(tmp_path)
    _rewrite_arrays(tmp_path, change)
    with pytest.raises(MotifprobeError, match=fragment) as err:
        SklearnKmer.load(tmp_path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("cls, params, allowed", [
    (SklearnKmer, {"C": 0}, "a finite number > 0"),
    (SklearnKmer, {"C": -1.5}, "a finite number > 0"),
    (SklearnKmer, {"C": float("nan")}, "a finite number"),
    (SklearnKmer, {"num_threads": -1}, "an integer >= 0"),
    (SklearnKmer, {"max_iter": 0}, "an integer >= 1"),
    (XGBoostKmer, {"num_threads": -1}, "an integer >= 0"),
    (XGBoostKmer, {"lr": float("inf")}, "a finite number"),
    (XGBoostKmer, {"early_stop": -1}, "an integer >= 0"),
    (TorchCNN, {"lr": float("inf")}, "a finite number"),
    (TorchCNN, {"lr": float("nan")}, "a finite number"),
    (TorchCNN, {"lr": 0}, "a finite number > 0"),
    (TorchCNN, {"num_threads": -1}, "an integer >= 0"),
    (TorchCNN, {"early_stop": -2}, "an integer >= 0"),
    (TorchCNN, {"epochs": 2.5}, "an integer"),
    (TorchCNN, {"norm": "group", "n_filters": 6}, "a multiple of 4 with norm=group"),
])
def test_bad_parameters_are_one_line_errors(cls, params, allowed):
    """One line naming the plugin, the parameter, the bad value and what is allowed."""
    with pytest.raises(MotifprobeError) as err:
        cls(**params)
    key, value = list(params.items())[-1]
    shown = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    message = str(err.value)
    assert f"model plugin {cls.name!r}: parameter {key}={shown} is not allowed; allowed: {allowed}" in message
    assert "\n" not in message and "np.float64" not in message


def test_torch_kernel_longer_than_the_sequence_is_refused(data):
    (x, y), _ = data
    with pytest.raises(MotifprobeError, match="kernel_size=15 is not allowed; allowed: at most the sequence length, 12"):
        TorchCNN(epochs=1, pool2=0).fit(x[:50, :12], y[:50], seed=0)


def test_early_stop_zero_means_off(data):
    (x, y), (xt, yt) = data
    model = TorchCNN(epochs=3, early_stop=0, min_epochs=1, n_filters=4, hidden=0).fit(
        x[:100], y[:100], val=(xt[:50], yt[:50]), seed=0)
    assert model.n_epochs_ == 3
    assert XGBoostKmer(n_estimators=5, early_stop=0).fit(x[:100], y[:100], val=(xt[:50], yt[:50]), seed=0).n_epochs_ == 5


def test_torch_weights_do_not_depend_on_the_callers_thread_count(data, tmp_path):
    """num_threads (default 2) fixes the threads of fit, whatever torch was set to before."""
    import torch

    (x, y), _ = data
    before = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            model = TorchCNN(epochs=1, n_filters=8, hidden=8).fit(x[:200], y[:200], seed=0)
            assert model.threads_ == 2 and torch.get_num_threads() == n
            model.save(tmp_path / str(n))
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "1" / "model.safetensors").read_bytes() == (tmp_path / "3" / "model.safetensors").read_bytes()


def test_kmer_features_match_direct_counts(data, monkeypatch):
    (x, _), _ = data
    monkeypatch.setattr(kmers, "CHUNK", 13)  # many feature chunks, the last one short
    assert chunk_rows(3) == 13
    counts = kmer_features(x[:100], 3)
    assert counts.shape == (100, 64) and np.all(counts.sum(axis=1) == LENGTH - 2)
    np.testing.assert_array_equal(counts, kmer_counts(x[:100], 3))  # every chunk from its own rows
    freqs = kmer_features(x[:100], 3, frequencies=True)
    np.testing.assert_allclose(freqs.sum(axis=1), 4**3, rtol=1e-5)  # relative frequencies: mean 1
    with pytest.raises(MotifprobeError):
        kmer_features(x[:5], 0)


def test_registration():
    from motifprobe.plugins.models import sklearn_kmer, torch_cnn, xgboost_kmer

    seen = {}
    for module in (torch_cnn, sklearn_kmer, xgboost_kmer):
        module.register_models(lambda name, factory, aliases=(): seen.update({name: (factory, aliases)}))
    assert seen == {"torch-cnn": (TorchCNN, ("cnn",)), "kmer-logreg": (SklearnKmer, ("sklearn", "sklearn-kmer")),
                    "xgboost-kmer": (XGBoostKmer, ("xgboost",))}


def test_plugin_modules_import_lazily():
    code = ("import sys; import motifprobe.plugins.models.torch_cnn, motifprobe.plugins.models.sklearn_kmer, motifprobe.plugins.models.xgboost_kmer; "
            "heavy = [m for m in ('torch', 'sklearn', 'xgboost', 'skops', 'safetensors') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_cnn_device_one_hot_matches_the_numpy_one_hot():
    """The GPU path's on-device one-hot (run here on the CPU) is the numpy one-hot, N as zeros."""
    import torch

    from motifprobe.engine.sequences import one_hot
    from motifprobe.plugins.models.torch_cnn import device_one_hot

    codes = np.random.default_rng(3).integers(0, 5, (17, 33)).astype(np.uint8)
    got = device_one_hot(torch.from_numpy(codes)).numpy()
    assert got.dtype == np.float32 and got.shape == (17, 4, 33)
    np.testing.assert_array_equal(got, one_hot(codes))
