"""Scan speed: FIMO (memelite) over 100k random sequences x 500 bp x 10 ENCODE motifs, both strands.

The first call in a fresh numba cache compiles (tens of seconds); it is timed separately and kept
out of the reported figure. Run: ``.venv/bin/python benchmarks/scan_bench.py [--n 100000]``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from motifprobe.engine.motif_sources import resolve_motifs
from motifprobe.engine.scan import scan_codes

MOTIFS = ["CTCF_known1", "STAT_known2", "GATA_known1", "SP1_known1", "NRF1_known1", "YY1_known1", "MXI1_known1",
          "REST_known1", "ELK4_1", "TAL1_known1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    motifs = resolve_motifs(MOTIFS)
    codes = np.random.default_rng(0).integers(0, 4, (args.n, args.length), dtype=np.uint8)
    start = time.perf_counter()
    scan_codes(codes[:10], motifs)
    print(f"first call (numba compile or cache load): {time.perf_counter() - start:.2f} s")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        hits = scan_codes(codes, motifs)
        times.append(time.perf_counter() - start)
    print(f"scan {args.n} x {args.length} bp x {len(MOTIFS)} motifs, both strands, p <= 1e-4: "
          f"median {np.median(times):.2f} s of {args.repeats} ({len(hits)} sites)")


if __name__ == "__main__":
    main()
