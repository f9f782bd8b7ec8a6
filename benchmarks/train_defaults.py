"""Measure torch-cnn training settings (patience, min_epochs, max epochs, lr schedule) on the demo's rules.

usage: python benchmarks/train_defaults.py [--rules presence order distance] [--num-seqs 10000]
           [--seeds 0] [--max-epochs 40] [--schedules none plateau] [--generator fast] [--out FILE.json]

Each (rule, seed, schedule) is trained once for ``--max-epochs`` epochs with early stopping off,
scoring the validation *and* the test split after every epoch (in eval mode, which draws no
random numbers, so the trajectory is the one ``train`` follows), until every setting has ended. Early stopping only truncates
that trajectory, so every (patience, min_epochs, max epochs) setting is then read off it with
the plugin's own ``early_stop_point``: test accuracy/AUROC at the kept (best) epoch, epochs run
and the wall time of those epochs. The lr schedule changes the trajectory, so it gets its own run.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

MOTIFS = ["STAT_known2", "CTCF_known1", "GATA_known1"]
POS = ["STAT_known2", "CTCF_known1"]
STOPS = [  # (label, patience, min_epochs, max epochs)
    ("p3 min6 max20", 3, 6, 20),
    ("p5 min10 max30", 5, 10, 30),
    ("p6 min10 max30", 6, 10, 30),
    ("p8 min10 max30", 8, 10, 30),
    ("p8 min10 max40", 8, 10, 40),
]


class _AllStopped(Exception):
    """Every setting has ended: the rest of the trajectory would not be read."""


def trajectory(ds, schedule: str, seed: int, max_epochs: int, test_sz: float = 0.1) -> list[dict]:
    """Per-epoch validation and test metrics and seconds of one long run without early stopping."""
    from motifprobe.engine.metrics import auroc
    from motifprobe.engine.training import split_indices
    from motifprobe.plugins.models.torch_cnn import TorchCNN, early_stop_point

    tr, va, te = split_indices(ds.labels, test_sz, seed)
    model = TorchCNN(epochs=max_epochs, early_stop=0, lr_schedule=schedule)
    rows: list[dict] = []
    clock = [time.perf_counter()]

    def progress(**record):
        spent = time.perf_counter() - clock[0]
        with model._predict_context():
            probs = np.concatenate([model._predict_proba(ds.codes[te[lo:lo + 1024]]) for lo in range(0, len(te), 1024)])
        y = ds.labels[te]
        rows.append({**record, "seconds": spent, "test_accuracy": float(np.mean(probs.argmax(1) == y)),
                     "test_auroc": float(auroc(y, probs[:, 1]))})
        print(f"  epoch {record['epoch']:2d} {spent:5.1f} s val AUROC {record['val_auroc']:.4f} "
              f"test acc {rows[-1]['test_accuracy']:.3f}", flush=True)
        clock[0] = time.perf_counter()  # the test scoring above is not part of training time
        scores = [r["val_auroc"] for r in rows]
        if all(early_stop_point(scores[:most], patience, least)[2] or len(scores) >= most
               for _, patience, least, most in STOPS if most <= max_epochs):
            raise _AllStopped

    try:
        model.fit(ds.codes[tr], ds.labels[tr], val=(ds.codes[va], ds.labels[va]), seed=seed, progress=progress)
    except _AllStopped:
        pass
    return rows



def read_off(rows: list[dict], patience: int, min_epochs: int, max_epochs: int, monitor: str = "auroc") -> dict:
    from motifprobe.plugins.models.torch_cnn import early_stop_point

    scores = [r["val_" + monitor] for r in rows[:max_epochs]]  # a trajectory cut short has every setting's end
    ran, best, stopped = early_stop_point(scores, patience, min_epochs, monitor != "loss")
    kept = rows[best - 1]
    return {"epochs": ran, "best_epoch": best, "stopped_early": stopped, "test_accuracy": kept["test_accuracy"],
            "test_auroc": kept["test_auroc"], "val_accuracy": kept["val_accuracy"],
            "seconds": sum(r["seconds"] for r in rows[:ran])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", nargs="+", default=["presence", "order", "distance"])
    ap.add_argument("--num-seqs", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-epochs", type=int, default=40)
    ap.add_argument("--schedules", nargs="+", default=["none", "plateau"])
    ap.add_argument("--generator", default="fast", help="fast (vectorized simdna) or simdna: same rules and motifs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from motifprobe import api

    results = []
    for rule in args.rules:
        ds = api.generate(args.generator, seed=7, num_seqs=args.num_seqs, seq_length=200, gen_type=rule, motifs=MOTIFS,
                          pos_motifs=POS)
        baseline = max(np.mean(ds.labels), 1 - np.mean(ds.labels))
        for seed in args.seeds:
            for schedule in args.schedules:
                rows = trajectory(ds, schedule, seed, args.max_epochs)
                for label, patience, min_epochs, max_epochs in STOPS:
                    if max_epochs > args.max_epochs:
                        continue
                    got = read_off(rows, patience, min_epochs, max_epochs)
                    results.append({"rule": rule, "baseline": float(baseline), "seed": seed, "schedule": schedule,
                                    "setting": label, **got})
                    print(f"{rule:9s} seed {seed} {schedule:8s} {label:15s} acc {got['test_accuracy']:.3f} "
                          f"auroc {got['test_auroc']:.3f} epochs {got['epochs']:2d} (best {got['best_epoch']:2d}) "
                          f"{got['seconds']:6.1f} s", flush=True)
                best = max(rows, key=lambda r: r["val_auroc"])
                print(f"{rule:9s} seed {seed} {schedule:8s} trajectory: best val AUROC {best['val_auroc']:.4f} at "
                      f"epoch {best['epoch']}; test acc by epoch "
                      + " ".join(f"{r['test_accuracy']:.3f}" for r in rows), flush=True)
                results.append({"rule": rule, "seed": seed, "schedule": schedule, "trajectory": rows})
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
