"""Property-based fuzz of the dataset and run-manifest readers (hypothesis).

Property: a reader either returns a valid object or raises MotifprobeError with a one-line
message; never any other exception, and never a file written next to its input.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motifprobe import api
from motifprobe.engine.dataset import METADATA_KEY, Dataset, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.runs import MANIFEST, Run, load_run

# No example database: nothing is written into the working tree.
FUZZ = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_leaf = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
             | st.text(max_size=12))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=12)
number = st.integers(-3, 3) | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.25, 0.3, 0.2])
background = st.lists(number, min_size=0, max_size=6) | json_value
KNOWN = {"format_version": st.integers(-2, 3) | json_value, "generator": st.text(max_size=10) | json_value,
         "parameters": st.dictionaries(st.text(max_size=8), json_value, max_size=4) | json_value,
         "seed": st.integers(-5, 2**40) | json_value, "background": background,
         "rule": json_value, "extra": json_value}
metadata = (st.fixed_dictionaries({}, optional=KNOWN) | json_value)


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def check_read(path: Path) -> Dataset | None:
    """The property for one file: a valid Dataset, or one MotifprobeError line; nothing new beside it."""
    before = _files(path.parent)
    try:
        ds = read_dataset(path)
    except MotifprobeError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, message
        ds = None
    assert _files(path.parent) == before
    if ds is not None:
        assert isinstance(ds.metadata, dict) and "format_version" not in ds.metadata
        assert set(np.unique(ds.labels)) <= {-1, 0, 1}
        bg = ds.background
        assert bg.shape == (4,) and np.all(np.isfinite(bg)) and np.all(bg >= 0) and math.isclose(bg.sum(), 1, abs_tol=1e-6)
        assert set(ds.sites["strand"]) <= {"+", "-", "."}
        assert ((ds.sites["start"] >= 0) & (ds.sites["end"] <= ds.seq_length) & (ds.sites["start"] < ds.sites["end"])).all()
    return ds


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """A small valid dataset: its table (to re-label with random metadata) and its file bytes."""
    ds = api.generate("fast", seed=2, num_seqs=40, seq_length=60, gen_type="presence",
                      motifs=["STAT_known2", "CTCF_known1"], pos_motifs=["STAT_known2"])
    path = write_dataset(ds, tmp_path_factory.mktemp("valid") / "d.parquet")
    return ds, pq.read_table(path), path.read_bytes()


@FUZZ
@given(meta=metadata)
def test_random_metadata_json(valid, meta):
    ds, table, _ = valid
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        payload = json.dumps(meta).encode()
        pq.write_table(table.replace_schema_metadata({METADATA_KEY: payload}), path)
        back = check_read(path)
        if back is not None:  # what is read is exactly what was written
            assert np.array_equal(back.codes, ds.codes) and np.array_equal(back.labels, ds.labels)


@FUZZ
@given(payload=st.binary(max_size=200) | st.text(max_size=60).map(str.encode))
def test_random_metadata_bytes(valid, payload):
    _, table, _ = valid
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        pq.write_table(table.replace_schema_metadata({METADATA_KEY: payload}), path)
        check_read(path)


@FUZZ
@given(data=st.binary(max_size=2000), magic=st.booleans())
def test_random_bytes(data, magic):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        path.write_bytes(b"PAR1" + data + b"PAR1" if magic else data)
        assert check_read(path) is None


@FUZZ
@given(cut=st.data())
def test_truncated_valid_file(valid, cut):
    _, _, data = valid
    size = cut.draw(st.integers(0, len(data) - 1))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        path.write_bytes(data[:size])
        assert check_read(path) is None


@FUZZ
@given(cut=st.data())
def test_valid_file_with_its_tail_replaced(valid, cut):
    """Truncated, then the footer magic put back: the reader sees a plausible but broken file."""
    _, _, data = valid
    size = cut.draw(st.integers(4, len(data) - 5))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        path.write_bytes(data[:size] + data[-8:])
        check_read(path)


# -- run manifests --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, valid):
    ds, _, _ = valid
    root = tmp_path_factory.mktemp("run")
    path = write_dataset(ds, root / "d.parquet")
    ds = read_dataset(path)
    run = api.train(ds, "sklearn", seed=0, out_dir=root / "runs", model_name="lr")
    return ds, run.directory, json.loads((run.directory / MANIFEST).read_text())


def _manifest_values(real: dict):
    """Random manifests: the real one with keys dropped, replaced or added, or any JSON value."""
    keys = sorted(real)
    replaced = st.dictionaries(st.sampled_from(keys), json_value, max_size=3)
    dropped = st.sets(st.sampled_from(keys), max_size=3)
    edited = st.tuples(replaced, dropped, st.dictionaries(st.text(max_size=6), json_value, max_size=2)).map(
        lambda t: {**{k: v for k, v in real.items() if k not in t[1]}, **t[0], **t[2]})
    nested = st.fixed_dictionaries({"dataset": st.fixed_dictionaries({}, optional={
        "sha256": json_value, "path": json_value, "rule": json_value})}).map(lambda d: {**real, **d})
    return edited | nested | json_value


def check_load(directory: Path, ds: Dataset) -> None:
    before = sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
    try:
        run = load_run(directory, ds)
    except MotifprobeError as exc:
        assert str(exc) and "\n" not in str(exc), str(exc)
    else:
        assert isinstance(run, Run) and isinstance(run.manifest, dict)
        assert np.all(np.isfinite(run.model.predict_proba(ds.codes[:4])))
    assert sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) == before


@FUZZ
@given(data=st.data())
def test_random_manifest_json(run_dir, data):
    ds, source, real = run_dir
    manifest = data.draw(_manifest_values(real))
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "run"
        shutil.copytree(source, directory)
        (directory / MANIFEST).write_text(json.dumps(manifest))
        check_load(directory, ds)


@FUZZ
@given(payload=st.binary(max_size=300))
def test_random_manifest_bytes(run_dir, payload):
    ds, source, _ = run_dir
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "run"
        shutil.copytree(source, directory)
        (directory / MANIFEST).write_bytes(payload)
        check_load(directory, ds)


@pytest.mark.parametrize("edit", [{"dataset": None}, {"dataset": {"sha256": False}}, {"dataset": []},
                                  {"model_plugin": None}, b"\x80", b"[1, 2]"])
def test_manifests_the_fuzz_found(run_dir, tmp_path, edit):
    """Inputs that crashed load_run before it was hardened (AttributeError, TypeError, UnicodeDecodeError)."""
    ds, source, real = run_dir
    directory = tmp_path / "run"
    shutil.copytree(source, directory)
    payload = edit if isinstance(edit, bytes) else json.dumps({**real, **edit}).encode()
    (directory / MANIFEST).write_bytes(payload)
    with pytest.raises(MotifprobeError) as info:
        load_run(directory, ds)
    assert "\n" not in str(info.value) and str(directory) in str(info.value)
