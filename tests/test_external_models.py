"""Models trained elsewhere: the torchscript, onnx and python plugins, --model-file, --target,
--output, --device, and the refusals (one line, exit 2, nothing written).

A small torch model is built here: a convolution whose filter is the log-odds PWM of
STAT_known2, a global max pool and two outputs (column 0: a logit that rises with the best
STAT_known2 match; column 1: a second, different output). It is exported to TorchScript and
ONNX in tmp_path, and wrapped by a python module written there.
"""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from motifprobe import api  # noqa: E402
from motifprobe.cli import main  # noqa: E402
from motifprobe.engine.errors import MotifprobeError  # noqa: E402
from motifprobe.engine.motif_library import get_motifs  # noqa: E402
from motifprobe.engine.sequences import one_hot  # noqa: E402

USED, IGNORED = "STAT_known2", "GATA_known1"
LENGTH = 120


class MotifNet(torch.nn.Module):
    """(N, 4, L) one-hot -> (N, 2): [best STAT_known2 log-odds - 8, 0.5 * mean GC - 0.1]."""

    def __init__(self) -> None:
        super().__init__()
        pwm = get_motifs([USED])[0].pwm
        self.conv = torch.nn.Conv1d(4, 1, pwm.shape[0], bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(np.log(pwm / 0.25).T.copy()).float()[None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        best = self.conv(x).amax(dim=2)[:, 0] - 8.0
        gc = x[:, 1:3, :].sum(dim=1).mean(dim=1)
        return torch.stack([best, 0.5 * gc - 0.1], dim=1)


class TwoHeads(torch.nn.Module):
    """Two named outputs for ONNX: the logits (N, 2) and sigmoid(logit 0) (N,)."""

    def __init__(self, net: MotifNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        z = self.net(x)
        return z, torch.sigmoid(z[:, 0])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The TorchScript file, the ONNX file (outputs 'logits' and 'prob') and the torch net."""
    tmp = tmp_path_factory.mktemp("models")
    net = MotifNet().eval()
    example = torch.zeros(2, 4, LENGTH)
    pt = tmp / "motifnet.pt"
    torch.jit.script(net).save(str(pt))
    onnx_path = tmp / "twoheads.onnx"
    torch.onnx.export(TwoHeads(net), (example,), str(onnx_path), input_names=["x"], output_names=["logits", "prob"],
                      dynamic_axes={"x": {0: "n", 2: "length"}, "logits": {0: "n"}, "prob": {0: "n"}},
                      dynamo=False)
    return {"pt": pt, "onnx": onnx_path, "net": net, "dir": tmp}


@pytest.fixture
def pymodule(files, tmp_path, monkeypatch):
    """A python module in tmp_path: a function over (N, L, 4) one-hot and a class with predict."""
    (tmp_path / "my_models.py").write_text(textwrap.dedent(f"""
        import numpy as np
        import torch

        _net = torch.jit.load({str(files['pt'])!r})

        def channels_last(x):
            return _net(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))).detach().numpy()

        class Model:
            def predict(self, x):
                return _net(torch.from_numpy(x))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_models"
    sys.modules.pop("my_models", None)


@pytest.fixture(scope="module")
def codes():
    """Random sequences, one with STAT_known2 planted, two with runs of N."""
    rng = np.random.default_rng(0)
    out = rng.integers(0, 4, size=(9, LENGTH)).astype(np.uint8)
    consensus = get_motifs([USED])[0].consensus
    out[0, 30:30 + len(consensus)] = ["ACGT".index(c) for c in consensus]
    out[1, :40] = 4
    out[2, 50:60] = 4
    return out


def reference(net, codes) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(one_hot(codes))).numpy().astype(np.float64)


def test_three_plugins_give_the_torch_models_outputs_n_rows_included(files, pymodule, codes):
    want = reference(files["net"], codes)
    assert want[0, 0] > 5 and want[1:, 0].max() < 0  # the planted site is what column 0 sees
    models = [api.load_model_file(files["pt"], target=0, output="regression"),
              api.load_model_file(files["onnx"], target="logits", output="regression"),
              api.load_model_file(f"{pymodule}:channels_last", layout="NL4", output="regression"),
              api.load_model_file(f"{pymodule}:Model", "python", output="regression")]
    assert [m.plugin_name() for m in models] == ["torchscript", "onnx", "python", "python"]
    assert np.allclose(models[0].predict_values(codes), want[:, 0], atol=1e-5)
    # An (N, 2) output without a column is refused for a regression; the ONNX 'logits' output is (N, 2) too.
    for model in models[1:]:
        with pytest.raises(MotifprobeError, match="must be one: choose it with --target"):
            model.predict_values(codes)
    for model in models[2:]:
        model.params["target"] = "1"
        assert np.allclose(model.predict_values(codes), want[:, 1], atol=1e-5)
    onnx_prob = api.load_model_file(files["onnx"], target="prob", output="regression")
    assert np.allclose(onnx_prob.predict_values(codes), 1 / (1 + np.exp(-want[:, 0])), atol=1e-5)
    for t, col in (("0", 0), ("1", 1)):  # a named output, then a column of a single (N, T) output
        pt = api.load_model_file(files["pt"], target=t, output="regression")
        assert np.allclose(pt.predict_values(codes), want[:, col], atol=1e-5)
    # N rows: an all-zero one-hot row, so the N stretch contributes nothing to the score.
    assert np.isfinite(models[0].predict_values(codes)).all()
    one_hot_n = one_hot(codes[1:2])
    assert one_hot_n[0, :, :40].sum() == 0 and one_hot_n[0, :, 40:].sum() == LENGTH - 40


def test_onnx_named_outputs_target_and_logit_vs_prob(files, codes):
    want = reference(files["net"], codes)
    sigmoid = 1 / (1 + np.exp(-want[:, 0]))
    by_name = api.load_model_file(files["onnx"], target="prob", output="prob")
    by_index = api.load_model_file(files["onnx"], target="1", output="prob")
    from_logit = api.load_model_file(files["pt"], target="0", output="logit")
    for model in (by_name, by_index, from_logit):
        probs = model.predict_proba(codes)
        assert probs.shape == (len(codes), 2)
        assert np.allclose(probs[:, 1], sigmoid, atol=1e-5) and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
    assert from_logit.output_kind == "logit" and by_name.output_kind == "prob"
    # Two outputs and no --target: one line naming them.
    with pytest.raises(MotifprobeError, match=r"2 outputs \(logits, prob\); choose one with --target"):
        api.load_model_file(files["onnx"], output="prob").predict_proba(codes)
    # A logit given as a probability: values outside [0, 1] are refused, naming the fix.
    with pytest.raises(MotifprobeError, match=r"outside \[0, 1\].*--output logit"):
        api.load_model_file(files["pt"], target="0", output="prob").predict_proba(codes)
    with pytest.raises(MotifprobeError, match=r"--target 5 is out of range: the model's output has 2 column"):
        api.load_model_file(files["pt"], target="5").predict_proba(codes)
    with pytest.raises(MotifprobeError, match="--target bogus is not one of the model's 2 outputs"):
        api.load_model_file(files["onnx"], target="bogus").predict_proba(codes)


def test_logit_output_scores_deltas_on_the_logit_scale(files, codes):
    """Prediction mode on a logit model: the score is the logit itself, even when saturated."""
    from motifprobe.engine.perturbation import Scorer

    model = api.load_model_file(files["pt"], target="0", output="logit")
    probs = model.predict_proba(codes).astype(np.float64)
    logit = Scorer("prediction", "logit").score(probs, np.zeros(len(codes), np.int64))
    assert np.allclose(logit, reference(files["net"], codes)[:, 0], atol=1e-3)
    assert Scorer("prediction", "prob").score(probs, 0) == pytest.approx(probs[:, 1])
    with pytest.raises(MotifprobeError, match="loss mode needs probabilities"):
        Scorer("loss", "value")


def test_nan_output_and_layout_mismatch_are_one_line(files, pymodule, tmp_path, codes):
    with pytest.raises(MotifprobeError, match=r"failed on input layout NL4 of shape \(9, 120, 4\).*check layout="):
        api.load_model_file(files["pt"], layout="NL4", target="0").predict_proba(codes)
    with pytest.raises(MotifprobeError, match="failed on input layout codes"):
        api.load_model_file(files["onnx"], layout="codes", target="0").predict_proba(codes)
    (tmp_path / "nan_model.py").write_text("import numpy as np\ndef f(x):\n    return np.full(len(x), np.nan)\n")
    with pytest.raises(MotifprobeError, match="NaN or infinite"):
        api.load_model_file("nan_model:f").predict_proba(codes)


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ds.parquet"
    assert main(["generate", "--generator-plugin", "fast", "--num-seqs", "200", "--seq-length", str(LENGTH),
                 "--gen-type", "presence", "--motifs", USED, IGNORED, "--pos-motifs", USED, "--seed", "4",
                 "--out", str(path)]) == 0
    return path


def _interpret(dataset_file, out, *extra):
    return main(["interpret", "--data-file", str(dataset_file), "--tests", "presence", "--num-perturbs", "2",
                 "--out", str(out), "--no-deltas", *extra])


def test_interpret_model_file_prediction_mode_calls_the_used_motif(files, dataset_file, tmp_path, capsys):
    out = tmp_path / "res.csv"
    assert _interpret(dataset_file, out, "--model-file", str(files["pt"]), "--target", "0", "--output", "logit",
                      "--mode", "prediction", "--device", "cpu") == 0
    text = capsys.readouterr().out
    assert "loading TorchScript model" in text and "runs no Python code" in text and "device cpu" in text
    assert "logit" in text
    table = pd.read_csv(out).set_index("motifs")
    assert table.loc[USED, "verdict"] == "effect" and table.loc[USED, "avg_loss_diff"] < -1  # logit falls
    assert table.loc[IGNORED, "verdict"] != "effect"


def test_interpret_model_file_loss_mode_and_python_statement(files, pymodule, dataset_file, tmp_path, capsys):
    out = tmp_path / "loss.csv"
    assert _interpret(dataset_file, out, "--model-plugin", "python", "--model-param", f"callable={pymodule}:Model",
                      "--target", "0", "--output", "logit") == 0
    text = capsys.readouterr().out
    assert f"importing {pymodule}:Model runs its code" in text
    table = pd.read_csv(out).set_index("motifs")
    assert table.loc[USED, "mode"] == "loss" and np.isfinite(table.loc[USED, "avg_loss_diff"])
    assert table.loc[IGNORED, "verdict"] != "effect"


def test_refusals_are_one_line_exit_2_nothing_written(files, dataset_file, tmp_path, capsys):
    out = tmp_path / "r.csv"
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model at all")
    broken_onnx = tmp_path / "broken.onnx"
    broken_onnx.write_bytes(b"\x08\x01garbage")
    cases = [
        (["--model-file", str(broken)], "cannot load torchscript model"),
        (["--model-file", str(broken_onnx)], "cannot load onnx model"),
        (["--model-file", str(tmp_path / "missing.onnx")], "no such file"),
        (["--model-file", str(tmp_path / "model.h5")], "cannot tell the model plugin"),
        (["--model-file", str(files["pt"]), "--target", "0", "--output", "regression"],
         "loss mode needs probabilities"),
        (["--model-file", str(files["pt"]), "--target", "7", "--mode", "prediction", "--output", "logit"],
         "--target 7 is out of range"),
        (["--model-file", str(files["pt"]), "--target", "0", "--mode", "prediction"], "outside [0, 1]"),
        (["--model-file", str(files["pt"]), "--model-param", "layout=NL4", "--target", "0", "--output", "logit"],
         "input layout NL4"),
        (["--model-file", str(files["pt"]), "--model-param", "colour=red"], "unknown parameter(s) colour"),
        (["--model-file", str(files["pt"]), "--model-plugin", "torch-cnn"], "trains its own models"),
    ]
    for extra, fragment in cases:
        assert _interpret(dataset_file, out, *extra) == 2, extra
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1, (extra, err)
        assert not out.exists()


def test_unlabeled_data_loss_mode_refused_prediction_works(files, dataset_file):
    ds = api.load_dataset(dataset_file)
    ds.labels[:] = -1
    model = api.load_model_file(files["pt"], target="0", output="logit")
    with pytest.raises(MotifprobeError, match="loss mode needs labels: 200 of 200 sequences have none"):
        api.interpret(model, ds, tests=["presence"], num_perturbs=1)
    table = api.interpret(model, ds, tests=["presence"], num_perturbs=1, mode="prediction").table
    assert set(table["verdict"]) <= {"effect", "none", "untestable"} and len(table) == 2
    value = api.load_model_file(files["pt"], target="0", output="regression")
    res = api.interpret(value, ds, [USED], tests=["presence"], num_perturbs=1, mode="prediction")
    assert res.metadata["delta_unit"] == "raw output" and res.table["flip_rate"].isna().all()
    assert res.table.loc[0, "avg_loss_diff"] < -1


def test_device_cpu_and_auto_fall_back_to_cpu(files, codes):
    auto = api.load_model_file(files["pt"], target="0", output="logit")
    cpu = api.load_model_file(files["pt"], target="0", output="logit", device="cpu")
    assert cpu.device_ == "cpu"
    assert auto.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    assert np.allclose(auto.predict_proba(codes), cpu.predict_proba(codes), atol=1e-5)
    assert api.load_model_file(files["onnx"], target="prob", device="auto").device_ in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(MotifprobeError, match="--device cuda: torch sees no CUDA device"):
            api.load_model_file(files["pt"], device="cuda")


def test_fit_refused_and_fixed_length_is_fitted(files, dataset_file):
    from motifprobe.engine.dataset import Dataset

    model = api.load_model_file(files["pt"], target="0", output="logit", length=100)
    with pytest.raises(MotifprobeError, match="not trained by motifprobe"):
        model.fit(np.zeros((4, 10), np.uint8), np.array([0, 1, 0, 1]))
    with pytest.raises(MotifprobeError, match="takes sequences of length 100"):
        model.predict_proba(np.zeros((2, LENGTH), np.uint8))
    if not hasattr(Dataset, "fit_length"):
        pytest.skip("Dataset.fit_length (the data helper's) is not there yet")
    res = api.interpret(model, api.load_dataset(dataset_file), [USED], tests=["presence"], num_perturbs=1,
                        mode="prediction")
    assert res.metadata["notes"] and "100" in res.metadata["notes"][0]


def test_compare_takes_model_files_without_training(files, dataset_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--data-file", str(dataset_file), "--model-file", str(files["pt"]),
                 "--target", "0", "--output", "logit", "--tests", "presence", "--num-perturbs", "1",
                 "--device", "cpu", "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "loading TorchScript model" in text and not (out / "runs").exists()  # nothing trained
    results = pd.read_csv(out / "compare.csv").set_index("motifs")
    assert set(results["model"]) == {"motifnet"} and results.loc[USED, "verdict"] == "effect"
    assert results.loc[IGNORED, "verdict"] != "effect"


def test_compare_tells_one_model_in_two_formats_apart(files, dataset_file, tmp_path):
    import shutil

    from motifprobe.engine.compare import compare
    from motifprobe.engine.dataset import read_dataset

    pt, onnx_copy = tmp_path / "model.pt", tmp_path / "model.onnx"
    shutil.copy(files["pt"], pt)
    torch.onnx.export(files["net"], (torch.zeros(2, 4, LENGTH),), str(onnx_copy), input_names=["x"],
                      dynamic_axes={"x": {0: "n", 2: "length"}}, dynamo=False)
    result = compare(read_dataset(dataset_file), [], model_files=[str(pt), str(onnx_copy)],
                     model_params={"output": "logit", "target": 0}, tests=["presence"], num_perturbs=1, figures=False)
    assert set(result.results["model"]) == {"model.pt", "model.onnx"}
    a, b = (result.deltas[result.deltas["model"] == m].set_index(["motifs", "id"])["delta"]
            for m in ("model.pt", "model.onnx"))
    np.testing.assert_allclose(a.sort_index(), b.sort_index(), atol=1e-4)  # the same model, the same deltas
