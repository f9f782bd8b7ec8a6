"""Hostile run directories: loading a run never runs its author's code.

Each case crafts files as an attacker would, who can write every file of a run, hashes
included (:func:`rehash` re-records them, so the parsers behind the hash checks are reached).
Each asserts that no code ran (no marker file appeared) and that one line came out: a
``MotifprobeError``, or through the CLI exit code 2 and a single stderr line.
"""
from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from motifprobe import api, cli
from motifprobe.engine.dataset import write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.runs import load_run


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rehash(run_dir: Path) -> None:
    """Re-record every hash (model config and manifest) for the files now in the run."""
    config = run_dir / "model" / "config.json"
    if config.is_file():
        try:
            doc = json.loads(config.read_text())
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            weights = [p for p in (run_dir / "model").iterdir() if p.name != "config.json"]
            if weights:
                doc["sha256"] = {p.name: sha(p) for p in weights}
                config.write_text(json.dumps(doc))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"] = {p.relative_to(run_dir).as_posix(): sha(p) for p in sorted(run_dir.rglob("*"))
                         if p.is_file() and p.name != "manifest.json"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))


def edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def skops_payload(marker: Path) -> bytes:
    """A skops file whose LossNode calls ``numpy.testing._private.utils.runstring`` (= exec).

    The loader before this fix trusted every type named ``numpy.*`` or ``sklearn.*`` and so ran
    the code: it writes ``marker``.
    """
    code = f"open({str(marker)!r}, 'w').write('code ran')"

    def empty_dict(i):
        return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {}, "__id__": i,
                "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                              "content": [], "__id__": i + 1}}

    args = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "__id__": 2, "content": [
        {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(code),
         "is_json": True, "__id__": 3}, empty_dict(4)]}
    schema = {"__class__": "runstring", "__module__": "numpy.testing._private.utils", "__loader__": "LossNode",
              "__reduce__": {"args": args}, "content": empty_dict(6), "__id__": 1, "protocol": 2,
              "_skops_version": "0.16.0"}
    path = marker.parent / "payload.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return path.read_bytes()


class _Exec:
    """A pickle ``__reduce__`` payload: unpickling calls exec(code)."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def torch_pickle_payload(marker: Path) -> bytes:
    """What ``torch.save`` writes (a zip holding a pickle) with a payload ``torch.load`` would run."""
    import torch

    path = marker.parent / "payload.pt"
    torch.save({"weight": _Exec(f"open({str(marker)!r}, 'w')")}, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, order_ds):
    """A small dataset and one tiny run per built-in model (trained once for the module)."""
    root = tmp_path_factory.mktemp("hostile")
    data = write_dataset(order_ds.subset(np.arange(400)), root / "data.parquet")
    ds = api.load_dataset(data)
    small = {"sklearn": {"k": 3}, "torch-cnn": {"epochs": 1, "n_filters": 4, "hidden": 0},
             "xgboost-kmer": {"k": 3, "n_estimators": 5}}
    for plugin, params in small.items():
        api.train(ds, plugin, params=params, seed=0, out_dir=root / "runs")
    return root, data


@pytest.fixture
def victim(runs, tmp_path):
    """A fresh copy of a run to tamper with, a marker path no code may create, and the data file."""

    def copy(plugin: str) -> tuple[Path, Path, Path]:
        root, data = runs
        run_dir = tmp_path / plugin
        # runs are saved under the plugin's canonical name ('sklearn' is an alias of 'kmer-logreg')
        shutil.copytree(root / "runs" / {"sklearn": "kmer-logreg"}.get(plugin, plugin), run_dir)
        return run_dir, tmp_path / "MARKER", data

    return copy


@pytest.fixture
def no_skops(monkeypatch):
    """Make every import of skops fail: the loader must not need it."""
    for name in [m for m in sys.modules if m == "skops" or m.startswith("skops.")] + ["skops", "skops.io"]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.fixture
def no_torch_load(monkeypatch):
    """Make torch.load and torch.jit.load fail loudly: the loader must never call them."""
    import torch

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load / torch.jit.load was called")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.jit, "load", refuse)


def interpret_cli(run_dir: Path, data: Path, capsys) -> tuple[int, str]:
    code = cli.main(["interpret", "--run", str(run_dir), "--data-file", str(data), "--tests", "presence",
                     "--num-perturbs", "1", "--out", str(run_dir.parent / "results.csv")])
    return code, capsys.readouterr().err.strip()


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


# -- the skops exploit --------------------------------------------------------------------------
def test_the_skops_payload_is_live_for_the_old_loader(tmp_path):
    """The crafted file really runs code under the old loader's rule (trust numpy.*/sklearn.*)."""
    sio = pytest.importorskip("skops.io")
    marker = tmp_path / "MARKER"
    path = tmp_path / "model.skops"
    path.write_bytes(skops_payload(marker))
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted and all(t.startswith(("sklearn.", "numpy.")) for t in untrusted)
    sio.load(path, trusted=untrusted)
    assert marker.read_text() == "code ran"


def test_skops_exploit_through_the_cli_runs_no_code(victim, capsys, no_skops):
    """The old run layout with the payload, every hash re-recorded: exit 2, one line, no code run."""
    run_dir, marker, data = victim("sklearn")
    (run_dir / "model" / "model.safetensors").unlink()
    (run_dir / "model" / "model.skops").write_bytes(skops_payload(marker))
    rehash(run_dir)
    code, err = interpret_cli(run_dir, data, capsys)
    assert code == 2 and err and "\n" not in err and "Traceback" not in err
    assert "model.skops" in err or "model.safetensors" in err
    assert not marker.exists()


def test_skops_payload_as_the_weights_file_runs_no_code(victim, capsys, no_skops):
    """The payload under the name the new loader reads, hashes matching: refused by the parser."""
    run_dir, marker, data = victim("sklearn")
    (run_dir / "model" / "model.safetensors").write_bytes(skops_payload(marker))
    rehash(run_dir)
    code, err = interpret_cli(run_dir, data, capsys)
    assert code == 2 and "model.safetensors" in err and "\n" not in err
    assert not marker.exists()


def test_an_intact_sklearn_run_loads_without_skops(victim, no_skops):
    run_dir, _, data = victim("sklearn")
    run = load_run(run_dir, api.load_dataset(data))
    assert run.model.predict_proba(np.zeros((2, 200), np.uint8)).shape == (2, 2)


def test_reduce_style_keys_in_a_config_are_refused(victim):
    """jsonpickle/skops-style object keys in config.json are plain data to us: an unknown parameter."""
    run_dir, marker, _ = victim("sklearn")
    payload = {"py/reduce": [{"py/function": "builtins.exec"}, {"py/tuple": [f"open({str(marker)!r}, 'w')"]}]}
    edit_json(run_dir / "model" / "config.json", lambda c: c["params"].update({"__reduce__": payload}))
    rehash(run_dir)
    with pytest.raises(MotifprobeError, match="unknown parameter") as err:
        load_run(run_dir)
    one_line_error(err)
    assert not marker.exists()


# -- other formats where weights are expected -----------------------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_file_as_weights_is_refused(victim, no_torch_load):
    import torch

    run_dir, marker, _ = victim("torch-cnn")
    weights = run_dir / "model" / "model.safetensors"
    torch.jit.save(torch.jit.script(torch.nn.Linear(4, 2)), str(weights))
    assert zipfile.is_zipfile(weights)
    rehash(run_dir)
    with pytest.raises(MotifprobeError, match="model.safetensors") as err:
        load_run(run_dir)
    one_line_error(err)
    assert not marker.exists()


@pytest.mark.parametrize("plugin, weights", [("torch-cnn", "model.safetensors"), ("sklearn", "model.safetensors"),
                                             ("xgboost-kmer", "model.ubj")])
def test_torch_pickle_payload_as_weights_runs_no_code(victim, no_torch_load, plugin, weights):
    run_dir, marker, _ = victim(plugin)
    (run_dir / "model" / weights).write_bytes(torch_pickle_payload(marker))
    rehash(run_dir)
    with pytest.raises(MotifprobeError, match=weights) as err:
        load_run(run_dir)
    one_line_error(err)
    assert not marker.exists()


# -- safetensors headers that claim more than the file holds --------------------------------------
def _safetensors(header: dict, data: bytes = b"", claimed_header_len: int | None = None) -> bytes:
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    length = len(blob) if claimed_header_len is None else claimed_header_len
    return struct.pack("<Q", length) + blob + data


@pytest.mark.parametrize("plugin", ["torch-cnn", "sklearn"])
@pytest.mark.parametrize("case", ["10 GB tensor", "10 GB header"])
def test_safetensors_claiming_10_gb_is_refused(victim, plugin, case):
    run_dir, _, _ = victim(plugin)
    n = 10 * 10**9 // 8
    if case == "10 GB tensor":
        blob = _safetensors({"coef": {"dtype": "F64", "shape": [n], "data_offsets": [0, 8 * n]}}, b"\0" * 64)
    else:
        blob = _safetensors({"coef": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8,
                            claimed_header_len=10 * 10**9)
    (run_dir / "model" / "model.safetensors").write_bytes(blob)
    rehash(run_dir)
    with pytest.raises(MotifprobeError, match="model.safetensors") as err:
        load_run(run_dir)
    one_line_error(err)


# -- JSON bombs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["model/config.json", "manifest.json"])
@pytest.mark.parametrize("bomb, fragment", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"a": "' + "x" * (5 * 2**20) + '"}', "more than the 4194304 allowed"),
])
def test_json_bombs_are_refused(victim, target, bomb, fragment):
    run_dir, _, _ = victim("sklearn")
    (run_dir / target).write_text(bomb)
    if target != "manifest.json":
        rehash(run_dir)
    with pytest.raises(MotifprobeError, match=fragment) as err:
        load_run(run_dir)
    one_line_error(err)


# -- hashes -------------------------------------------------------------------------------------
def test_manifest_without_hashes_is_refused_through_the_cli(victim, capsys):
    run_dir, _, data = victim("sklearn")
    edit_json(run_dir / "manifest.json", lambda m: m.pop("files"))
    code, err = interpret_cli(run_dir, data, capsys)
    assert code == 2 and "files must be an object" in err and "\n" not in err


@pytest.mark.parametrize("change, fragment", [
    (lambda m: m["files"].pop("model/model.safetensors"), "is not listed"),
    (lambda m: m["files"].update({"model/model.safetensors": "0" * 64}), "sha256 differs"),
    (lambda m: m["files"].update({"model/config.json": None}), "64-digit hex"),
    (lambda m: m["files"].update({"../../etc/passwd": "0" * 64}), "not predictions.parquet or a plain path"),
])
def test_manifest_hash_edits_are_refused(victim, change, fragment):
    run_dir, _, _ = victim("sklearn")
    edit_json(run_dir / "manifest.json", change)
    with pytest.raises(MotifprobeError, match=fragment) as err:
        load_run(run_dir)
    one_line_error(err)


def test_config_hash_deleted_is_refused_even_when_the_manifest_agrees(victim):
    run_dir, _, _ = victim("torch-cnn")
    edit_json(run_dir / "model" / "config.json", lambda c: c.pop("sha256"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["files"]["model/config.json"] = sha(run_dir / "model" / "config.json")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MotifprobeError, match="lacks a valid sha256") as err:
        load_run(run_dir)
    one_line_error(err)


def test_unlisted_or_linked_model_files_are_refused(victim, tmp_path):
    run_dir, _, _ = victim("sklearn")
    (run_dir / "model" / "extra.bin").write_bytes(b"x")
    with pytest.raises(MotifprobeError, match="extra.bin is not listed"):
        load_run(run_dir)
    (run_dir / "model" / "extra.bin").unlink()
    weights = run_dir / "model" / "model.safetensors"
    shutil.move(weights, tmp_path / "elsewhere")
    weights.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(MotifprobeError, match="not a regular file"):
        load_run(run_dir)


# -- manifests and configs of the wrong shape -----------------------------------------------------
@pytest.mark.parametrize("text, fragment", [
    ("[1, 2, 3]", "expected a JSON object, got list"),
    ("42", "expected a JSON object, got int"),
    ("null", "expected a JSON object, got NoneType"),
    ('{"format_version": "2"}', "format_version must be an integer"),
    ('{"format_version": 1, "model_plugin": "sklearn"}', "format version 1; this motifprobe reads version 2"),
    ("not json", "cannot read run manifest"),
])
def test_manifest_of_the_wrong_shape_is_one_line(victim, text, fragment):
    run_dir, _, _ = victim("sklearn")
    (run_dir / "manifest.json").write_text(text)
    with pytest.raises(MotifprobeError, match=fragment) as err:
        load_run(run_dir)
    one_line_error(err)


@pytest.mark.parametrize("change, fragment", [
    (lambda m: m.update(split=5), "split must be an object"),
    (lambda m: m["split"].update(test="ten"), "split.test must be a non-negative integer"),
    (lambda m: m.update(metrics=[0.9]), "metrics must be an object"),
    (lambda m: m["metrics"].update(accuracy="high"), "metrics.accuracy must be a number"),
    (lambda m: m.update(model_plugin=["sklearn"]), "model_plugin must be a non-empty string"),
    (lambda m: m.update(dataset="data.parquet"), "dataset must be an object"),
    (lambda m: m.update(ignored_settings="lr"), "ignored_settings must be a list of strings"),
    (lambda m: m.update(threads=-1), "threads must be a non-negative integer"),
])
def test_manifest_fields_of_the_wrong_type_are_one_line(victim, capsys, change, fragment):
    run_dir, _, data = victim("sklearn")
    edit_json(run_dir / "manifest.json", change)
    code, err = interpret_cli(run_dir, data, capsys)
    assert code == 2 and fragment in err and "\n" not in err


@pytest.mark.parametrize("plugin, change, fragment", [
    ("sklearn", lambda c: c["params"].update(k=4), "features"),
    ("sklearn", lambda c: c["params"].update(k=2), "features"),
    ("xgboost-kmer", lambda c: c["params"].update(k=4), "config says k=4"),
    ("torch-cnn", lambda c: c["params"].update(kernel_size=9), "do not fit the config's architecture"),
    ("torch-cnn", lambda c: c["params"].update(n_filters=10**6), "do not fit the config's architecture"),
    ("sklearn", lambda c: c.update(params=[1, 2]), "'params' must be an object"),
    ("sklearn", lambda c: c.update(seq_length="200"), "seq_length must be an integer"),
    ("sklearn", lambda c: c.update(classes=[0, "1"]), "'classes' must be"),
    ("sklearn", lambda c: c["params"].update(C=0), "parameter C=0 is not allowed"),
    ("torch-cnn", lambda c: c.update(history={"a": 1}), "'history' must be a list"),
])
def test_edited_model_configs_are_one_line(victim, plugin, change, fragment):
    run_dir, _, _ = victim(plugin)
    edit_json(run_dir / "model" / "config.json", change)
    rehash(run_dir)
    with pytest.raises(MotifprobeError, match=fragment) as err:
        load_run(run_dir)
    one_line_error(err)


def test_edited_k_through_the_cli_is_one_line(victim, capsys):
    run_dir, _, data = victim("sklearn")
    edit_json(run_dir / "model" / "config.json", lambda c: c["params"].update(k=5))
    rehash(run_dir)
    code, err = interpret_cli(run_dir, data, capsys)
    assert code == 2 and "k=5" in err and "\n" not in err


def test_pickle_is_never_used_to_read_runs(victim, monkeypatch):
    """Belt and braces: loading every built-in run with pickle's loaders disabled works."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for plugin in ("sklearn", "torch-cnn", "xgboost-kmer"):
        run_dir, _, data = victim(plugin)
        assert load_run(run_dir, api.load_dataset(data)).model.predict_proba(np.zeros((1, 200), np.uint8)).shape == (1, 2)
