"""Every input is validated where it enters: dataset metadata and labels, verdict thresholds, seeds.

Each bad input gives one MotifprobeError line (CLI: exit 2, one stderr line, nothing written);
valid inputs keep working exactly as before.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from motifprobe import api
from motifprobe.cli import main
from motifprobe.engine.dataset import Dataset, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.seeds import MAX_SEED, check_seed
from motifprobe.engine.stats import Thresholds

SITE = pa.struct([("name", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("strand", pa.string())])
GOOD_META = {"format_version": 1, "generator": "hand", "parameters": {"num_seqs": 2}, "seed": 3,
             "background": [0.3, 0.2, 0.2, 0.3]}


def write_table(path, *, labels=(0, 1), strands=("+", "-"), meta=GOOD_META, raw_meta: bytes | None = None,
                motifs=None):
    """A two-sequence dataset written straight with pyarrow (so any value can be planted)."""
    if motifs is None:
        motifs = pa.array([[{"name": "M", "start": 1, "end": 3, "strand": strands[0]}],
                           [{"name": "M", "start": 0, "end": 2, "strand": strands[1]}]], pa.list_(SITE))
    table = pa.table({"id": ["a", "b"], "sequence": ["ACGTAC", "TTGCAA"], "label": pa.array(labels, pa.int64()),
                      "motifs": motifs})
    payload = raw_meta if raw_meta is not None else json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata({b"motifprobe": payload}), path)
    return path


def refused(path, *needles):
    """read_dataset(path) raises one line naming the file and each needle."""
    with pytest.raises(MotifprobeError) as info:
        read_dataset(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    for needle in needles:
        assert needle in message, message
    return message


# -- dataset metadata -------------------------------------------------------------------------
def test_hand_written_valid_file_reads_as_before(tmp_path):
    ds = read_dataset(write_table(tmp_path / "d.parquet", labels=(0, None), strands=("+", ".")))
    assert list(ds.labels) == [0, -1] and list(ds.sites["strand"]) == ["+", "."]
    assert ds.metadata == {k: v for k, v in GOOD_META.items() if k != "format_version"}
    assert np.allclose(ds.background, [0.3, 0.2, 0.2, 0.3])


@pytest.mark.parametrize("background, shown", [
    ([1, 2], "[1, 2]"), ([float("nan")] * 4, "NaN"), ([0.25, 0.25, 0.25, float("inf")], "Infinity"),
    ([0.5, 0.5, 0.5, -0.5], "-0.5"), ([0.3, 0.2, 0.2, 0.2], "[0.3, 0.2, 0.2, 0.2]"),
    (["0.25"] * 4, '"0.25"'), ([True, False, False, False], "true"), ({"A": 1}, '{"A": 1}'), (0.25, "0.25"),
    ([[0.25], 0.25, 0.25, 0.25], "[[0.25]"), ([10**400, 0, 0, 0], "1000"),
])
def test_bad_metadata_background_is_refused(tmp_path, background, shown):
    path = write_table(tmp_path / "d.parquet", meta={**GOOD_META, "background": background})
    message = refused(path, "background", shown, "4 finite non-negative numbers", "summing to 1")
    assert len(message) < 400


def test_background_that_sums_to_one_within_1e6_is_accepted(tmp_path):
    bg = [0.3, 0.2, 0.2, 0.3 + 5e-7]
    ds = read_dataset(write_table(tmp_path / "d.parquet", meta={**GOOD_META, "background": bg}))
    assert ds.background.tolist() == bg


def test_background_of_51_nats_no_longer_reaches_interpretation(tmp_path):
    # The case: a background of [1, 2] made every replacement base A (+51 nats).
    path = write_table(tmp_path / "d.parquet", meta={**GOOD_META, "background": [1, 2]})
    with pytest.raises(MotifprobeError, match="background"):
        api.load_dataset(path)


@pytest.mark.parametrize("raw, needles", [
    (b"[1, 2]", ["must be a JSON object", "[1, 2]"]),
    (b'"text"', ["must be a JSON object", '"text"']),
    (b"null", ["must be a JSON object", "null"]),
    (b"{not json", ["not valid JSON"]),
    (b'{"seed": 1, "seed": 2}', ["key \"seed\" twice"]),
    (b'{"parameters": {"a": 1, "a": 2}}', ["key \"a\" twice"]),
    (b"\xff\xfe\x00{", ["not valid JSON"]),
    (b"[" * 100_000, ["not valid JSON"]),
])
def test_metadata_json_of_the_wrong_shape_is_refused(tmp_path, raw, needles):
    refused(write_table(tmp_path / "d.parquet", raw_meta=raw), "metadata key 'motifprobe'", *needles)


@pytest.mark.parametrize("key, value, allowed", [
    ("seed", "3", "a non-negative integer"), ("seed", -1, "a non-negative integer"),
    ("seed", 1.5, "a non-negative integer"), ("seed", True, "a non-negative integer"),
    ("parameters", [1, 2], "a JSON object"), ("parameters", "x", "a JSON object"),
    ("generator", 5, "a string"), ("generator", {"name": "x"}, "a string"),
    ("format_version", "1", "an integer from 1 to 1"), ("format_version", 1.0, "an integer from 1 to 1"),
    ("format_version", 0, "an integer from 1 to 1"), ("format_version", None, "an integer from 1 to 1"),
])
def test_metadata_keys_of_the_wrong_type_are_refused(tmp_path, key, value, allowed):
    path = write_table(tmp_path / "d.parquet", meta={**GOOD_META, key: value})
    refused(path, key, json.dumps(value), "allowed: " + allowed)


def test_newer_format_version_still_names_the_version(tmp_path):
    refused(write_table(tmp_path / "d.parquet", meta={**GOOD_META, "format_version": 9}), "format version 9",
            "reads up to 1")


def test_optional_metadata_keys_may_be_absent_or_null(tmp_path):
    meta = {"generator": None, "parameters": None, "seed": None, "background": None, "extra": {"any": [1]}}
    ds = read_dataset(write_table(tmp_path / "d.parquet", meta=meta))
    assert ds.metadata["extra"] == {"any": [1]}
    assert math.isclose(ds.background.sum(), 1.0)  # counted off the bases instead


def test_error_values_stay_on_one_line_and_short(tmp_path):
    path = write_table(tmp_path / "d.parquet", meta={**GOOD_META, "generator": ["line\nbreak" * 50]})
    message = refused(path, "generator")
    assert len(message) < 300


# -- labels and sites ---------------------------------------------------------------------------
@pytest.mark.parametrize("label", [2, -7, -1, 10**12])
def test_labels_outside_0_1_null_are_refused(tmp_path, label):
    refused(write_table(tmp_path / "d.parquet", labels=(0, label)), f"label {label}", "sequence \"b\"",
            "allowed: 0, 1 or empty (null)")


def test_unsigned_and_narrow_label_columns_read(tmp_path):
    path = tmp_path / "d.parquet"
    for kind in (pa.uint64(), pa.int8()):
        table = pa.table({"id": ["a", "b"], "sequence": ["ACGT", "ACGT"], "label": pa.array([1, None], kind),
                          "motifs": pa.array([[], []], pa.list_(SITE))})
        pq.write_table(table, path)
        assert list(read_dataset(path).labels) == [1, -1]
        pq.write_table(table.set_column(2, "label", pa.array([3, None], kind)), path)
        refused(path, "label 3")


@pytest.mark.parametrize("strand", ["x", "", "++", "plus"])
def test_site_strand_outside_plus_minus_dot_is_refused(tmp_path, strand):
    refused(write_table(tmp_path / "d.parquet", strands=("+", strand)), f'strand "{strand}"',
            "allowed: +, -, .")


def test_site_fields_of_the_wrong_type_or_null_are_refused(tmp_path):
    text_start = pa.struct([("name", pa.string()), ("start", pa.string()), ("end", pa.int64()),
                            ("strand", pa.string())])
    motifs = pa.array([[{"name": "M", "start": "1", "end": 3, "strand": "+"}], []], pa.list_(text_start))
    refused(write_table(tmp_path / "a.parquet", motifs=motifs), "field 'start'", "expected integer")
    motifs = pa.array([[{"name": None, "start": 1, "end": 3, "strand": "+"}], []], pa.list_(SITE))
    refused(write_table(tmp_path / "b.parquet", motifs=motifs), "name", "null")
    odd = pa.struct([("a", pa.string()), ("b", pa.int64()), ("c", pa.int64()), ("d", pa.string())])
    motifs = pa.array([[{"a": "M", "b": 1, "c": 3, "d": "+"}], []], pa.list_(odd))
    refused(write_table(tmp_path / "c.parquet", motifs=motifs), "list of struct(name, start, end, strand)")


def test_empty_id_is_refused(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": ["a", ""], "sequence": ["ACGT", "ACGT"], "label": [0, 1],
                             "motifs": pa.array([[], []], pa.list_(SITE))}), path)
    refused(path, "unique and non-empty")


def test_cli_reading_a_bad_dataset_prints_one_line(tmp_path, capsys):
    path = write_table(tmp_path / "d.parquet", labels=(0, 2))
    assert main(["export", str(path), "--fasta", str(tmp_path / "x.fa")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "label 2" in err[0]
    assert not (tmp_path / "x.fa").exists()


# -- a tiny real dataset and run (for CLI and API checks) -----------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    ds = api.generate("fast", seed=1, out=root / "d.parquet", num_seqs=300, seq_length=100, gen_type="order",
                      motifs=["STAT_known2", "CTCF_known1"])
    ds = api.load_dataset(root / "d.parquet")
    run = api.train(ds, "sklearn", seed=0, out_dir=root / "runs", model_name="lr")
    return ds, run, root


def one_error_line(capsys, *needles) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "np.float64" not in lines[0] and "np.int64" not in lines[0] and "Traceback" not in captured.err
    return lines[0]


# -- verdict thresholds -------------------------------------------------------------------------
@pytest.mark.parametrize("flag, value, needle", [
    ("--alpha", "nan", "0 < alpha <= 1"), ("--alpha", "-1", "0 < alpha <= 1"), ("--alpha", "5", "0 < alpha <= 1"),
    ("--alpha", "0", "0 < alpha <= 1"), ("--min-effect", "nan", "a finite number >= 0"),
    ("--min-effect", "-1", "a finite number >= 0"), ("--min-effect", "inf", "a finite number >= 0"),
    ("--min-count", "-1", "an integer >= 1"), ("--min-count", "0", "an integer >= 1"),
])
def test_bad_thresholds_are_refused_by_interpret_and_compare(tiny, tmp_path, capsys, flag, value, needle):
    ds, run, root = tiny
    out = tmp_path / "results.csv"
    code = main(["interpret", "--run", str(run.directory), "--data-file", str(root / "d.parquet"),
                 "--out", str(out), flag, value])
    assert code == 2
    one_error_line(capsys, flag, needle, f"got {value}" if value != "0" else "got 0")
    assert not out.exists() and not out.with_suffix(".json").exists()
    code = main(["compare", "--data-file", str(root / "d.parquet"), "--run", str(run.directory),
                 "--out-dir", str(tmp_path / "cmp"), flag, value])
    assert code == 2
    one_error_line(capsys, flag, needle)
    assert not (tmp_path / "cmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_valid_thresholds_still_work_from_the_cli(tiny, tmp_path, capsys):
    ds, run, root = tiny
    out = tmp_path / "results.csv"
    code = main(["interpret", "--run", str(run.directory), "--data-file", str(root / "d.parquet"), "--out", str(out),
                 "--alpha", "1", "--min-effect", "0", "--min-count", "1", "--tests", "presence",
                 "--num-perturbs", "1"])
    assert code == 0 and out.exists()
    assert len(pd.read_csv(out)) == 2


@pytest.mark.parametrize("kwargs, needle", [
    (dict(alpha=float("nan")), "alpha"), (dict(alpha=1.5), "alpha"), (dict(alpha="0.1"), "'0.1'"),
    (dict(min_effect=-0.1), "min_effect"), (dict(min_effect=None), "min_effect"),
    (dict(min_count=2.5), "min_count"), (dict(min_count=True), "min_count"), (dict(min_count=0), "min_count"),
    (dict(tolerance=-1.0), "tolerance"), (dict(n_bootstrap=0), "n_bootstrap"),
    (dict(alpha=np.float64(7.0)), "got 7.0"), (dict(min_count=np.int64(-3)), "got -3"),
])
def test_thresholds_api_refuses_bad_values(kwargs, needle):
    with pytest.raises(MotifprobeError) as info:
        Thresholds(**kwargs)
    assert needle in str(info.value) and "np." not in str(info.value)


def test_thresholds_store_plain_numbers():
    t = Thresholds(alpha=np.float64(0.01), min_effect=np.float32(0.5), min_count=np.int64(3))
    assert type(t.alpha) is float and type(t.min_effect) is float and type(t.min_count) is int
    assert json.loads(json.dumps(t.to_dict()))["min_count"] == 3
    assert Thresholds(alpha=1, min_effect=0, min_count=1).alpha == 1.0


# -- seeds --------------------------------------------------------------------------------------
def test_check_seed_accepts_integers_in_range_only():
    assert check_seed(0) == 0 and check_seed(np.int64(7)) == 7 and type(check_seed(np.uint32(7))) is int
    assert check_seed(MAX_SEED) == MAX_SEED
    for bad in (-1, MAX_SEED + 1, 1.5, 3.0, True, "3", None, np.float64(2.0)):
        with pytest.raises(MotifprobeError, match="must be an integer from 0 to 4294967295") as info:
            check_seed(bad)
        assert "np." not in str(info.value) and "\n" not in str(info.value)


def _seed_commands(root, run, tmp_path):
    data = str(root / "d.parquet")
    return {
        "generate": (["generate", "--generator-plugin", "fast", "--num-seqs", "50", "--out", str(tmp_path / "g.parquet")],
                     tmp_path / "g.parquet"),
        "train": (["train", "--data-file", data, "--model-plugin", "sklearn", "--out-dir", str(tmp_path / "runs")],
                  tmp_path / "runs"),
        "interpret": (["interpret", "--run", str(run.directory), "--data-file", data, "--out", str(tmp_path / "r.csv")],
                      tmp_path / "r.csv"),
        "compare": (["compare", "--data-file", data, "--run", str(run.directory), "--out-dir", str(tmp_path / "cmp")],
                    tmp_path / "cmp"),
    }


@pytest.mark.parametrize("command", ["generate", "train", "interpret", "compare"])
@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_every_command_refuses_a_bad_seed_in_one_line(tiny, tmp_path, capsys, command, seed):
    ds, run, root = tiny
    argv, out = _seed_commands(root, run, tmp_path)[command]
    assert main(argv + ["--seed", seed]) == 2
    one_error_line(capsys, "--seed", "must be an integer from 0 to 4294967295", f"got {seed}")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_non_integer_seed_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--seed", "1.5"])
    assert info.value.code == 2
    one_error_line(capsys, "--seed", "1.5")


def test_api_refuses_bad_seeds_everywhere(tiny, tmp_path):
    ds, run, root = tiny
    calls = {
        "generate": lambda s: api.generate("fast", seed=s, num_seqs=50),
        "train": lambda s: api.train(ds, "sklearn", seed=s, out_dir=tmp_path / "runs"),
        "interpret": lambda s: api.interpret(run, ds, seed=s),
        "compare": lambda s: api.compare(ds, runs=[run.directory], seed=s, out_dir=tmp_path / "cmp"),
    }
    for name, call in calls.items():
        for bad in (-1, 2.5, "7"):
            with pytest.raises(MotifprobeError, match="seed must be an integer"):
                call(bad)
    assert list(tmp_path.iterdir()) == []


def test_api_train_keeps_its_signature_and_accepts_numpy_seeds(tiny):
    import inspect

    from motifprobe.engine.training import train

    ds, run, root = tiny
    assert inspect.signature(api.train) == inspect.signature(train) and api.train.__doc__ == train.__doc__
    again = api.train(ds, "sklearn", seed=np.int64(0), out_dir=None)
    assert again.test_ids == run.test_ids


# -- numbers in messages ------------------------------------------------------------------------
def test_background_errors_print_plain_numbers(capsys, tmp_path):
    code = main(["generate", "--generator-plugin", "fast", "--num-seqs", "50", "--background-dist", "1", "2", "3", "4",
                 "--out", str(tmp_path / "g.parquet")])
    assert code == 2
    one_error_line(capsys, "[1.0, 2.0, 3.0, 4.0]")
    with pytest.raises(MotifprobeError) as info:
        api.generate("fast", num_seqs=50, background=np.array([0.5, 0.5, 0.5, -0.5]))
    assert "[0.5, 0.5, 0.5, -0.5]" in str(info.value) and "np." not in str(info.value)
    with pytest.raises(MotifprobeError, match="must be 4 numbers"):
        api.generate("fast", num_seqs=50, background=["a", "b", "c", "d"])


def test_written_datasets_still_round_trip_their_metadata(tmp_path):
    ds = Dataset(np.array(["a", "b"], object), np.zeros((2, 4), np.uint8), np.array([1, -1]),
                 metadata={"generator": "x", "seed": 0, "parameters": {}, "background": [0.25] * 4})
    back = read_dataset(write_dataset(ds, tmp_path / "d.parquet"))
    assert back.metadata == ds.metadata and list(back.labels) == [1, -1]
