"""``make bench``: throughput and memory figures, each the median of several runs.

Prints one table: generation rate per generator plugin; one-hot and k-mer featurization;
interpret throughput vs the model's forward-only rate at the same batch size vs a seed-style
loop (batch size 1, pandas one-hot); peak RSS of 1M-sequence runs; and the target ratios.
Set BENCH_SCALE_N to change the large-run size (default 1,000,000).
"""
from __future__ import annotations

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

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SCALE_N = int(os.environ.get("BENCH_SCALE_N", "1000000"))
MOTIFS = ["STAT_known2", "CTCF_known1"]


def median_rate(fn, count: int, repeats: int = REPEATS) -> float:
    fn()  # warm-up: thread pools, caches, lazy imports
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return count / statistics.median(times)


def bench_generators(rows):
    from motifprobe import api

    sim_n, fast_n = 3000, 200_000
    sim = median_rate(lambda: api.generate("simdna", seed=1, num_seqs=sim_n, motifs=MOTIFS), sim_n)
    fast = median_rate(lambda: api.generate("fast", seed=1, num_seqs=fast_n, motifs=MOTIFS), fast_n)
    rows.append(("generate: simdna plugin", f"{sim:,.0f} seq/s", ""))
    rows.append(("generate: fast plugin", f"{fast:,.0f} seq/s", f"{fast / sim:.0f}x simdna (target >= 50x)"))
    return fast / sim


def pandas_one_hot(seq: str) -> np.ndarray:
    import pandas as pd

    return pd.get_dummies(pd.Series(list(seq)).astype(pd.CategoricalDtype(list("ACGT")))).to_numpy(np.float32).T


def bench_featurization(rows):
    from motifprobe.engine.kmers import kmer_counts
    from motifprobe.engine.sequences import decode, one_hot

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(100_000, 200)).astype(np.uint8)
    strings = decode(codes[:2000])
    slow = median_rate(lambda: [pandas_one_hot(s) for s in strings], len(strings))
    fast = median_rate(lambda: one_hot(codes), len(codes))
    rows.append(("one-hot: pandas per sequence", f"{slow:,.0f} seq/s", ""))
    rows.append(("one-hot: vectorized numpy", f"{fast:,.0f} seq/s", f"{fast / slow:.0f}x"))
    for k in (4, 5):
        rate = median_rate(lambda: kmer_counts(codes[:20_000], k), 20_000)
        rows.append((f"k-mer counts, k={k}", f"{rate:,.0f} seq/s", ""))


def bench_interpret(rows, params: dict, label: str):
    import torch

    from motifprobe import api
    from motifprobe.engine.interpret import interpret
    from motifprobe.engine.ops import replace_masked
    from motifprobe.engine.perturbation import TestBatch

    torch.set_num_threads(2)
    ds = api.generate("fast", seed=2, num_seqs=22000, motifs=MOTIFS, gen_type="order")
    run = api.train(ds.subset(np.arange(2000)), "torch-cnn", params={"epochs": 1, **params}, seed=0, out_dir=None)
    model = run.model
    batch_size = model.params.get("predict_batch_size", 256)
    test = ds.subset(np.arange(2000, 22000))
    k = 5
    n_with = int((test.site_bounds(MOTIFS[0])[0] >= 0).sum())
    # interpret scores: originals once, K perturbed + K sham per sequence carrying the motif
    scored = len(test) + 2 * k * n_with
    interp = median_rate(lambda: interpret(model, test, [MOTIFS[0]], tests=["presence"], num_perturbs=k, seed=0,
                                           keep_deltas=False), scored)
    rows_with = np.flatnonzero(test.site_bounds(MOTIFS[0])[0] >= 0)
    sub = test.subset(rows_with)
    batch = TestBatch(sub.codes, sub.labels, (MOTIFS[0],), sub.sites, sub.background, k)
    perturbed = replace_masked(sub.codes, batch.instance_mask((MOTIFS[0],)), k, sub.background,
                               np.random.default_rng(0)).reshape(-1, sub.seq_length)
    forward = median_rate(lambda: model.predict_proba(perturbed), len(perturbed))
    net = model.net_ if hasattr(model, "net_") else None
    strings = [s for s in __import__("motifprobe.engine.sequences", fromlist=["decode"]).decode(perturbed[:300])]

    def seed_style():
        with torch.inference_mode():
            for s in strings:
                x = torch.from_numpy(pandas_one_hot(s)[None])
                if net is not None:
                    net(x)
                else:
                    model.predict_proba(perturbed[:1])

    seed = median_rate(seed_style, len(strings))
    rows.append((f"{label}: forward only, batch {batch_size}", f"{forward:,.0f} seq/s", ""))
    rows.append((f"{label}: interpret presence (K=5, with sham)", f"{interp:,.0f} seq/s",
                 f"{interp / forward:.2f}x forward (target >= 0.9); {interp / seed:.0f}x seed-style (target >= 40)"))
    rows.append((f"{label}: seed-style loop (batch 1, pandas one-hot)", f"{seed:,.0f} seq/s", ""))
    return interp / forward, interp / seed


def bench_spacing(rows, label: str = "default torch-cnn (32 filters)"):
    """A spacing curve (0..50 bp, both orders, 1,000 backgrounds per point) against the same
    model's forward pass on as many prebuilt sequences: the insertion path's engine overhead."""
    import torch

    from motifprobe import api
    from motifprobe.engine.interpret import interpret

    torch.set_num_threads(2)
    pair = MOTIFS[:2]
    ds = api.generate("fast", seed=2, num_seqs=3000, motifs=pair, gen_type="distance", min_dist=5, max_dist=15)
    model = api.train(ds.subset(np.arange(2000)), "torch-cnn", params={"epochs": 1}, seed=0, out_dir=None).model
    params = {"spacing": {"n_backgrounds": 1000, "min_gap": 0, "max_gap": 50, "step": 1}}
    scored = 1000 * (2 * 51 + 2)  # 102 arms, the shared control and the backgrounds themselves
    curve = median_rate(lambda: interpret(model, ds, pair, tests=["spacing"], mode="prediction", test_params=params,
                                          keep_deltas=False), scored)
    codes = np.random.default_rng(0).integers(0, 4, size=(scored, ds.seq_length)).astype(np.uint8)
    forward = median_rate(lambda: model.predict_proba(codes), scored)
    rows.append((f"{label}: spacing curve 0-50 bp, both orders, 1,000 backgrounds", f"{curve:,.0f} seq/s",
                 f"{curve / forward:.2f}x forward on prebuilt codes ({forward:,.0f} seq/s)"))
    return curve / forward


def peak_rss(args) -> tuple[float, str]:
    cmd = ["/usr/bin/time", "-v", sys.executable, str(ROOT / "benchmarks" / "scale.py"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    result = re.search(r"RESULT \S+ (\d+) ([\d.]+)", proc.stdout)
    if proc.returncode != 0 or not match:
        return float("nan"), f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"
    return int(match.group(1)) / 1024**2, (f"{int(result.group(1)):,} seqs in {float(result.group(2)):.0f} s" if result else "")


def bench_scale(rows):
    if not Path("/usr/bin/time").exists():
        rows.append(("peak RSS", "skipped", "install GNU time (apt-get install time)"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "big.parquet")
        for what, args in (("generate", ["generate", str(SCALE_N), data]), ("interpret", ["interpret", data]),
                           ("train (torch-cnn, 1 epoch)", ["train", data])):
            gb, info = peak_rss(args)
            rows.append((f"peak RSS {what}, {SCALE_N:,} x 200 bp", f"{gb:.2f} GB", info +
                         ("" if what.startswith("train") else " (target < 2 GB)")))


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    rows = []
    bench_generators(rows)
    bench_featurization(rows)
    bench_interpret(rows, {"n_filters": 16}, "small CNN (16 filters)")
    bench_interpret(rows, {}, "default torch-cnn (32 filters)")
    bench_spacing(rows)
    if os.environ.get("BENCH_SKIP_SCALE") != "1":
        bench_scale(rows)
    table = Table(title=f"motifprobe benchmarks ({platform.machine()}, {os.cpu_count()} cores, "
                        f"Python {platform.python_version()}, median of {REPEATS})")
    for col in ("what", "figure", "ratio / target"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
