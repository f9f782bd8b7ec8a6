"""The command line: seed spellings, one-line errors with exit 2, nothing partial written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from motifprobe.cli import main

SEED_GENERATE = ["generate", "--num_seqs", "300", "--seq_length", "200", "--gen_type", "order",
                 "--background_dist", "0.3", "0.2", "0.2", "0.3", "--motifs", "STAT_known2", "CTCF_known1",
                 "--pos_motifs", "STAT_known2", "CTCF_known1", "--min_dist", "0", "--max_dist", "10"]


def test_seed_spelling_of_generate_works(tmp_path, capsys):
    out = tmp_path / "d.parquet"
    assert main(SEED_GENERATE + ["--seed", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.exists() and "label 1" in text and "has STAT_known2" in text


def test_generate_is_reproducible_byte_for_byte(tmp_path):
    for name in ("a", "b"):
        assert main(["generate", "--generator-plugin", "fast", "--num-seqs", "200", "--seed", "5",
                     "--out", str(tmp_path / f"{name}.parquet")]) == 0
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


@pytest.mark.parametrize("args, fragment", [
    (["--background-dist", "0.5", "0.5", "0.5", "0.5"], "sum to 1"),
    (["--motifs", "STAT_known2", "NOPE_known1"], "unknown motif 'NOPE_known1'"),
    (["--seq-length", "30"], "too short"),
    (["--num-seqs", "0"], "at least 1"),
    (["--gen-type", "distance", "--min-dist", "9", "--max-dist", "3"], "must not exceed"),
    (["--generator-plugin", "nope"], "unknown generator plugin 'nope'"),
])
def test_bad_generate_input_is_one_line_exit_2_no_file(tmp_path, capsys, args, fragment):
    out = tmp_path / "d.parquet"
    assert main(["generate", "--num-seqs", "50", "--out", str(out)] + args) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["generate", "--num-seqs", "20", "--out", str(blocker / "d.parquet")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_argparse_errors_exit_2_on_one_line():
    proc = subprocess.run([sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", "generate", "--num-seqs", "x"],
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "invalid int value" in proc.stderr


def test_plugins_json_lists_builtins_with_distribution(capsys):
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {p["plugin"]: p for p in data["plugins"]}
    assert by_name["torch-cnn"]["distribution"] == "motifprobe"
    assert by_name["presence"]["registers"] == {"perturbation_test": ["presence"]}


def test_export_fasta_and_bed(tmp_path, capsys):
    data = tmp_path / "d.parquet"
    main(["generate", "--generator-plugin", "fast", "--num-seqs", "30", "--out", str(data)])
    assert main(["export", str(data), "--fasta", str(tmp_path / "x.fa"), "--bed", str(tmp_path / "x.bed")]) == 0
    assert (tmp_path / "x.fa").read_text().count(">") == 30
    assert main(["export", str(tmp_path / "missing.parquet"), "--fasta", str(tmp_path / "y.fa")]) == 2
    assert not (tmp_path / "y.fa").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = root / "d.parquet"
    assert main(["generate", "--generator-plugin", "fast", "--num-seqs", "1500", "--gen-type", "order",
                 "--motifs", "STAT_known2", "CTCF_known1", "GATA_known1", "--pos-motifs", "STAT_known2", "CTCF_known1",
                 "--seed", "3", "--out", str(data)]) == 0
    assert main(["train", "--data-file", str(data), "--model-plugin", "xgboost-kmer", "--out-dir", str(root / "runs"),
                 "--seed", "3"]) == 0
    return root, data, root / "runs" / "xgboost-kmer"


def test_seed_spelling_of_interpret_works(trained, capsys):
    root, data, run = trained
    out = root / "seed_results.csv"
    code = main(["interpret", "--model", str(run / "model" / "model.ubj"), "--preds", str(run / "predictions.parquet"),
                 "--seq_dict", str(data), "--background_dist", "0.3", "0.2", "0.2", "0.3", "--num_perturbs", "2",
                 "--motifs", "STAT_known2", "CTCF_known1", "--tests", "presence", "order", "control", "--out", str(out)])
    assert code == 0
    import pandas as pd

    table = pd.read_csv(out)
    assert set(table["test"]) == {"presence", "order", "control"} and out.with_suffix(".json").exists()
    assert "perturbation tests" in capsys.readouterr().out


def test_interpret_writes_deltas_and_refuses_bad_input(trained, capsys):
    root, data, run = trained
    deltas = root / "deltas.parquet"
    assert main(["interpret", "--run", str(run), "--data-file", str(data), "--motifs", "STAT_known2",
                 "--tests", "presence", "--num-perturbs", "2", "--out", str(root / "r.csv"), "--deltas", str(deltas)]) == 0
    import pandas as pd

    assert {"test", "motifs", "id", "label", "delta"} <= set(pd.read_parquet(deltas).columns)
    bad = [(["--motifs", "NOPE"], "present:"), (["--num-perturbs", "0"], "num_perturbs"),
           (["--motifs", "STAT_known2", "--tests", "order"], "needs 2 motifs")]
    for args, fragment in bad:
        out = root / "bad.csv"
        assert main(["interpret", "--run", str(run), "--data-file", str(data), "--out", str(out)] + args) == 2
        err = capsys.readouterr().err.strip()
        assert fragment in err and "\n" not in err and not out.exists()


def test_compare_cli_with_reused_run(trained, capsys):
    root, data, run = trained
    out = root / "cmp"
    assert main(["compare", "--data-file", str(data), "--run", str(run), "--motifs", "STAT_known2", "CTCF_known1",
                 "--tests", "presence", "order", "interaction", "control", "--num-perturbs", "2",
                 "--out-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "scorecard against the planted rule" in text and (out / "report.html").exists()
    assert "xgboost-kmer training: " in text  # how every model's training ended, as `train` prints it
    assert main(["compare", "--data-file", str(data), "--run", str(run), "--out-dir", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
