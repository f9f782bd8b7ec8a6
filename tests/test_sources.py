"""``motifprobe import``: datasets from FASTA / gzipped FASTA and from BED + genome FASTA files."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from motifprobe.cli import main
from motifprobe.engine.dataset import file_sha256, read_dataset
from motifprobe.engine.sequences import decode

FASTA = """>s1 label=1 some description
ACGTNNacgt
RYac
>s2 label=0
GGGGCCCCAAAATTTT
>s3
tttt

>s4 label=-1
ACGTACGTAC
"""
GENOME = ">chr1 first\n" + "ACGTACGTAC" * 5 + "\n>chr2\n" + "GGGGGCCCCC" * 2 + "\n"  # 50 bp, 20 bp


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


@pytest.fixture
def files(tmp_path):
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(FASTA)
    genome = tmp_path / "genome.fa"
    genome.write_text(GENOME)
    bed = tmp_path / "peaks.bed"
    bed.write_text("track name=x\nchr1\t10\t20\tpeakA\t0\t+\t1\nchr2\t4\t8\t.\t0\t-\t0\n# comment\nchr1\t40\t48\tpeakC\t0\t.\t.\n")
    return tmp_path, fasta, genome, bed


def test_fasta_with_n_iupac_lower_case_mixed_lengths_and_header_labels(files, capsys):
    root, fasta, _, _ = files
    out = root / "d.parquet"
    code, text, err = run(["import", "--fasta", str(fasta), "--out", str(out)], capsys)
    assert code == 0, err
    assert "4 sequences x 4-16 bp" in text and "unlabeled" in text and "N bases" in text
    ds = read_dataset(out)
    assert list(ds.ids) == ["s1", "s2", "s3", "s4"]
    assert ds.labels.tolist() == [1, 0, -1, -1]
    assert ds.lengths.tolist() == [14, 16, 4, 10]
    assert decode(ds.codes, ds.lengths) == ["ACGTNNACGTNNAC", "GGGGCCCCAAAATTTT", "TTTT", "ACGTACGTAC"]
    assert pq.read_table(out).column("sequence").to_pylist()[2] == "TTTT"  # own length in the file
    assert ds.metadata["source"] == {"kind": "fasta", "path": str(fasta), "sha256": file_sha256(fasta), "genome": None,
                                     "width": None, "labels": {"kind": "header"}, "out_of_bounds": None}
    assert len(ds.sites) == 0


def test_gzipped_fasta_reads_the_same(files, capsys):
    root, fasta, _, _ = files
    gz = root / "seqs.fa.gz"
    gz.write_bytes(gzip.compress(fasta.read_bytes()))
    assert run(["import", "--fasta", str(fasta), "--out", str(root / "a.parquet")], capsys)[0] == 0
    assert run(["import", "--fasta", str(gz), "--out", str(root / "b.parquet")], capsys)[0] == 0
    a, b = read_dataset(root / "a.parquet"), read_dataset(root / "b.parquet")
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.labels, b.labels)
    assert b.metadata["source"]["sha256"] == file_sha256(gz)


def test_tsv_labels_override_headers_and_unlisted_ids_are_unlabeled(files, capsys):
    root, fasta, _, _ = files
    tsv = root / "labels.tsv"
    tsv.write_text("id\tlabel\ns3\t1\ns1\t0\n")
    out = root / "d.parquet"
    assert run(["import", "--fasta", str(fasta), "--labels", str(tsv), "--out", str(out)], capsys)[0] == 0
    ds = read_dataset(out)
    assert ds.labels.tolist() == [0, -1, 1, -1]
    assert ds.metadata["source"]["labels"]["kind"] == "tsv"


def test_unlabeled_fasta_is_a_dataset_with_null_labels(tmp_path, capsys):
    fasta = tmp_path / "u.fa"
    fasta.write_text(">a\nACGT\n>b\nACGTT\n")
    out = tmp_path / "d.parquet"
    code, text, _ = run(["import", "--fasta", str(fasta), "--out", str(out)], capsys)
    assert code == 0 and "unlabeled" in text and "label 0" not in text
    assert pq.read_table(out).column("label").to_pylist() == [None, None]
    assert read_dataset(out).labels.tolist() == [-1, -1]


def test_fasta_width_fits_every_sequence(files, capsys):
    root, fasta, _, _ = files
    out = root / "d.parquet"
    code, _, err = run(["import", "--fasta", str(fasta), "--width", "6", "--out", str(out)], capsys)
    assert code == 2 and "record 's3' is 4 bp, shorter than --width 6" in err and not out.exists()
    code, text, _ = run(["import", "--fasta", str(fasta), "--width", "6", "--out-of-bounds", "pad", "--out", str(out)],
                        capsys)
    assert code == 0 and "centre-cropped" in text
    ds = read_dataset(out)
    assert decode(ds.codes) == ["NNACGT", "CCCAAA", "NTTTTN", "GTACGT"]


def test_round_trip_import_write_read_export_import(files, capsys):
    root, fasta, _, _ = files
    first, exported, second = root / "a.parquet", root / "x.fa", root / "b.parquet"
    assert run(["import", "--fasta", str(fasta), "--out", str(first)], capsys)[0] == 0
    assert run(["export", str(first), "--fasta", str(exported)], capsys)[0] == 0
    assert run(["import", "--fasta", str(exported), "--out", str(second)], capsys)[0] == 0
    a, b = read_dataset(first), read_dataset(second)
    assert list(a.ids) == list(b.ids) and np.array_equal(a.codes, b.codes)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.lengths, b.lengths)


def test_bed_windows_of_width_centred_on_intervals(files, capsys):
    root, _, genome, bed = files
    out = root / "d.parquet"
    code, text, err = run(["import", "--bed", str(bed), "--genome", str(genome), "--width", "6",
                           "--label-column", "7", "--out", str(out)], capsys)
    assert code == 0, err
    ds = read_dataset(out)
    assert list(ds.ids) == ["peakA", "chr2:4-8", "peakC"]
    # centres 15, 6, 44 -> windows [12, 18), [3, 9), [41, 47)
    assert decode(ds.codes) == [("ACGTACGTAC" * 5)[12:18], ("GGGGGCCCCC" * 2)[3:9], ("ACGTACGTAC" * 5)[41:47]]
    assert ds.labels.tolist() == [1, 0, -1]
    src = ds.metadata["source"]
    assert (src["kind"], src["genome"], src["width"], src["padded"]) == ("bed", str(genome), 6, 0)


def test_bed_without_width_keeps_intervals_as_they_are(files, capsys):
    root, _, genome, bed = files
    out = root / "d.parquet"
    assert run(["import", "--bed", str(bed), "--genome", str(genome), "--out", str(out)], capsys)[0] == 0
    ds = read_dataset(out)
    assert ds.lengths.tolist() == [10, 4, 8] and ds.labels.tolist() == [-1, -1, -1]
    assert decode(ds.codes, ds.lengths)[1] == "GCCC"


def test_bed_window_off_the_chromosome_refused_or_padded(files, capsys):
    root, _, genome, bed = files
    out = root / "d.parquet"
    code, _, err = run(["import", "--bed", str(bed), "--genome", str(genome), "--width", "20", "--out", str(out)], capsys)
    assert code == 2 and "\n" not in err and not out.exists()
    assert "line 3 (chr2:4-8): the window chr2:-4-16 runs off the chromosome (length 20)" in err
    code, text, _ = run(["import", "--bed", str(bed), "--genome", str(genome), "--width", "20",
                         "--out-of-bounds", "pad", "--out", str(out)], capsys)
    assert code == 0 and "N-padded off the chromosome" in text
    ds = read_dataset(out)
    chrom1 = "ACGTACGTAC" * 5
    assert decode(ds.codes) == [chrom1[5:25], "NNNN" + ("GGGGGCCCCC" * 2)[:16], chrom1[34:50] + "NNNN"]
    assert ds.metadata["source"]["padded"] == 2


BAD = [
    ("empty.fa", "", [], "has no records"),
    ("dup.fa", ">a\nACGT\n>b\nAC\n>a\nGG\n", [], "id 'a' appears twice (lines 1 and 5)"),
    ("zero.fa", ">a\nACGT\n>b\n>c\nAC\n", [], "record 'b' (line 3) has no sequence (length 0)"),
    ("zero_last.fa", ">a\nACGT\n>b\n", [], "record 'b' (line 3) has no sequence"),
    ("letters.fa", ">a\nACGT\n>b\nACGTACGX\n", [], "sequence b has 'X' at position 7"),
    ("nohead.fa", "ACGT\n>a\nAC\n", [], "line 1 comes before any header"),
    ("label.fa", ">a label=2\nACGT\n", [], "record 'a' has label '2'; allowed: 0, 1"),
    ("ok.fa", ">a\nACGT\n", ["--genome", "{genome}"], "--genome goes with --bed"),
    ("ok.fa", ">a\nACGT\n", ["--labels", "{root}/nope.tsv"], "--labels file"),
    ("ok.fa", ">a\nACGT\n", ["--width", "0"], "--width 0 is not allowed"),
    ("ok.fa", ">a\nACGT\n", ["--label-column", "5"], "--label-column goes with --bed"),
]


@pytest.mark.parametrize("name, text, extra, fragment", BAD)
def test_bad_fasta_input_is_one_line_exit_2_no_file(tmp_path, capsys, name, text, extra, fragment):
    fasta = tmp_path / name
    fasta.write_text(text)
    (tmp_path / "genome.fa").write_text(GENOME)
    out = tmp_path / "out.parquet"
    extra = [e.format(genome=tmp_path / "genome.fa", root=tmp_path) for e in extra]
    code, _, err = run(["import", "--fasta", str(fasta), "--out", str(out)] + extra, capsys)
    assert code == 2 and fragment in err, err
    assert "\n" not in err and "Traceback" not in err and not out.exists()


BAD_BED = [
    ("chrX\t1\t5\n", [], "line 1 (chrX:1-5): chromosome 'chrX' is not in --genome"),
    ("chr3\t1\t5\n", [], "(close: chr2, chr1)"),
    ("chr1\t5\t5\n", [], "line 1 (chr1:5-5) needs 0 <= start < end"),
    ("chr1\tfive\t9\n", [], "line 1 has start 'five', end '9'; allowed: integers"),
    ("chr1\t5\t60\n", [], "the window chr1:5-60 runs off the chromosome (length 50)"),
    ("chr1\t1\t5\tp\nchr1\t6\t9\tp\n", [], "id 'p' appears twice (lines 1 and 2)"),
    ("chr1\t1\t5\tp\t2\n", ["--label-column", "5"], "line 1 has label '2'"),
    ("chr1\t1\t5\n", ["--label-column", "5"], "line 1 has 3 columns, no --label-column 5"),
    ("chr1\t1\t5\n", ["--label-column", "2"], "--label-column 2 is not allowed"),
    ("track x\n", [], "has no intervals"),
    ("chr1\t1\t5\n", ["--labels", "{root}/labels.tsv"], "id 'zz' (line 1) is not among the sequences"),
]


@pytest.mark.parametrize("text, extra, fragment", BAD_BED)
def test_bad_bed_input_is_one_line_exit_2_no_file(tmp_path, capsys, text, extra, fragment):
    bed = tmp_path / "x.bed"
    bed.write_text(text)
    genome = tmp_path / "genome.fa"
    genome.write_text(GENOME)
    (tmp_path / "labels.tsv").write_text("zz\t1\n")
    out = tmp_path / "out.parquet"
    extra = [e.format(root=tmp_path) for e in extra]
    code, _, err = run(["import", "--bed", str(bed), "--genome", str(genome), "--out", str(out)] + extra, capsys)
    assert code == 2 and fragment in err, err
    assert "\n" not in err and "Traceback" not in err and not out.exists()


def test_bed_needs_a_genome_and_a_broken_genome_is_one_line(files, capsys):
    root, _, genome, bed = files
    out = root / "out.parquet"
    code, _, err = run(["import", "--bed", str(bed), "--out", str(out)], capsys)
    assert code == 2 and "needs --genome" in err
    plain_gz = root / "g.fa.gz"
    plain_gz.write_bytes(gzip.compress(genome.read_bytes()))  # gzip, not bgzip: pyfaidx cannot index it
    code, _, err = run(["import", "--bed", str(bed), "--genome", str(plain_gz), "--out", str(out)], capsys)
    assert code == 2 and "could not be indexed by pyfaidx" in err and "\n" not in err
    assert not out.exists()


def test_output_may_not_replace_an_input(files, capsys):
    root, fasta, _, _ = files
    before = fasta.read_bytes()
    code, _, err = run(["import", "--fasta", str(fasta), "--out", str(fasta)], capsys)
    assert code == 2 and "an input of this command" in err
    assert fasta.read_bytes() == before


def test_api_import_sequences_matches_the_cli(files, capsys):
    from motifprobe import api

    root, fasta, _, _ = files
    ds = api.import_sequences(fasta, out=root / "api.parquet")
    assert ds.sha256 == file_sha256(root / "api.parquet")
    assert run(["import", "--fasta", str(fasta), "--out", str(root / "cli.parquet")], capsys)[0] == 0
    assert (root / "api.parquet").read_bytes() == (root / "cli.parquet").read_bytes()
    assert json.loads(pq.read_schema(root / "api.parquet").metadata[b"motifprobe"])["source"]["kind"] == "fasta"
