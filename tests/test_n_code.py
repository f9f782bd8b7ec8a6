"""N is the fifth code (4) end to end; datasets hold sequences of different lengths."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from motifprobe.engine.dataset import Dataset, export_fasta, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.kmers import kmer_counts, kmer_features
from motifprobe.engine.ops import n_mask, replace_masked, shuffle_windows, dinuc_shuffle_windows
from motifprobe.engine.sequences import (bases_from_uniform, decode, encode, encode_padded, one_hot,
                                         reverse_complement)


def test_encode_reads_n_iupac_and_lower_case():
    codes = encode(["ACGTN", "acgtn", "RYSWK", "MBDHV", "rYsWk"])
    assert codes.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [4] * 5, [4] * 5, [4] * 5]
    assert decode(codes) == ["ACGTN", "ACGTN", "NNNNN", "NNNNN", "NNNNN"]


@pytest.mark.parametrize("letter", ["X", "U", "-", "*", " ", "é"])
def test_encode_refuses_other_letters_naming_record_and_position(letter):
    with pytest.raises(MotifprobeError, match=re.escape(f"sequence rec2 has {letter!r} at position 3: allowed: A, C, G, T, N")):
        encode(["ACGTA", f"ACG{letter}A"], ids=["rec1", "rec2"])


def test_encode_padded_pads_with_n_and_keeps_lengths():
    codes, lengths = encode_padded(["AC", "ACGTA", "G"])
    assert lengths.tolist() == [2, 5, 1]
    assert codes.tolist() == [[0, 1, 4, 4, 4], [0, 1, 2, 3, 0], [2, 4, 4, 4, 4]]
    assert decode(codes, lengths) == ["AC", "ACGTA", "G"]


def test_one_hot_n_rows_are_all_zero():
    codes = encode(["ANCN"])
    for channels_first in (True, False):
        oh = one_hot(codes, channels_first=channels_first)
        per_position = oh.sum(axis=1 if channels_first else 2)[0]
        assert per_position.tolist() == [1, 0, 1, 0]


def test_reverse_complement_keeps_n():
    assert reverse_complement(encode(["ACNGT"])).tolist() == [[0, 1, 4, 2, 3]]


def test_kmer_counts_skip_kmers_with_n():
    codes = encode(["ACNAC", "ACGAC"])
    counts = kmer_counts(codes, 2)
    names = {"AC": 1, "CA": 4, "CG": 6, "GA": 8}
    assert counts[0].sum() == 2 and counts[0, names["AC"]] == 2  # AC, (CN), (NA), AC
    assert counts[1].sum() == 4 and counts[1, names["CG"]] == 1
    # frequencies scale by the windows without N: the mean over features stays 1 either way
    feats = kmer_features(codes, 2, frequencies=True)
    assert np.allclose(feats.sum(axis=1), 16)
    all_n = kmer_features(encode(["NNNN"]), 2, frequencies=True)
    assert not all_n.any()


def test_kmer_features_unchanged_without_n():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(20, 30)).astype(np.uint8)
    direct = np.zeros((20, 64), np.float32)
    for i in range(20):
        for j in range(28):
            direct[i, codes[i, j] * 16 + codes[i, j + 1] * 4 + codes[i, j + 2]] += 1
    assert np.array_equal(kmer_features(codes, 3), direct)
    assert np.array_equal(kmer_features(codes, 3, frequencies=True), direct * np.float32(64 / 28))


def test_random_redraws_never_make_n_and_shuffles_keep_it():
    u = np.linspace(0, 1, 10_000, endpoint=False)
    assert bases_from_uniform(u, np.array([0.25] * 4)).max() <= 3
    codes = encode(["NNNNACGTNN"] * 20)
    out = replace_masked(codes, n_mask(codes), 3, np.array([0.25] * 4), np.random.default_rng(0))
    assert out.max() <= 3  # every N redrawn: none created
    rng = np.random.default_rng(1)
    for shuffled in (shuffle_windows(codes, rng), dinuc_shuffle_windows(codes, rng)):
        assert ((shuffled == 4).sum(axis=1) == 6).all()  # composition (N included) kept


def test_n_mask_marks_n_and_padding():
    codes, _ = encode_padded(["ANC", "A"])
    assert n_mask(codes).tolist() == [[False, True, False], [False, True, True]]


@pytest.mark.parametrize("plugin", ["sklearn", "xgboost-kmer", "torch-cnn"])
def test_model_plugins_fit_and_predict_with_n(plugin):
    from motifprobe.engine.registry import get_registry

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(120, 40)).astype(np.uint8)
    labels = (codes == 2).sum(axis=1) > 10
    codes[::3, 5:12] = 4
    params = {"epochs": 1} if plugin == "torch-cnn" else {}
    model = get_registry().get("model", plugin).factory(**params) if params else get_registry().get("model", plugin).factory()
    model.fit(codes, labels.astype(np.int64), seed=0)
    probs = model.predict_proba(codes)
    assert probs.shape == (120, 2) and np.isfinite(probs).all()


# -- variable lengths -------------------------------------------------------------------------
def ragged() -> Dataset:
    codes, lengths = encode_padded(["ACGTACGTAC", "ACG", "NNACGTNN"])
    sites = pd.DataFrame({"seq": [0, 0, 2], "name": ["m", "m", "m"], "start": [0, 6, 2], "end": [3, 9, 6],
                          "strand": ["+", "-", "+"]})
    return Dataset(np.array(["a", "b", "c"], object), codes, np.array([1, -1, 0]), sites, {"x": 1}, lengths=lengths)


def test_ragged_round_trip_keeps_own_lengths_in_the_file(tmp_path):
    ds = ragged()
    path = write_dataset(ds, tmp_path / "d.parquet")
    table = pq.read_table(path)
    assert table.column("sequence").to_pylist() == ["ACGTACGTAC", "ACG", "NNACGTNN"]
    assert table.column("label").to_pylist() == [1, None, 0]
    back = read_dataset(path)
    assert back.lengths.tolist() == [10, 3, 8] and back.seq_length == 10
    assert np.array_equal(back.codes, ds.codes) and (back.codes[1, 3:] == 4).all()
    assert back.labels.tolist() == [1, -1, 0]
    sub = back.subset(np.array([2, 1]))
    assert sub.lengths.tolist() == [8, 3]


def test_equal_length_dataset_round_trips_byte_for_byte(tmp_path, order_ds):
    small = order_ds.subset(np.arange(50))
    first = write_dataset(small, tmp_path / "a.parquet")
    stored = pq.read_table(first).column("sequence").to_pylist()
    assert {len(s) for s in stored} == {200} and not any("N" in s for s in stored)
    back = read_dataset(first)
    assert back.equal_lengths and np.array_equal(back.codes, small.codes)
    again = write_dataset(back, tmp_path / "b.parquet")
    assert first.read_bytes() == again.read_bytes()
    assert pq.read_schema(first).field("motifs").type.value_type.names == ["name", "start", "end", "strand"]


def test_site_beyond_own_length_is_refused(tmp_path):
    ds = ragged()
    ds.sites.loc[len(ds.sites)] = [1, "m", 1, 5, "+"]  # sequence b is 3 bp long (padded to 10)
    path = write_dataset(ds, tmp_path / "d.parquet")
    with pytest.raises(MotifprobeError, match="motif m in sequence b has start 1, end 5, outside 0..3"):
        read_dataset(path)


def test_scores_and_p_values_round_trip_and_are_checked(tmp_path):
    ds = ragged()
    ds.sites["score"] = [5.5, np.nan, 1.0]
    ds.sites["p_value"] = [1e-5, np.nan, 2e-4]
    path = write_dataset(ds, tmp_path / "d.parquet")
    site = pq.read_schema(path).field("motifs").type.value_type
    assert site.names == ["name", "start", "end", "strand", "score", "p_value"]
    back = read_dataset(path)
    assert np.allclose(back.sites["score"], [5.5, np.nan, 1.0], equal_nan=True)
    assert np.allclose(back.sites["p_value"], [1e-5, np.nan, 2e-4], equal_nan=True)
    ds.sites["p_value"] = [1e-5, 3.0, 2e-4]
    write_dataset(ds, tmp_path / "bad.parquet")
    with pytest.raises(MotifprobeError, match="p_value 3.0; allowed: a number in 0..1 or null"):
        read_dataset(tmp_path / "bad.parquet")


def test_source_metadata_is_checked(tmp_path):
    ds = ragged()
    ds.metadata = {"source": {"kind": "fasta", "path": "x.fa", "sha256": "0" * 64, "genome": None, "width": None}}
    read_dataset(write_dataset(ds, tmp_path / "ok.parquet"))
    ds.metadata = {"source": {"kind": "vcf", "path": "x", "sha256": "0" * 64}}
    write_dataset(ds, tmp_path / "bad.parquet")
    with pytest.raises(MotifprobeError, match="source kind \"vcf\" is not allowed; allowed: fasta, bed"):
        read_dataset(tmp_path / "bad.parquet")
    ds.metadata = {"source": {"kind": "bed", "path": "x", "sha256": "abc"}}
    write_dataset(ds, tmp_path / "bad2.parquet")
    with pytest.raises(MotifprobeError, match="source sha256 \"abc\" is not allowed"):
        read_dataset(tmp_path / "bad2.parquet")


def test_export_fasta_writes_own_lengths_and_no_label_for_unlabeled(tmp_path):
    text = export_fasta(ragged(), tmp_path / "x.fa").read_text()
    assert text == ">a label=1\nACGTACGTAC\n>b\nACG\n>c label=0\nNNACGTNN\n"


def test_fit_length_crops_pads_and_shifts_sites():
    ds = ragged()
    fitted, note = ds.fit_length(6)
    # a (10 bp): keeps 2..8; b (3 bp): 1 N left, 2 right; c (8 bp): keeps 1..7
    assert decode(fitted.codes) == ["GTACGT", "NACGNN", "NACGTN"]
    assert fitted.lengths.tolist() == [6, 6, 6] and fitted.seq_length == 6
    # a's sites [0,3) and [6,9) shift by -2 to [-2,1) (dropped) and [4,7) (dropped); c's [2,6) -> [1,5)
    assert fitted.sites[["seq", "start", "end"]].values.tolist() == [[2, 1, 5]]
    assert note == "sequences fitted to 6 bp: 2 of 3 centre-cropped, 1 N-padded, 2 motif site(s) outside the window dropped"
    assert fitted.metadata["fit_length"] == {"length": 6, "cropped": 2, "padded": 1, "sites_dropped": 2}
    wide, _ = ds.fit_length(12)
    assert decode(wide.codes)[1] == "NNNNACGNNNNN" and decode(wide.codes)[0] == "NACGTACGTACN"
    assert wide.sites[["seq", "start", "end"]].values.tolist() == [[0, 1, 4], [0, 7, 10], [2, 4, 8]]
    with pytest.raises(MotifprobeError, match="length 0 is not allowed"):
        ds.fit_length(0)
