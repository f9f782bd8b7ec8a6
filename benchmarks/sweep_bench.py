"""Speed of the Dask paths: the example grid on 1 vs 2 workers, per-task overhead, and one large
interpretation split over 2 workers vs one process.

    .venv/bin/python benchmarks/sweep_bench.py                   # all three, a few minutes on 2 cores
    .venv/bin/python benchmarks/sweep_bench.py --interpret-seqs 1000000   # the issue's 1M sequences
    .venv/bin/python benchmarks/sweep_bench.py --skip-grid       # overhead and interpret only

Prints one JSON object with the wall-clock seconds measured (cluster start-up reported apart), and
``cpu_control``: pure-Python busy tasks on 1 vs 2 workers, the parallel CPU the machine gives at
the time (on cores shared with other jobs no speedup can exceed it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _noop(x: int) -> int:
    return x


def _burn(i: int) -> int:
    total = 0
    for k in range(6_000_000):
        total += k
    return total


def cpu_control() -> dict:
    """Pure-Python busy tasks on 1 vs 2 workers: how much parallel CPU the machine gives right now
    (on cores shared with other jobs the grid's speedup cannot exceed this)."""
    from motifprobe.engine.cluster import dask_client

    out = {}
    for workers in (1, 2):
        with dask_client(workers=workers, threads_per_worker=1) as client:
            client.submit(_burn, -1, pure=False).result()
            t0 = time.perf_counter()
            client.gather(client.map(_burn, range(8), pure=False))
            out[f"{workers}_worker_s"] = round(time.perf_counter() - t0, 2)
    out["speedup"] = round(out["1_worker_s"] / out["2_worker_s"], 2)
    return out


def grid(workers: int, sweep_file: Path) -> dict:
    from motifprobe.engine.cluster import dask_client
    from motifprobe.engine.sweep import load_sweep, run_sweep

    spec = load_sweep(sweep_file)
    start = time.perf_counter()
    with dask_client(workers=workers, threads_per_worker=1) as client, tempfile.TemporaryDirectory() as tmp:
        up = time.perf_counter() - start
        t0 = time.perf_counter()
        result = run_sweep(spec, Path(tmp) / "sweep", client=client, figures=False)
        wall = time.perf_counter() - t0
    ok = int((result.cells["status"] == "ok").sum())
    return {"workers": workers, "cells": len(spec.cells), "ok": ok, "cluster_start_s": round(up, 2),
            "sweep_s": round(wall, 2), "cell_task_s_sum": round(float(result.cells["seconds"].sum()), 2)}


def overhead(n: int = 400) -> dict:
    from motifprobe.engine.cluster import dask_client

    with dask_client(workers=2, threads_per_worker=1) as client:
        client.submit(_noop, -1, pure=False).result()  # warm
        t0 = time.perf_counter()
        for i in range(20):  # one at a time: the round trip a single task costs
            client.submit(_noop, i, pure=False).result()
        latency = (time.perf_counter() - t0) / 20
        t0 = time.perf_counter()
        futures = client.map(_noop, range(n), pure=False)
        client.gather(futures)
        batch = (time.perf_counter() - t0) / n
    return {"round_trip_ms": round(1000 * latency, 2), "per_task_in_batch_ms": round(1000 * batch, 2), "tasks": n}


def big_interpret(num_seqs: int, workers: int = 2) -> dict:
    from motifprobe import api
    from motifprobe.engine.cluster import dask_client
    from motifprobe.engine.distributed import interpret_distributed

    t0 = time.perf_counter()
    ds = api.generate("fast", num_seqs=num_seqs, seq_length=200, gen_type="order", seed=1)
    small = api.generate("fast", num_seqs=4000, seq_length=200, gen_type="order", seed=2)
    run = api.train(small, model_plugin="kmer-logreg", seed=2, out_dir=None, test_sz=0.2)
    prep = time.perf_counter() - t0
    kwargs = dict(tests=["presence", "control"], num_perturbs=2, seed=3, model_name="kmer-logreg")
    t0 = time.perf_counter()
    ref = api.interpret(run.model, ds, **kwargs)
    single = time.perf_counter() - t0
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the worker's setting (Dask workers run with one BLAS/OpenMP thread)
        t0 = time.perf_counter()
        api.interpret(run.model, ds, **kwargs)
        single_1 = time.perf_counter() - t0
    with dask_client(workers=workers, threads_per_worker=1) as client:
        t0 = time.perf_counter()
        got = interpret_distributed(client, run.model, ds, **kwargs)
        split = time.perf_counter() - t0
    same_verdicts = list(ref.table["verdict"]) == list(got.table["verdict"])
    return {"sequences": num_seqs, "delta_rows": len(ref.deltas), "prepare_s": round(prep, 2),
            "one_process_s": round(single, 2), "one_process_1_thread_s": round(single_1, 2),
            f"{workers}_workers_s": round(split, 2), "speedup": round(single / split, 2),
            "speedup_vs_1_thread": round(single_1 / split, 2), "same_verdicts": same_verdicts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep-file", type=Path, default=ROOT / "examples" / "grid.toml")
    parser.add_argument("--interpret-seqs", type=int, default=200_000)
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-interpret", action="store_true")
    args = parser.parse_args()
    out: dict = {"cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    out["task_overhead"] = overhead()
    out["cpu_control"] = cpu_control()
    print(json.dumps(out), file=sys.stderr, flush=True)
    if not args.skip_grid:
        one, two = grid(1, args.sweep_file), grid(2, args.sweep_file)
        out["grid"] = {"1_worker": one, "2_workers": two, "speedup": round(one["sweep_s"] / two["sweep_s"], 2)}
        out["cpu_control_after_grid"] = cpu_control()
        print(json.dumps(out), file=sys.stderr, flush=True)
    if not args.skip_interpret:
        out["interpret"] = big_interpret(args.interpret_seqs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
