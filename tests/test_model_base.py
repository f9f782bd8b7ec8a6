"""SequenceModel, the base of model plugins: input checks, chunking, the output contract, save/load.

A toy plugin (a logistic model on the G+C share, one JSON weights file) implements only the four
template methods; every check here is the base's.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from motifprobe import Param, SequenceModel
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.model_files import MODEL_FORMAT, MODEL_FORMAT_VERSION
from motifprobe.engine.models import CallableModel, as_probabilities
from motifprobe.engine.testing import check_model

LENGTH = 30
OWNER = "model plugin 'toy-gc'"


class ToyGC(SequenceModel):
    """P(class 1) = sigmoid(slope * (G+C share - 0.5) + bias); ``slope`` fitted by the sign of the class gap."""

    name = "toy-gc"
    parameters = (Param("bias", float, 0.0, "added to the logit"),)
    predict_chunk = 16
    output = None  # a test sets a function (codes -> raw output) to make the plugin misbehave

    def _gc(self, codes: np.ndarray) -> np.ndarray:
        return np.isin(codes, (1, 2)).mean(axis=1)

    def _fit(self, codes, labels, val, seed, progress):
        self.fit_args_ = (codes.dtype, labels.dtype, val is not None, seed)
        gc = self._gc(codes)
        top = labels == labels.max()
        self.slope_ = 20.0 if gc[top].mean() >= gc[~top].mean() else -20.0
        self.n_epochs_, self.best_epoch_, self.history_ = 2, 1, [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]

    def _predict_proba(self, codes):
        if self.output is not None:
            return self.output(codes)
        z = self.slope_ * (self._gc(codes) - 0.5) + self.params["bias"]
        return 1.0 / (1.0 + np.exp(-z))  # (n,) = P(class 1)

    def _save_weights(self, directory: Path) -> list[str]:
        (directory / "weights.json").write_text(json.dumps({"slope": self.slope_}))
        return ["weights.json"]

    def _load_weights(self, directory: Path, config: dict) -> None:
        self.slope_ = float(json.loads((directory / "weights.json").read_text())["slope"])


def toy_data(n: int = 200, seed: int = 0, length: int = LENGTH) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    gc_rich = rng.choice(4, size=(n, length), p=[0.1, 0.4, 0.4, 0.1])
    at_rich = rng.choice(4, size=(n, length), p=[0.4, 0.1, 0.1, 0.4])
    return np.where(labels[:, None] == 1, gc_rich, at_rich).astype(np.uint8), labels


@pytest.fixture
def fitted() -> ToyGC:
    codes, labels = toy_data()
    return ToyGC().fit(codes, labels, seed=0)


def one_line(excinfo, *fragments: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# -- the output contract --------------------------------------------------------------------------
@pytest.mark.parametrize("output, fragment", [
    (lambda x: np.full((len(x), 2), np.nan), "NaN or infinite"),
    (lambda x: np.where(np.arange(len(x))[:, None] == 3, np.inf, 0.5) * np.ones((len(x), 2)), "NaN or infinite"),
    (lambda x: np.full(len(x), np.nan), "NaN or infinite"),
    (lambda x: np.full((len(x) - 1, 2), 0.5), "shape (15, 2) for 16 sequences"),
    (lambda x: np.full((len(x), 2, 1), 0.5), "shape (16, 2, 1)"),
    (lambda x: np.full(len(x) + 2, 0.5), "shape (18,)"),
    (lambda x: np.full((len(x), 2), 0.4), "do not sum to 1"),
    (lambda x: np.tile([0.5, 0.5 + 2e-4], (len(x), 1)), "do not sum to 1"),
    (lambda x: np.tile([-0.5, 1.5], (len(x), 1)), "outside [0, 1]"),
    (lambda x: np.full(len(x), 1.5), "outside [0, 1]"),
    (lambda x: np.full(len(x), -0.01), "outside [0, 1]"),
    (lambda x: np.full((len(x), 3), 1 / 3), "3 columns"),
    (lambda x: [["a", "b"]] * len(x), "not an array of numbers"),
    (lambda x: None, "shape ()"),
])
def test_the_base_refuses_outputs_that_break_the_contract(fitted, output, fragment):
    codes, _ = toy_data(40, seed=1)
    fitted.output = output
    with pytest.raises(MotifprobeError) as err:
        fitted.predict_proba(codes)
    assert one_line(err, fragment).startswith(OWNER + ": predict_proba returned")


def test_a_model_of_three_classes_may_not_answer_p_class_1(fitted):
    codes, labels = toy_data(60)
    model = ToyGC().fit(codes, labels + (codes[:, 0] == 0))
    model.output = lambda x: np.full(len(x), 0.5)
    with pytest.raises(MotifprobeError) as err:
        model.predict_proba(codes)
    one_line(err, OWNER, "for a model of 3 classes")


def test_accepted_outputs_are_normalised_to_float32_columns(fitted):
    codes, _ = toy_data(40, seed=1)
    p1 = fitted.predict_proba(codes)  # the toy answers (n,) = P(class 1)
    assert p1.dtype == np.float32 and p1.shape == (40, 2)
    np.testing.assert_allclose(p1.sum(axis=1), 1.0, atol=1e-6)
    raw = fitted._predict_proba(codes)
    np.testing.assert_array_equal(p1[:, 1], raw.astype(np.float32))
    fitted.output = lambda x: fitted._gc(x)[:, None]  # (n, 1) is P(class 1) too
    np.testing.assert_allclose(fitted.predict_proba(codes)[:, 1], fitted._gc(codes), atol=1e-7)
    fitted.output = lambda x: np.tile([1 + 5e-7, -5e-7], (len(x), 1))  # float noise is clipped into [0, 1]
    assert np.array_equal(fitted.predict_proba(codes), np.tile(np.float32([1, 0]), (40, 1)))


def test_columns_per_class_are_placed_at_their_labels():
    """A plugin may answer one column per class of classes_ (scikit-learn style): labels 0 and 2."""
    codes, labels = toy_data(60)
    model = ToyGC().fit(codes, labels * 2)
    assert model.classes_.tolist() == [0, 2]
    model.output = lambda x: np.tile([0.25, 0.75], (len(x), 1))
    out = model.predict_proba(codes)
    assert out.shape == (60, 3) and np.array_equal(out[0], np.float32([0.25, 0, 0.75]))
    model.output = lambda x: np.tile([0.25, 0.0, 0.75], (len(x), 1))  # or one column per label
    assert np.array_equal(model.predict_proba(codes), out)


def test_exceptions_in_plugin_code_become_one_line_with_the_cause_kept(fitted):
    codes, _ = toy_data(20)

    def boom(x):
        raise KeyError("weights\nsecond line")

    fitted.output = boom
    with pytest.raises(MotifprobeError) as err:
        fitted.predict_proba(codes)
    one_line(err, OWNER, "predict_proba failed: KeyError")
    assert isinstance(err.value.__cause__, KeyError)  # --debug shows the plugin's traceback


# -- input checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("codes, fragment", [
    (np.zeros((4, LENGTH), np.int64), "uint8 codes (N, L), got dtype int64"),
    (np.zeros((4, LENGTH), np.float32), "got dtype float32"),
    ([[0] * LENGTH] * 4, "got list"),
    (np.zeros(LENGTH, np.uint8), "got shape (30,)"),
    (np.zeros((2, 4, LENGTH), np.uint8), "got shape (2, 4, 30)"),
    (np.zeros((4, LENGTH + 1), np.uint8), "length 31; the model was trained on length 30"),
    (np.full((4, LENGTH), 5, np.uint8), "got code 5"),
])
def test_the_base_refuses_bad_input(fitted, codes, fragment):
    called = []
    fitted.output = lambda x: called.append(x) or np.full(len(x), 0.5)
    with pytest.raises(MotifprobeError) as err:
        fitted.predict_proba(codes)
    one_line(err, OWNER, fragment)
    assert not called, "the plugin saw input the base should have refused"


def test_n_codes_and_other_lengths_when_the_plugin_allows_them(fitted, monkeypatch):
    codes = np.full((3, LENGTH), 4, np.uint8)  # 4 = N: the plugin featurizes it
    assert fitted.predict_proba(codes).shape == (3, 2)
    monkeypatch.setattr(ToyGC, "any_length", True)
    assert fitted.predict_proba(np.ones((3, 7), np.uint8)).shape == (3, 2)


def test_empty_input_gives_an_empty_float32_table_without_calling_the_plugin(fitted):
    fitted.output = lambda x: pytest.fail("called with no sequences")
    out = fitted.predict_proba(np.zeros((0, LENGTH), np.uint8))
    assert out.shape == (0, 2) and out.dtype == np.float32


def test_an_unfitted_model_refuses_to_predict_and_to_save(tmp_path):
    with pytest.raises(MotifprobeError) as err:
        ToyGC().predict_proba(np.zeros((1, LENGTH), np.uint8))
    one_line(err, OWNER, "not trained yet")
    with pytest.raises(MotifprobeError, match="nothing to save"):
        ToyGC().save(tmp_path / "m")


# -- chunking -------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 16, 1000])
def test_chunking_gives_the_same_predictions_as_one_call(chunk, monkeypatch):
    codes, labels = toy_data(100)
    model = ToyGC().fit(codes, labels)
    monkeypatch.setattr(ToyGC, "predict_chunk", 10**6)
    whole = model.predict_proba(codes)
    seen = []
    inner = ToyGC._predict_proba
    monkeypatch.setattr(ToyGC, "predict_chunk", chunk)
    monkeypatch.setattr(ToyGC, "_predict_proba", lambda self, x: seen.append(x.copy()) or inner(self, x))
    assert np.array_equal(model.predict_proba(codes), whole)
    assert [len(x) for x in seen] == [chunk] * (100 // chunk) + ([100 % chunk] if 100 % chunk else [])
    assert np.array_equal(np.concatenate(seen), codes), "each chunk must be its own rows, in order"


# -- fit ------------------------------------------------------------------------------------------
def test_fit_records_length_and_classes_and_hands_the_plugin_checked_input():
    codes, labels = toy_data(50)
    model = ToyGC()
    assert model.fit(codes, labels.astype(np.int8), val=(codes[:10], labels[:10]), seed=3) is model
    assert model.seq_length_ == LENGTH and model.classes_.tolist() == [0, 1]
    assert model.fit_args_ == (np.uint8, np.int64, True, 3)


@pytest.mark.parametrize("change, fragment", [
    (lambda c, y: (c.astype(np.int32), y), "fit needs uint8 codes"),
    (lambda c, y: (c, y[:-1]), "one label per sequence: 50 sequences, labels of shape (49,)"),
    (lambda c, y: (c, y.astype(float)), "integer labels"),
    (lambda c, y: (c, y - 1), "labels >= 0"),
    (lambda c, y: (c, np.zeros_like(y)), "at least two classes"),
    (lambda c, y: (c[:0], y[:0]), "at least one sequence"),
    (lambda c, y: (np.full_like(c, 9), y), "got code 9"),
])
def test_fit_refuses_bad_input_in_one_line(change, fragment):
    codes, labels = change(*toy_data(50))
    model = ToyGC()
    with pytest.raises(MotifprobeError) as err:
        model.fit(codes, labels)
    one_line(err, OWNER, fragment)
    assert not model.is_fitted()


def test_fit_checks_val_like_the_training_data():
    codes, labels = toy_data(50)
    with pytest.raises(MotifprobeError) as err:
        ToyGC().fit(codes, labels, val=(codes[:5, :20], labels[:5]))
    one_line(err, OWNER, "fit (val) got sequences of length 20")
    with pytest.raises(MotifprobeError) as err:
        ToyGC().fit(codes, labels, val=(codes[:5], labels[:4]))
    one_line(err, "fit (val) needs one label per sequence")


def test_a_binary_plugin_refuses_other_labels(monkeypatch):
    monkeypatch.setattr(ToyGC, "binary", True)
    codes, labels = toy_data(50)
    with pytest.raises(MotifprobeError) as err:
        ToyGC().fit(codes, labels * 2)
    one_line(err, OWNER, "binary classifier", "[0, 2]")


def test_a_failed_fit_leaves_no_half_trained_model():
    codes, labels = toy_data(50)

    class Failing(ToyGC):
        def _fit(self, *args):
            raise RuntimeError("out of memory")

    model = Failing()
    with pytest.raises(RuntimeError):
        model.fit(codes, labels)
    assert not model.is_fitted()
    with pytest.raises(MotifprobeError, match="not trained yet"):
        model.predict_proba(codes)


# -- save / load ----------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    codes, labels = toy_data(80)
    model = ToyGC(bias="0.5").fit(codes, labels)
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "weights.json"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    weights_hash = hashlib.sha256((tmp_path / "m" / "weights.json").read_bytes()).hexdigest()
    assert config == {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "plugin": "toy-gc",
                      "weights_version": 1, "params": {"bias": 0.5}, "seq_length": LENGTH, "classes": [0, 1],
                      "sha256": {"weights.json": weights_hash}, "n_epochs": 2, "best_epoch": 1,
                      "history": [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]}
    loaded = ToyGC.load(tmp_path / "m")
    assert type(loaded) is ToyGC and loaded.params == {"bias": 0.5}
    assert loaded.seq_length_ == LENGTH and loaded.classes_.tolist() == [0, 1]
    assert (loaded.n_epochs_, loaded.best_epoch_, loaded.history_) == (2, 1, model.history_)
    assert np.array_equal(loaded.predict_proba(codes), model.predict_proba(codes))
    model.save(tmp_path / "again")  # same model, same bytes
    for name in ("config.json", "weights.json"):
        assert (tmp_path / "m" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_save_refuses_a_directory_with_files_and_bad_file_lists(fitted, tmp_path):
    (tmp_path / "old.bin").write_bytes(b"x")
    with pytest.raises(MotifprobeError, match="empty directory"):
        fitted.save(tmp_path)

    class Sloppy(ToyGC):
        def _save_weights(self, directory):
            super()._save_weights(directory)
            return "weights.json"  # a string, not a list of names

    sloppy = Sloppy()
    sloppy.__dict__.update(fitted.__dict__)
    with pytest.raises(MotifprobeError) as err:
        sloppy.save(tmp_path / "s")
    one_line(err, OWNER, "_save_weights must return the names")


@pytest.fixture
def saved(fitted, tmp_path) -> Path:
    fitted.save(tmp_path / "m")
    return tmp_path / "m"


def edit_config(directory: Path, change) -> None:
    config = json.loads((directory / "config.json").read_text())
    change(config)
    (directory / "config.json").write_text(json.dumps(config))


def _set(key, value):
    return lambda c: c.__setitem__(key, value)


@pytest.mark.parametrize("change, fragment", [
    (lambda c: c.pop("sha256"), "lacks a valid sha256"),
    (lambda c: c.update(sha256=c["sha256"]["weights.json"]), "lacks a valid sha256"),  # the old single-hash layout
    (_set("sha256", {}), "lacks a valid sha256"),
    (lambda c: c.update(sha256={"../weights.json": c["sha256"]["weights.json"]}), "lacks a valid sha256"),
    (lambda c: c.update(sha256={"weights.json": "0" * 64}), "checksum mismatch"),
    (lambda c: c["sha256"].update({"missing.bin": "0" * 64}), "missing.bin': no such file"),
    (_set("plugin", "other-model"), "saved by model plugin 'other-model', not 'toy-gc'"),
    (lambda c: c.pop("plugin"), "saved by model plugin None"),
    (_set("format_version", MODEL_FORMAT_VERSION + 1), "newer than this motifprobe reads"),
    (_set("format_version", 0), "format_version must be an integer 1 or more"),
    (_set("format_version", "1"), "format_version must be an integer"),
    (lambda c: c.pop("format"), f"not a {MODEL_FORMAT} config"),
    (_set("weights_version", 2), "weights version 2"),
    (_set("params", [1]), "'params' must be an object"),
    (lambda c: c["params"].update(bogus=1), "unknown parameter"),
    (lambda c: c["params"].update(bias="high"), "parameter bias=high is not allowed"),
    (_set("seq_length", 0), "seq_length must be an integer 1.."),
    (_set("classes", [1]), "'classes' must be"),
    (_set("classes", [1, 0]), "'classes' must be"),
    (_set("classes", [0, True]), "'classes' must be"),
    (_set("best_epoch", 5), "best_epoch 5 is after n_epochs 2"),
    (_set("n_epochs", -1), "n_epochs must be an integer 1 or more"),
    (_set("history", {"a": 1}), "'history' must be a list"),
    (_set("history", [{"loss": "low"}]), "'history' must be a list"),
])
def test_damaged_configs_are_refused_in_one_line(saved, change, fragment, monkeypatch):
    edit_config(saved, change)
    monkeypatch.setattr(ToyGC, "_load_weights", lambda *a: pytest.fail("the plugin parsed a refused model"))
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, fragment)


def test_the_weights_are_checked_before_the_plugin_reads_them(saved, monkeypatch):
    (saved / "weights.json").write_text('{"slope": 1e308}')
    monkeypatch.setattr(ToyGC, "_load_weights", lambda *a: pytest.fail("the plugin parsed an unchecked file"))
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, "weights.json", "checksum mismatch")


def test_unlisted_files_in_the_model_directory_are_refused(saved):
    (saved / "extra.npz").write_bytes(b"PK")
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, "extra.npz is not listed")


def test_config_bombs_and_wrong_json_are_one_line(saved):
    (saved / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, "nested too deeply")
    (saved / "config.json").write_text("[1, 2]")
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, "expected a JSON object, got list")


def test_errors_in_the_plugins_reader_name_the_weights_file(saved):
    (saved / "weights.json").write_text('{"slope": [1, 2]}')
    edit_config(saved, lambda c: c["sha256"].update(
        {"weights.json": hashlib.sha256((saved / "weights.json").read_bytes()).hexdigest()}))
    with pytest.raises(MotifprobeError) as err:
        ToyGC.load(saved)
    one_line(err, "cannot read toy-gc model", "weights.json", "float() argument")


# -- callables and the conformance check ----------------------------------------------------------
def test_callable_models_get_the_same_output_checks():
    codes = np.zeros((5, 10), np.uint8)
    with pytest.raises(MotifprobeError, match="do not sum to 1"):
        CallableModel(lambda x: np.full((len(x), 2), 0.3)).predict_proba(codes)
    with pytest.raises(MotifprobeError, match="NaN"):
        CallableModel(lambda x: np.full(len(x), np.nan)).predict_proba(codes)
    assert as_probabilities(np.full(5, 0.25), 5).tolist() == [[0.75, 0.25]] * 5


def test_check_model_passes_the_toy_and_catches_a_plugin_that_bypasses_the_base():
    assert 0 <= check_model(ToyGC, min_accuracy=None)["accuracy"] <= 1  # G+C share says nothing about its motif

    class Bypass(ToyGC):
        def predict_proba(self, codes):  # its own, unchecked: NaN from _predict_proba would pass
            return np.tile(np.float32([0.5, 0.5]), (len(codes), 1))

    with pytest.raises(AssertionError, match="leave predict_proba to SequenceModel"):
        check_model(Bypass, min_accuracy=None)


def test_a_third_party_gru_needs_no_boilerplate():
    """A torch GRU written against the manual: the model and its weights, nothing else, and it conforms."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    class GRU(SequenceModel):
        name = "toy-gru"
        binary = True
        parameters = (Param("hidden", int, 8, "GRU units", low=1), Param("epochs", int, 4, "epochs", low=1))

        def _net(self):
            return torch.nn.ModuleDict({"gru": torch.nn.GRU(4, self.params["hidden"], batch_first=True),
                                        "out": torch.nn.Linear(self.params["hidden"], 2)})

        def _logits(self, codes):
            x = torch.nn.functional.one_hot(torch.from_numpy(codes.astype(np.int64)), 5)[..., :4].float()  # N: zeros
            return self.net_["out"](self.net_["gru"](x)[1][-1])

        def _fit(self, codes, labels, val, seed, progress):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed or 0)
                self.net_ = self._net()
                optimizer, y = torch.optim.Adam(self.net_.parameters(), lr=0.02), torch.from_numpy(labels)
                for _ in range(self.params["epochs"]):
                    for lo in range(0, len(codes), 32):
                        optimizer.zero_grad()
                        torch.nn.functional.cross_entropy(self._logits(codes[lo:lo + 32]), y[lo:lo + 32]).backward()
                        optimizer.step()

        def _predict_proba(self, codes):
            with torch.no_grad():
                return torch.softmax(self._logits(codes), dim=1).numpy()

        def _save_weights(self, directory):
            save_file(self.net_.state_dict(), str(directory / "gru.safetensors"))
            return ["gru.safetensors"]

        def _load_weights(self, directory, config):
            self.net_ = self._net()
            self.net_.load_state_dict(load_file(str(directory / "gru.safetensors")))

    seen = check_model(GRU, min_accuracy=None, n=300, length=40)
    assert 0 <= seen["accuracy"] <= 1
    codes, labels = toy_data(64)
    model = GRU(epochs=1).fit(codes, labels, seed=1)
    with pytest.raises(MotifprobeError) as err:
        model.predict_proba(codes[:, :10])  # a GRU could read any length; this one never said so
    one_line(err, "model plugin 'toy-gru'", "length 10")


def test_streams_take_the_next_chunk_when_free_so_a_slow_stream_holds_up_no_other():
    import contextlib
    import threading

    from motifprobe.engine.models import spread_over_streams

    n, done, lock = 9, [], threading.Lock()
    released = threading.Event()

    def run(starts):
        (i,) = list(starts)
        if i == 0:  # the first stream is stuck on its chunk until every other chunk is done
            assert released.wait(20), "the other chunks were left to the stuck stream"
        with lock:
            done.append((i, threading.current_thread().name))
            if len(done) == n - 1:
                released.set()

    spread_over_streams(run, range(n), 2, contextlib.nullcontext)
    assert sorted(i for i, _ in done) == list(range(n))  # every chunk exactly once
    stuck = next(name for i, name in done if i == 0)
    assert [i for i, name in done if name == stuck] == [0]


def test_streams_raise_the_first_error_and_stop_taking_chunks():
    import contextlib

    from motifprobe.engine.models import spread_over_streams

    taken = []

    def run(starts):
        (i,) = list(starts)
        taken.append(i)
        if i == 2:
            raise ValueError("chunk 2 is bad")

    with pytest.raises(ValueError, match="chunk 2 is bad"):
        spread_over_streams(run, range(1000), 2, contextlib.nullcontext)
    assert 2 in taken and len(taken) < 1000
