"""``make bench``: throughput and memory figures, each the median of several runs.

Prints one table: generation rate per generator plugin; one-hot and k-mer featurization;
interpret throughput vs the model's forward-only rate at the same batch size vs a seed-style
loop (batch size 1, pandas one-hot); the side-by-side rows of :mod:`peers` (the model's
forward-only ceiling, motifprobe's per-forward efficiency, speed-ups vs tangermeme); the scale
rows (:mod:`scaling` when present, else peak RSS of 1M-sequence runs); and the target ratios.

usage: python benchmarks/run_all.py [--quick] [--json PATH]

``--json PATH`` also writes every row as a record (``what, figure, value, unit, ratio, target,
met``...) under ``{"meta", "records"}``, through a temp file and a rename. ``--quick``: smaller
sizes (1 warm-up + 3 timed runs, as always) for a smoke run. Environment: BENCH_REPEATS (timed
runs, default 3), BENCH_SCALE_N (the large-run size, default 1,000,000), BENCH_SKIP_SCALE=1
(no scale rows).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402 - after the path: benchmarks/ is not a package
from peers import add_row  # noqa: E402

REPEATS = max(3, int(os.environ.get("BENCH_REPEATS", "3")))
SCALE_N = int(os.environ.get("BENCH_SCALE_N", "1000000"))
MOTIFS = ["STAT_known2", "CTCF_known1"]
QUICK = False
"""Set by ``--quick``: :func:`size` picks the smaller sizes."""


def size(full: int, quick: int) -> int:
    """``quick`` under ``--quick``, else ``full``."""
    return quick if QUICK else full


def median_rate(fn, count: int, repeats: int = REPEATS) -> float:
    fn()  # warm-up: thread pools, caches, lazy imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return count / statistics.median(times)


def bench_generators(rows, records):
    from motifprobe import api

    sim_n, fast_n = size(3000, 500), size(200_000, 20_000)
    sim = median_rate(lambda: api.generate("simdna", seed=1, num_seqs=sim_n, motifs=MOTIFS), sim_n)
    fast = median_rate(lambda: api.generate("fast", seed=1, num_seqs=fast_n, motifs=MOTIFS), fast_n)
    add_row(rows, records, "generate: simdna plugin", sim, "seq/s")
    add_row(rows, records, "generate: fast plugin", fast, "seq/s", ratio=fast / sim, style="speedup",
            ratio_of="simdna", target=(">=", 50))
    return fast / sim


def pandas_one_hot(seq: str) -> np.ndarray:
    import pandas as pd

    return pd.get_dummies(pd.Series(list(seq)).astype(pd.CategoricalDtype(list("ACGT")))).to_numpy(np.float32).T


def bench_featurization(rows, records):
    from motifprobe.engine.kmers import kmer_counts
    from motifprobe.engine.sequences import decode, one_hot

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(size(100_000, 10_000), 200)).astype(np.uint8)
    strings = decode(codes[:size(2000, 300)])
    slow = median_rate(lambda: [pandas_one_hot(s) for s in strings], len(strings))
    fast = median_rate(lambda: one_hot(codes), len(codes))
    add_row(rows, records, "one-hot: pandas per sequence", slow, "seq/s")
    add_row(rows, records, "one-hot: vectorized numpy", fast, "seq/s", ratio=fast / slow, style="speedup",
            ratio_of="pandas")
    n_k = size(20_000, 2_000)
    for k in (4, 5):
        rate = median_rate(lambda: kmer_counts(codes[:n_k], k), n_k)
        add_row(rows, records, f"k-mer counts, k={k}", rate, "seq/s")


def bench_interpret(rows, records, params: dict, label: str):
    import torch

    from motifprobe import api
    from motifprobe.engine.interpret import interpret
    from motifprobe.engine.ops import replace_masked
    from motifprobe.engine.perturbation import TestBatch

    torch.set_num_threads(2)
    n_test = size(20_000, 4_000)
    ds = api.generate("fast", seed=2, num_seqs=2000 + n_test, motifs=MOTIFS, gen_type="order")
    run = api.train(ds.subset(np.arange(2000)), "torch-cnn", params={"epochs": 1, **params}, seed=0, out_dir=None)
    model = run.model
    batch_size = model.params.get("predict_batch_size", 256)
    test = ds.subset(np.arange(2000, 2000 + n_test))
    k = 5
    # what interpret hands the model, counted (originals, perturbed copies, sham and check arms)
    counter = peers.CountingModel(model)
    interpret(counter, test, [MOTIFS[0]], tests=["presence"], num_perturbs=k, seed=0, keep_deltas=False)
    scored = counter.forwards
    interp = median_rate(lambda: interpret(model, test, [MOTIFS[0]], tests=["presence"], num_perturbs=k, seed=0,
                                           keep_deltas=False), scored)
    rows_with = np.flatnonzero(test.site_bounds(MOTIFS[0])[0] >= 0)
    sub = test.subset(rows_with)
    batch = TestBatch(sub.codes, sub.labels, (MOTIFS[0],), sub.sites, sub.background, k)
    perturbed = replace_masked(sub.codes, batch.instance_mask((MOTIFS[0],)), k, sub.background,
                               np.random.default_rng(0)).reshape(-1, sub.seq_length)
    forward = median_rate(lambda: model.predict_proba(perturbed), len(perturbed))
    net = model.net_ if hasattr(model, "net_") else None
    strings = [s for s in __import__("motifprobe.engine.sequences", fromlist=["decode"]).decode(
        perturbed[:size(300, 100)])]

    def seed_style():
        with torch.inference_mode():
            for s in strings:
                x = torch.from_numpy(pandas_one_hot(s)[None])
                if net is not None:
                    net(x)
                else:
                    model.predict_proba(perturbed[:1])

    seed = median_rate(seed_style, len(strings))
    add_row(rows, records, f"{label}: forward only, batch {batch_size}", forward, "seq/s")
    add_row(rows, records, f"{label}: interpret presence (K=5, with sham)", interp, "seq/s", ratio=interp / forward,
            ratio_of=f"of forward ({scored:,} sequences scored, counted)", target=(">=", 0.9))
    add_row(rows, records, f"{label}: seed-style loop (batch 1, pandas one-hot)", seed, "seq/s", ratio=interp / seed,
            style="speedup", ratio_of="interpret presence over this", target=(">=", 40))
    return interp / forward, interp / seed


def bench_spacing(rows, records, label: str = "default torch-cnn (32 filters)"):
    """A spacing curve (0..50 bp, both orders, 1,000 backgrounds per point) against the same
    model's forward pass on as many prebuilt sequences: the insertion path's engine overhead."""
    import torch

    from motifprobe import api
    from motifprobe.engine.interpret import interpret

    torch.set_num_threads(2)
    pair = MOTIFS[:2]
    ds = api.generate("fast", seed=2, num_seqs=3000, motifs=pair, gen_type="distance", min_dist=5, max_dist=15)
    model = api.train(ds.subset(np.arange(2000)), "torch-cnn", params={"epochs": 1}, seed=0, out_dir=None).model
    n_bg = size(1000, 250)
    params = {"spacing": {"n_backgrounds": n_bg, "min_gap": 0, "max_gap": 50, "step": 1}}
    scored = n_bg * (2 * 51 + 2)  # 102 arms, the shared control and the backgrounds themselves
    curve = median_rate(lambda: interpret(model, ds, pair, tests=["spacing"], mode="prediction", test_params=params,
                                          keep_deltas=False), scored)
    codes = np.random.default_rng(0).integers(0, 4, size=(scored, ds.seq_length)).astype(np.uint8)
    forward = median_rate(lambda: model.predict_proba(codes), scored)
    add_row(rows, records, f"{label}: spacing curve 0-50 bp, both orders, {n_bg:,} backgrounds", curve, "seq/s",
            ratio=curve / forward, ratio_of=f"of forward on prebuilt codes ({forward:,.0f} seq/s)")
    return curve / forward


def peak_rss(args) -> tuple[float, str]:
    cmd = ["/usr/bin/time", "-v", sys.executable, str(ROOT / "benchmarks" / "scale.py"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result = re.search(r"RESULT \S+ (\d+) ([\d.]+)", proc.stdout)
    if proc.returncode != 0 or not match:
        return float("nan"), f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
    return int(match.group(1)) / 1024**2, (f"{int(result.group(1)):,} seqs in {float(result.group(2)):.0f} s" if result else "")


def bench_scale(rows, records):
    if not Path("/usr/bin/time").exists():
        add_row(rows, records, "peak RSS", None, "", figure="skipped", note="install GNU time (apt-get install time)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "big.parquet")
        for what, args in (("generate", ["generate", str(SCALE_N), data]), ("interpret", ["interpret", data]),
                           ("train (torch-cnn, 1 epoch)", ["train", data])):
            gb, info = peak_rss(args)
            add_row(rows, records, f"peak RSS {what}, {SCALE_N:,} x 200 bp", gb, "GB", note=info,
                    target=None if what.startswith("train") else ("<", 2.0))


def scale_rows(rows, records) -> None:
    """The scale rows: ``scaling.bench_scaling`` when benchmarks/scaling.py exists, else :func:`bench_scale`."""
    if not (Path(__file__).resolve().parent / "scaling.py").exists():
        bench_scale(rows, records)
        return
    try:
        from scaling import bench_scaling
    except Exception as exc:  # noqa: BLE001 - a broken scaling module costs its rows, not the whole run
        add_row(rows, records, "scaling rows", None, "", figure="failed to import benchmarks/scaling.py",
                note=f"{type(exc).__name__}: {exc}; peak RSS measured the old way below")
        bench_scale(rows, records)
        return
    bench_scaling(rows, records)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_all.py", description="motifprobe's benchmarks (make bench).")
    parser.add_argument("--json", metavar="PATH", help="also write every row as a JSON record to PATH")
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run (1 warm-up + 3 repeats)")
    return parser.parse_args(argv)


def machine_meta(quick: bool, ctx=None) -> dict:
    """What the JSON's ``meta`` says about the run: machine, threads, versions, sizes."""
    import torch

    meta = {"machine": platform.machine(), "cores": os.cpu_count(), "torch_threads": peers.THREADS,
            "python": platform.python_version(), "torch": torch.__version__, "repeats": REPEATS, "warmups": 1,
            "quick": quick, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if ctx is not None:
        meta.update(peer=ctx.peer, ceiling_seq_per_s=ctx.ceiling, module_ceiling_seq_per_s=ctx.module_ceiling,
                    sizes=dict(vars(ctx.sizes)))
    return meta


def main(argv: list[str] | None = None) -> int:
    global QUICK

    from rich.console import Console
    from rich.table import Table

    from motifprobe.engine.errors import MotifprobeError
    from motifprobe.engine.outputs import check_output_file

    args = parse_args(argv)
    warnings.filterwarnings("ignore")  # here, not at import: the tests import this module
    if args.json:
        try:  # before any work: a bad path costs nothing
            check_output_file(args.json, what="--json")
        except MotifprobeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    QUICK = args.quick
    if QUICK:
        os.environ.setdefault("BENCH_QUICK", "1")  # scaling.py's smaller sizes
    rows: list = []
    records: list = []
    bench_generators(rows, records)
    bench_featurization(rows, records)
    bench_interpret(rows, records, {"n_filters": 16}, "small CNN (16 filters)")
    bench_interpret(rows, records, {}, "default torch-cnn (32 filters)")
    bench_spacing(rows, records)
    first_peer = len(rows)
    ctx = peers.bench_peers(rows, records, quick=QUICK)
    first_scale = len(rows)
    if os.environ.get("BENCH_SKIP_SCALE") != "1":
        scale_rows(rows, records)
    table = Table(title=f"motifprobe benchmarks ({platform.machine()}, {os.cpu_count()} cores, {peers.THREADS} torch "
                        f"threads, Python {platform.python_version()}, median of {REPEATS} after 1 warm-up"
                        f"{', quick sizes' if QUICK else ''}; peer: {ctx.peer})")
    for col in ("what", "figure", "ratio / target"):
        table.add_column(col)
    for i, row in enumerate(rows):
        if i in (first_peer, first_scale) and i:
            table.add_section()
        table.add_row(*row)
    Console(width=200).print(table)
    if args.json:
        try:
            peers.write_json(args.json, records, machine_meta(QUICK, ctx))
        except MotifprobeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(records)} records to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
