"""motifprobe sweep: the sweep file, cells named by hash, resume, faults, and Dask on a real LocalCluster.

The cluster tests share one LocalCluster (2 worker processes, 1 thread each) for the module;
cells are tiny (300 sequences, kmer-logreg, few tests) so the whole file stays well under a minute.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import textwrap
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from motifprobe.cli import main
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.sweep import cell_dir, check_sweep, load_sweep, run_sweep

TINY = """
name = "tiny"
seeds = [0, 1]
sizes = [300]
[train]
test_sz = 0.2
[interpret]
tests = ["presence", "order", "control"]
num_perturbs = 2
[[datasets]]
name = "order"
gen_type = "order"
seq_length = 100
[[models]]
plugin = "kmer-logreg"
"""

# A second dataset whose labels are all 1: training refuses it, deterministically.
FAILING = TINY.replace('seeds = [0, 1]', 'seeds = [0]') + """
[[datasets]]
name = "one-class"
gen_type = "any"
pos_share = 1.0
seq_length = 100
"""


def _write(tmp_path: Path, text: str, name: str = "grid.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def client():
    from motifprobe.engine.cluster import dask_client

    with dask_client(workers=2, threads_per_worker=1) as c:
        yield c


def _tables(root: Path, cell_hash: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = cell_dir(root, cell_hash)
    return pd.read_csv(d / "results.csv"), pd.read_parquet(d / "deltas.parquet")


# -- the sweep file ------------------------------------------------------------------------------
def test_cells_are_the_product_of_the_axes_named_by_a_stable_hash(tmp_path):
    spec = load_sweep(_write(tmp_path, TINY.replace("sizes = [300]", "sizes = [300, 400]")))
    assert [(c.size, c.seed) for c in spec.cells] == [(300, 0), (300, 1), (400, 0), (400, 1)]
    assert len({c.hash for c in spec.cells}) == 4
    again = load_sweep(_write(tmp_path, "# a comment changes nothing\n" + TINY.replace("sizes = [300]", "sizes = [300, 400]"),
                              "other.toml"))
    assert [c.hash for c in again.cells] == [c.hash for c in spec.cells] and again.hash == spec.hash
    changed = load_sweep(_write(tmp_path, TINY.replace("num_perturbs = 2", "num_perturbs = 3"), "k3.toml"))
    assert not {c.hash for c in changed.cells} & {c.hash for c in spec.cells}


@pytest.mark.parametrize("edit, message", [
    (("[train]", "colour = 1\n[train]"), "unknown key(s) 'colour'"),
    (("seeds = [0, 1]", "seeds = []"), "seeds is empty"),
    (('plugin = "kmer-logreg"', 'plugin = "kmer-logregg"'), "unknown model plugin 'kmer-logregg'"),
    (('gen_type = "order"', 'gen_type = "ordr"'), "ordr"),
    (('tests = ["presence", "order", "control"]', 'tests = ["presense"]'), "presense"),
    (('plugin = "kmer-logreg"', 'plugin = "kmer-logreg"\nparams = { k = 99 }'), "99"),
])
def test_bad_sweep_file_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, edit, message):
    path = _write(tmp_path, TINY.replace(*edit))
    with pytest.raises(MotifprobeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sweep(path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_scheduler_that_does_not_answer_is_one_line_after_a_bounded_wait(tmp_path, capsys, monkeypatch):
    import socket

    from motifprobe.engine import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.5)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    start = time.monotonic()
    code = main(["sweep", str(_write(tmp_path, TINY)), "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2 and time.monotonic() - start < 20
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did not answer within 1.5 s" in err
    assert not out.exists()


def test_directory_of_another_sweep_file_is_refused_unless_force(tmp_path, capsys):
    out = tmp_path / "out"
    one = TINY.replace("seeds = [0, 1]", "seeds = [0]")
    run_sweep(check_sweep(tomllib.loads(one)), out, figures=False)
    before = sorted(p.name for p in out.rglob("*"))
    other = _write(tmp_path, one.replace("num_perturbs = 2", "num_perturbs = 3"))
    assert main(["sweep", str(other), "--out", str(out), "--workers", "1"]) == 2
    assert "another sweep file" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == before
    result = run_sweep(load_sweep(other), out, force=True, figures=False)
    assert result.executed == [c.hash for c in load_sweep(other).cells]


# -- on a real LocalCluster -----------------------------------------------------------------------
def test_cluster_sweep_equals_in_process_then_reruns_nothing_then_resumes(tmp_path, client):
    spec = load_sweep(_write(tmp_path, TINY))
    local = run_sweep(spec, tmp_path / "local", figures=False)
    remote = run_sweep(spec, tmp_path / "remote", client=client)
    pd.testing.assert_frame_equal(local.results, remote.results)
    assert sorted(remote.executed) == sorted(c.hash for c in spec.cells)
    assert (remote.cells["status"] == "ok").all()
    for cell in spec.cells:  # cell by cell, number for number
        a_res, a_del = _tables(tmp_path / "local", cell.hash)
        b_res, b_del = _tables(tmp_path / "remote", cell.hash)
        pd.testing.assert_frame_equal(a_res, b_res)
        pd.testing.assert_frame_equal(a_del, b_del)
    for name in ("sweep.csv", "results.csv", "recovery.csv", "recovery_matrix.csv", "report.html", "recovery.png"):
        assert (tmp_path / "remote" / name).is_file()
    matrix = pd.read_csv(tmp_path / "remote" / "recovery_matrix.csv")
    assert list(matrix[["model", "dataset", "size"]].iloc[0]) == ["kmer-logreg", "order", 300]
    assert all(str(v).endswith("/2") for v in matrix.filter(like="presence").iloc[0])

    again = run_sweep(spec, tmp_path / "remote", client=client)
    assert again.executed == []

    # An interrupted sweep: one cell never finished, its worker left a temporary directory behind.
    lost = spec.cells[1].hash
    shutil.rmtree(cell_dir(tmp_path / "remote", lost))
    stale = tmp_path / "remote" / "cells" / f".{lost}.999999999.0badcafe.tmp"
    stale.mkdir()
    resumed = run_sweep(spec, tmp_path / "remote", client=client)
    assert resumed.executed == [lost]
    assert not stale.exists()
    pd.testing.assert_frame_equal(_tables(tmp_path / "remote", lost)[0], _tables(tmp_path / "local", lost)[0])


def test_a_failing_cell_is_an_error_row_the_others_complete_exit_3(tmp_path, client, capsys):
    path = _write(tmp_path, FAILING)
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--scheduler", client.scheduler.address])
    assert code == 3
    err = capsys.readouterr().err
    assert "1 of 2 cells failed" in err and "only one class" in err
    cells = pd.read_csv(out / "sweep.csv")
    assert list(cells.sort_values("dataset")["status"]) == ["error", "ok"]
    failed = cells[cells["status"] == "error"].iloc[0]
    assert "only one class" in failed["reason"]
    assert json.loads((out / "cells" / f"{failed['cell']}.error.json").read_text())["status"] == "error"


def test_a_worker_killed_mid_sweep_is_retried_and_the_sweep_completes(tmp_path, client):
    spec = load_sweep(_write(tmp_path, TINY.replace("seeds = [0, 1]", "seeds = [0, 1, 2, 3]")))
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=run_sweep(spec, tmp_path / "out", client=client,
                                                                         figures=False)))
    thread.start()
    killed = None
    deadline = time.monotonic() + 30
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        busy = [w for w, keys in client.processing().items() if any(str(k).startswith("cell-") for k in keys)]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            time.sleep(0.3)  # mid-task
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.05)
    thread.join(120)
    assert killed is not None, "no cell task was seen running"
    result = box["result"]
    assert (result.cells["status"] == "ok").all(), result.cells
    assert sorted(c.hash for c in spec.cells) == sorted(h for h in result.cells["cell"])
    client.wait_for_workers(2, timeout=30)


def test_distributed_interpret_equals_single_process(client):
    from motifprobe import api
    from motifprobe.engine.distributed import interpret_distributed

    ds = api.generate("fast", num_seqs=1200, seq_length=100, gen_type="order", seed=4)
    run = api.train(ds, model_plugin="kmer-logreg", seed=4, out_dir=None, test_sz=0.3)
    kwargs = dict(num_perturbs=2, seed=7, tests=["presence", "order", "distance", "control"])
    ref = api.interpret(run, ds, **kwargs)
    got = interpret_distributed(client, run, ds, shards=3, min_shard=10, **kwargs)
    assert list(got.deltas.columns) == list(ref.deltas.columns)
    assert list(got.deltas["id"]) == list(ref.deltas["id"]) and len(ref.deltas) > 500
    # The perturbations are keyed per sequence; the model's float32 output may move in the last bit
    # with the batch a sequence is predicted in, hence the tolerance on the numbers, none on verdicts.
    pd.testing.assert_frame_equal(got.deltas, ref.deltas, rtol=1e-5, atol=1e-5)
    pd.testing.assert_frame_equal(got.table, ref.table, rtol=1e-4, atol=1e-5)
    assert list(got.table["verdict"]) == list(ref.table["verdict"])
    assert got.metadata["units"] == ref.metadata["units"]
    assert not np.array_equal(got.deltas["delta"].to_numpy()[:10], np.zeros(10))


def test_compare_on_the_cluster_equals_compare_in_process(client):
    from motifprobe import api

    ds = api.generate("fast", num_seqs=400, seq_length=100, gen_type="presence", seed=5)
    kwargs = dict(tests=["presence", "control"], num_perturbs=2, seed=5, test_sz=0.2, audit=False, figures=False)
    ref = api.compare(ds, ["kmer-logreg", "xgboost-kmer"], **kwargs)
    got = api.compare(ds, ["kmer-logreg", "xgboost-kmer"], client=client, **kwargs)
    assert set(got.runs) == {"kmer-logreg", "xgboost-kmer"}
    pd.testing.assert_frame_equal(got.deltas, ref.deltas, rtol=1e-5, atol=1e-5)
    assert list(got.results["verdict"]) == list(ref.results["verdict"])
    pd.testing.assert_frame_equal(got.scorecard, ref.scorecard)


def test_interpret_cli_with_a_scheduler_writes_what_it_writes_without(tmp_path, client):
    from motifprobe import api

    ds = api.generate("fast", num_seqs=400, seq_length=100, gen_type="order", seed=6, out=tmp_path / "data.parquet")
    api.train(ds, model_plugin="kmer-logreg", seed=6, out_dir=tmp_path / "runs", test_sz=0.25)
    base = ["interpret", "--run", str(tmp_path / "runs" / "kmer-logreg"), "--data-file", str(tmp_path / "data.parquet"),
            "--tests", "presence", "order", "control", "--num-perturbs", "2"]
    assert main([*base, "--out", str(tmp_path / "one.csv")]) == 0
    assert main([*base, "--out", str(tmp_path / "many.csv"), "--scheduler", client.scheduler.address]) == 0
    one, many = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "many.csv")
    assert list(one["verdict"]) == list(many["verdict"]) and len(one) >= 4
    pd.testing.assert_frame_equal(one, many, rtol=1e-4, atol=1e-5)


def test_slurm_cluster_passes_cluster_options_through_and_refuses_unknown_ones():
    from motifprobe.engine.cluster import parse_cluster_options, slurm_cluster

    options = parse_cluster_options(["queue=short", "account=lab", "cores=2", "memory=2GB", "walltime=00:10:00"])
    assert options["cores"] == 2
    cluster = slurm_cluster(options)  # no job is submitted before it is scaled
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -A lab" in script and "#SBATCH -t 00:10:00" in script
    with pytest.raises(MotifprobeError, match="bogus_opt") as info:
        slurm_cluster({"bogus_opt": 1})
    assert "\n" not in str(info.value)
    with pytest.raises(MotifprobeError, match="KEY=VALUE"):
        parse_cluster_options(["queue"])


def test_recovery_matrix_outcomes_signs_and_seed_agreement():
    from motifprobe.engine.recovery import recovery_matrix, recovery_table

    def row(seed, test, motifs, expected, sign, found, direction):
        return {"model": "cnn", "dataset": "d", "rule": "order", "size": 300, "seed": seed, "accuracy": 0.8 + seed / 10,
                "test": test, "feature": test, "motifs": motifs, "expected": expected, "expected_sign": sign,
                "found": found, "direction": direction, "status": ""}

    cards = pd.DataFrame([
        row(0, "presence", "A", True, "+", True, "+"), row(1, "presence", "A", True, "+", True, "+"),
        row(2, "presence", "A", True, "+", False, ""),
        row(0, "order", "A+B", True, "+", True, "-"), row(1, "order", "B+A", True, "+", True, "-"),
        row(2, "order", "A+B", True, "+", True, "+"),
        row(0, "control", "A", False, "", True, "+"), row(1, "control", "A", False, "", False, ""),
        row(2, "control", "A", False, "", False, ""),
        row(0, "interaction", "A+B", True, "-", True, "-"), row(1, "interaction", "A+B", True, "-", True, "-"),
        row(2, "interaction", "A+B", True, "-", True, "-"),
    ])
    long = recovery_table(cards).set_index("feature")
    assert long.loc["presence: A", ["outcome", "agree", "seeds"]].tolist() == ["recovered (+)", 2, 3]
    assert long.loc["presence: A", "outcomes"] == "recovered (+) recovered (+) missed"
    assert long.loc["order: A+B", ["outcome", "agree"]].tolist() == ["wrong sign", 2]  # B+A is the same set
    assert long.loc["control: A", ["outcome", "agree"]].tolist() == ["quiet", 2]
    assert long.loc["interaction: A+B", ["outcome", "agree"]].tolist() == ["recovered (-)", 3]
    assert long["accuracy"].iloc[0] == pytest.approx(0.9)
    matrix = recovery_matrix(recovery_table(cards))
    assert matrix.loc[0, "presence: A"] == "recovered (+) 2/3" and matrix.loc[0, "accuracy"] == pytest.approx(0.9)
    # The scorecard's own verdicts win over expected/found: a model at its baseline recovers nothing.
    at_baseline = cards.assign(status="model did not learn")
    assert set(recovery_table(at_baseline)["outcome"]) == {"not learned"}
    for status in ("confounded", "untestable", "shortcut", "error"):
        assert set(recovery_table(cards.assign(status=status))["outcome"]) == {status}


def test_a_large_cell_interprets_in_shards_over_the_workers_with_the_same_verdicts(tmp_path, client):
    from distributed import get_task_stream

    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace("num_perturbs = 2", "num_perturbs = 2\nshard_size = 20")
    spec = load_sweep(_write(tmp_path, text))
    local = run_sweep(spec, tmp_path / "local", figures=False)
    with get_task_stream(client) as stream:
        remote = run_sweep(spec, tmp_path / "remote", client=client, figures=False)
    shards = [t for t in stream.data if str(t["key"]).startswith("_interpret_shard")]
    assert len(shards) == 3  # 60 held-out sequences, at least 20 per shard
    assert (local.cells["status"] == "ok").all() and (remote.cells["status"] == "ok").all()
    [cell] = spec.cells
    a_res, a_del = _tables(tmp_path / "local", cell.hash)
    b_res, b_del = _tables(tmp_path / "remote", cell.hash)
    assert list(a_res["verdict"]) == list(b_res["verdict"])
    pd.testing.assert_frame_equal(a_del, b_del, rtol=1e-5, atol=1e-5)


def test_the_example_grid_is_3_rules_x_3_models_x_3_seeds_x_2_sizes():
    spec = load_sweep(Path(__file__).resolve().parent.parent / "examples" / "grid.toml")
    assert len(spec.cells) == 54
    assert len({c.rule for c in spec.cells}) == 3 and len({c.model for c in spec.cells}) == 3
    assert len({c.seed for c in spec.cells}) == 3 and len({c.size for c in spec.cells}) == 2


def test_distributed_interpret_with_an_insertion_test_keeps_its_background_choice(client):
    from motifprobe import api
    from motifprobe.engine.distributed import interpret_distributed

    ds = api.generate("fast", num_seqs=600, seq_length=100, gen_type="order", seed=8)
    run = api.train(ds, model_plugin="kmer-logreg", seed=8, out_dir=None, test_sz=0.3)
    kwargs = dict(num_perturbs=2, seed=9, tests=["presence", "spacing"], mode="prediction",
                  test_params={"spacing": {"n_backgrounds": 40, "max_gap": 6, "step": 3}})
    ref = api.interpret(run, ds, **kwargs)
    got = interpret_distributed(client, run, ds, shards=3, min_shard=10, **kwargs)
    spacing = ref.deltas["test"] == "spacing"
    assert spacing.sum() == 40  # a keyed choice of 40 backgrounds among all the rows, not 40 per shard
    assert list(got.deltas["id"]) == list(ref.deltas["id"])
    pd.testing.assert_frame_equal(got.deltas, ref.deltas, rtol=1e-5, atol=1e-5)
    assert list(got.table["verdict"]) == list(ref.table["verdict"])
