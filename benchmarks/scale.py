"""One large run, for peak-memory measurement under /usr/bin/time -v (see run_all.py).

usage: python benchmarks/scale.py generate N OUT.parquet
       python benchmarks/scale.py interpret DATA.parquet
       python benchmarks/scale.py train DATA.parquet
"""
from __future__ import annotations

import sys
import time
import warnings

warnings.filterwarnings("ignore")


def main() -> None:
    from motifprobe import api

    what = sys.argv[1]
    t0 = time.perf_counter()
    if what == "generate":
        n, out = int(sys.argv[2]), sys.argv[3]
        ds = api.generate("fast", seed=1, out=out, num_seqs=n, seq_length=200, gen_type="order",
                          motifs=["STAT_known2", "CTCF_known1"])
        done = len(ds)
    elif what == "interpret":
        ds = api.load_dataset(sys.argv[2])
        # A linear k-mer model keeps the wall time of a 1M-sequence run short; memory is the point here.
        run = api.train(ds.subset(__import__("numpy").arange(20_000)), "sklearn", seed=0, out_dir=None)
        res = api.interpret(run.model, ds, ["STAT_known2", "CTCF_known1"], tests=["presence"], num_perturbs=1,
                            seed=0, keep_deltas=False)
        done = int(res.table["count"].sum())
    elif what == "train":
        ds = api.load_dataset(sys.argv[2])
        run = api.train(ds, "torch-cnn", params={"epochs": 1}, seed=0, out_dir=None)
        done = len(ds)
    else:
        raise SystemExit(__doc__)
    print(f"RESULT {what} {done} {time.perf_counter() - t0:.2f}")


if __name__ == "__main__":
    main()
