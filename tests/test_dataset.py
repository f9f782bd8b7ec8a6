"""Dataset file: round trip, validation of bad files, FASTA/BED export, encoding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from motifprobe.engine.dataset import export_bed, export_fasta, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.sequences import decode, encode, one_hot


def test_parquet_round_trip_keeps_everything(order_ds, tmp_path):
    path = write_dataset(order_ds, tmp_path / "d.parquet")
    back = read_dataset(path)
    assert np.array_equal(back.codes, order_ds.codes)
    assert np.array_equal(back.labels, order_ds.labels)
    assert list(back.ids) == list(order_ds.ids)
    pd.testing.assert_frame_equal(back.sites, order_ds.sites, check_dtype=False)
    assert back.metadata["rule"] == order_ds.rule
    assert back.metadata["background"] == order_ds.metadata["background"]
    assert len(back.sha256) == 64


def test_schema_is_the_documented_one(order_ds, tmp_path):
    path = write_dataset(order_ds, tmp_path / "d.parquet")
    schema = pq.read_schema(path)
    assert schema.names == ["id", "sequence", "label", "motifs"]
    site = schema.field("motifs").type.value_type
    assert [f.name for f in site] == ["name", "start", "end", "strand"]
    assert b"motifprobe" in schema.metadata


def test_write_is_deterministic(order_ds, tmp_path):
    a = write_dataset(order_ds, tmp_path / "a.parquet").read_bytes()
    b = write_dataset(order_ds, tmp_path / "b.parquet").read_bytes()
    assert a == b


def test_fasta_and_bed_export(order_ds, tmp_path):
    small = order_ds.subset(np.arange(5))
    fasta = export_fasta(small, tmp_path / "x.fa").read_text().splitlines()
    assert fasta[0] == f">{small.ids[0]} label={small.labels[0]}"
    assert fasta[1] == decode(small.codes[:1])[0]
    bed = export_bed(small, tmp_path / "x.bed").read_text().splitlines()
    assert len(bed) == len(small.sites)
    chrom, start, end, name, _, strand = bed[0].split("\t")
    row = small.sites.iloc[0]
    assert (chrom, int(start), int(end), name) == (small.ids[row["seq"]], row["start"], row["end"], row["name"])


def test_csv_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,sequence,label\na,ACGT,1\n")
    with pytest.raises(MotifprobeError, match="not a readable Parquet"):
        read_dataset(path)


def test_truncated_file_is_refused(order_ds, tmp_path):
    path = write_dataset(order_ds, tmp_path / "d.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MotifprobeError, match="not a readable Parquet"):
        read_dataset(path)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": ["a"], "sequence": ["ACGT"]}), path)
    with pytest.raises(MotifprobeError, match="label, motifs"):
        read_dataset(path)


def test_non_acgt_character_is_named(tmp_path):
    path = tmp_path / "d.parquet"
    site = pa.list_(pa.struct([("name", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("strand", pa.string())]))
    pq.write_table(pa.table({"id": ["a", "b"], "sequence": ["ACGT", "ACXT"], "label": [0, 1],
                             "motifs": pa.array([[], []], site)}), path)
    with pytest.raises(MotifprobeError, match="sequence b has 'X' at position 2"):
        read_dataset(path)


def test_site_outside_sequence_is_refused(tmp_path):
    path = tmp_path / "d.parquet"
    site = pa.list_(pa.struct([("name", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("strand", pa.string())]))
    pq.write_table(pa.table({"id": ["a"], "sequence": ["ACGT"], "label": [0],
                             "motifs": pa.array([[{"name": "m", "start": 2, "end": 9, "strand": "+"}]], site)}), path)
    with pytest.raises(MotifprobeError, match="outside"):
        read_dataset(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MotifprobeError, match="does not exist"):
        read_dataset(tmp_path / "nope.parquet")
    with pytest.raises(MotifprobeError, match="directory"):
        read_dataset(tmp_path)


def test_encode_decode_one_hot():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(50, 30)).astype(np.uint8)
    assert np.array_equal(encode(decode(codes)), codes)
    assert np.array_equal(encode(["acgt"]), [[0, 1, 2, 3]])
    oh = one_hot(codes)
    assert oh.shape == (50, 4, 30) and oh.dtype == np.float32
    assert np.array_equal(oh.argmax(axis=1), codes) and np.all(oh.sum(axis=1) == 1)
    with pytest.raises(MotifprobeError, match="length"):
        encode(["ACGT", "ACG"])


def test_subset_of_a_run_of_rows_takes_its_sites_slice_and_any_index_still_works():
    """interpret's chunks are runs of rows: their sites come from a bisected slice of the sorted
    table (cost: the chunk, not the dataset); the result is what filtering the table gives."""
    from motifprobe import api

    ds = api.generate("fast", seed=3, num_seqs=300, motifs=["STAT_known2", "CTCF_known1"], gen_type="order")
    seq = ds.sites["seq"].to_numpy()
    for lo, hi in ((0, 300), (17, 140), (299, 300), (50, 51)):
        run = ds.subset(np.arange(lo, hi))
        expected = ds.sites[(seq >= lo) & (seq < hi)].reset_index(drop=True)
        expected["seq"] = expected["seq"] - lo
        assert run.sites.equals(expected)
        np.testing.assert_array_equal(run.codes, ds.codes[lo:hi])
    picked = ds.subset(np.array([5, 3, 200]))  # not a run: the general path, rows in the given order
    assert list(picked.ids) == [ds.ids[5], ds.ids[3], ds.ids[200]]
    for new, old in enumerate([5, 3, 200]):
        mine = picked.sites[picked.sites["seq"] == new][["name", "start", "end"]].reset_index(drop=True)
        theirs = ds.sites[ds.sites["seq"] == old][["name", "start", "end"]].reset_index(drop=True)
        assert mine.equals(theirs)
    unsorted = ds.subset(np.arange(300))
    unsorted.sites = unsorted.sites.iloc[::-1].reset_index(drop=True)  # a table not sorted by seq
    part = unsorted.subset(np.arange(10, 20))
    assert sorted(part.sites["seq"].tolist()) == sorted((seq[(seq >= 10) & (seq < 20)] - 10).tolist())
