"""examples/real_workflow/run.sh end to end, at a small scale: a FASTA with N and unequal lengths, a
model trained outside motifprobe (TorchScript and ONNX), motifs from a MEME file and from JASPAR by
TF name -> import -> scan -> interpret -> summary. Issue 16's "Done when": the motif the model uses
(CTCF) is called with the right sign, the decoy it ignores (STAT) is not, the scan finds the planted
sites, and the results name where each motif came from.

One run of the script (about 30 s on 2 cores) serves every test in this file."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "real_workflow"
USED, IGNORED = "MA0139.2_CTCF", "STAT_known2"  # JASPAR's CTCF decides the label; the MEME file's STAT is a decoy


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("real_workflow")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "NUM_SEQS": "800", "EPOCHS": "5", "SEED": "7",
           "MOTIFPROBE": str(bin_dir / "motifprobe"), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(EXAMPLE / "run.sh"), str(work)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work, done.stdout


def fasta_records(path: Path) -> dict[str, str]:
    records, name = {}, None
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = ""
            else:
                records[name] += line.strip()
    return records


def results(work: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(work / name).set_index(["test", "motifs"])


def test_the_input_looks_like_real_data(workflow):
    work, _ = workflow
    records = fasta_records(work / "peaks.fa.gz")
    lengths = [len(s) for s in records.values()]
    assert len(records) == 200
    assert min(lengths) < 170 and max(lengths) > 240, "records should have unequal lengths"
    assert sum("N" in s for s in records.values()) >= 20, "some records should carry runs of N"
    assert any(any(c.islower() for c in s) for s in records.values()), "some soft-masked stretches expected"
    # import keeps each length and every N
    table = pq.read_table(work / "peaks.parquet", columns=["id", "sequence"]).to_pandas()
    imported = dict(zip(table["id"], table["sequence"]))
    assert imported == {k: s.upper() for k, s in records.items()}


def test_the_model_files_were_loaded_without_python(workflow):
    _, stdout = workflow
    assert "loading TorchScript model 'model.pt'" in stdout
    assert "loading ONNX model 'model.onnx'" in stdout


def test_scan_finds_the_planted_sites_on_both_strands(workflow):
    work, _ = workflow
    truth = pd.read_csv(work / "peaks_truth.bed", sep="\t", header=None,
                        names=["id", "start", "end", "name", "score", "strand"])
    table = pq.read_table(work / "peaks.scanned.parquet", columns=["id", "motifs"]).to_pylist()
    sites = pd.DataFrame([{"id": row["id"], **site} for row in table for site in row["motifs"]])
    assert set(sites["strand"]) == {"+", "-"}
    for planted, scanned, least in [("CTCF_known1", USED, 0.85), ("STAT_known2", IGNORED, 0.95)]:
        want = truth[truth["name"] == planted].reset_index()
        got = sites[sites["name"] == scanned]
        pairs = want.merge(got, on="id", suffixes=("", "_scan"))
        overlapping = pairs[(pairs["start_scan"] < pairs["end"]) & (pairs["start"] < pairs["end_scan"])]
        recall = overlapping["index"].nunique() / len(want)
        assert recall >= least, f"{scanned} recovers {recall:.2f} of the planted {planted} sites"
        assert set(want["strand"]) == {"+", "-"}  # planted on both strands, so both were found


def test_torchscript_loss_mode_calls_the_used_motif_and_not_the_decoy(workflow):
    work, _ = workflow
    res = results(work, "results_torchscript.csv")
    assert set(res["mode"]) == {"loss"}
    used, ignored = res.loc[("presence", USED)], res.loc[("presence", IGNORED)]
    assert (used["verdict"], used["direction"]) == ("effect", "+")  # removing CTCF raised the loss
    assert ignored["verdict"] == "none"
    assert set(res.xs("control", level="test")["verdict"]) == {"none"}


def test_onnx_prediction_mode_calls_the_used_motif_and_not_the_decoy(workflow):
    work, _ = workflow
    res = results(work, "results_onnx.csv")
    assert set(res["mode"]) == {"prediction"}
    assert set(res.index.get_level_values("motifs")) == {USED, IGNORED}
    used, ignored = res.loc[("presence", USED)], res.loc[("presence", IGNORED)]
    assert (used["verdict"], used["direction"]) == ("effect", "-")  # removing CTCF lowered the logit
    assert ignored["verdict"] == "none"


def test_the_results_name_each_motifs_source(workflow):
    work, _ = workflow
    meta = json.loads(pq.read_metadata(work / "peaks.scanned.parquet").metadata[b"motifprobe"])
    recorded = {m["name"]: (m["source"], m["version"]) for m in meta["motifs"]}
    assert recorded[USED] == ("jaspar", "JASPAR2026")
    assert recorded[IGNORED][0] == "meme" and recorded[IGNORED][1].startswith("sha256:")
    assert {n for n in recorded if n.endswith("_CTCF")} >= {USED, "MA1929.2_CTCF", "MA1930.2_CTCF"}
    summary = pd.read_csv(work / "summary.csv")
    assert set(summary["results"]) == {"results_torchscript.csv", "results_onnx.csv"}
    for _, row in summary.iterrows():
        assert (row["source"], row["version"]) == recorded[row["motifs"]]
