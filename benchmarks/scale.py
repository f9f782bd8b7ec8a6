"""One large run per process, measured from outside under /usr/bin/time -v (see scaling.py).

usage: python benchmarks/scale.py generate N OUT.parquet
       python benchmarks/scale.py fit DATA.parquet MODEL_DIR [--rows N] [--epochs E] [--plugin P]
       python benchmarks/scale.py interpret DATA.parquet [N] [--model MODEL_DIR] [--k K] [--motifs M ...]
                                            [--warmup ROWS] [--repeats R]
       python benchmarks/scale.py train DATA.parquet [N] [--epochs E] [--plugin P]
       python benchmarks/scale.py kmers DATA.parquet [N] --k K [--repeats R]

N: the first N rows of the dataset (default: all). Each command prints one line
``RESULT <what> <count> <seconds> [key=value ...]``: ``seconds`` times the work itself (after
imports and the dataset read), ``count`` is what it processed (sequences). ``interpret`` also
reports ``forwards`` (sequences the model scored per run, counted at ``predict_proba``),
``tested`` (sequences carrying a tested motif) and ``warmup_s`` (an untimed first run on
``--warmup`` rows: one-off costs such as JIT loads stay out of ``seconds``, which is the median of
``--repeats`` runs). Without ``--model`` it fits a k-mer ``sklearn`` model on 20,000 rows first
(not timed). ``fit`` writes the model with ``SequenceModel.save``; ``interpret --model`` reads it
back through the plugin its config names.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

warnings.filterwarnings("ignore")

MOTIFS = ["STAT_known2", "CTCF_known1"]


def first_rows(path: str, n: int | None):
    """The dataset at ``path``, cut to its first ``n`` rows (all when ``n`` is None)."""
    import numpy as np

    from motifprobe import api

    ds = api.load_dataset(path)
    if n is not None and n < len(ds):
        ds = ds.subset(np.arange(n))
    return ds


def load_model(directory: str):
    """A model written by ``SequenceModel.save``, read back by the plugin named in its config."""
    from motifprobe.engine.model_files import read_model_config
    from motifprobe.engine.registry import get_registry

    plugin = read_model_config(directory, "model").get("plugin")
    return get_registry().get("model", str(plugin)).factory.load(directory)


def new_model(plugin: str, **params):
    from motifprobe.engine.models import resolve_params
    from motifprobe.engine.registry import get_registry

    entry = get_registry().get("model", plugin)
    return entry.factory(**resolve_params(entry.factory, params, entry.name))


def count_forwards(model) -> list[int]:
    """Wrap the instance's ``predict_proba`` so every scored row is counted (a list of one int)."""
    counted = [0]
    predict = model.predict_proba

    def predict_proba(codes):
        counted[0] += len(codes)
        return predict(codes)

    model.predict_proba = predict_proba
    return counted


def cmd_generate(args) -> tuple[int, float, dict]:
    from motifprobe import api

    t0 = time.perf_counter()
    ds = api.generate("fast", seed=1, out=args.out, num_seqs=args.n, seq_length=200, gen_type="order",
                      motifs=MOTIFS)
    return len(ds), time.perf_counter() - t0, {}


def cmd_fit(args) -> tuple[int, float, dict]:
    ds = first_rows(args.data, args.rows)
    model = new_model(args.plugin, **({} if args.epochs is None else {"epochs": args.epochs}))
    t0 = time.perf_counter()
    model.fit(ds.codes, ds.labels, seed=0)
    seconds = time.perf_counter() - t0
    model.save(args.model_dir)
    return len(ds), seconds, {"plugin": args.plugin}


def cmd_interpret(args) -> tuple[int, float, dict]:
    import numpy as np

    from motifprobe import api

    ds = first_rows(args.data, args.n)
    if args.model:
        model = load_model(args.model)
    else:  # a linear k-mer model keeps a 1M-sequence run short when only memory matters
        model = api.train(ds.subset(np.arange(min(20_000, len(ds)))), "sklearn", seed=0, out_dir=None).model
    def run(rows):
        return api.interpret(model, rows, args.motifs, tests=["presence"], num_perturbs=args.k, seed=0,
                             keep_deltas=False)

    t0 = time.perf_counter()
    if args.warmup:  # one-off costs (JIT compiles, thread pools, lazy imports) kept out of the throughput
        run(ds.subset(np.arange(min(args.warmup, len(ds)))))
    warmup = time.perf_counter() - t0
    forwards = count_forwards(model)
    times = []
    for _ in range(args.repeats):  # keyed perturbations: every repeat does the same work
        t0 = time.perf_counter()
        res = run(ds)
        times.append(time.perf_counter() - t0)
    tested = int(res.table["count"].sum())
    return len(ds), statistics.median(times), {"forwards": forwards[0] // args.repeats, "tested": tested,
                                               "k": args.k, "warmup_s": f"{warmup:.2f}", "repeats": args.repeats}


def cmd_train(args) -> tuple[int, float, dict]:
    ds = first_rows(args.data, args.n)
    model = new_model(args.plugin, epochs=args.epochs)
    t0 = time.perf_counter()
    model.fit(ds.codes, ds.labels, seed=0)  # no validation set: the time is the epochs' alone
    return len(ds), time.perf_counter() - t0, {"epochs": args.epochs}


def cmd_kmers(args) -> tuple[int, float, dict]:
    from motifprobe.engine.kmers import kmer_features

    codes = first_rows(args.data, args.n).codes
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        kmer_features(codes, args.k)  # what the k-mer models featurise with: chunked, memory bounded
        times.append(time.perf_counter() - t0)
    return len(codes), statistics.median(times), {"k": args.k}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scale.py", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="what", required=True)
    p = sub.add_parser("generate")
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.set_defaults(run=cmd_generate)
    p = sub.add_parser("fit")
    p.add_argument("data")
    p.add_argument("model_dir")
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--epochs", type=int, help="for plugins that declare epochs (default: the plugin's)")
    p.add_argument("--plugin", default="torch-cnn")
    p.set_defaults(run=cmd_fit)
    p = sub.add_parser("interpret")
    p.add_argument("data")
    p.add_argument("n", type=int, nargs="?")
    p.add_argument("--model", help="a directory written by SequenceModel.save (default: sklearn on 20k rows)")
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--motifs", nargs="+", default=MOTIFS)
    p.add_argument("--warmup", type=int, default=0, help="interpret this many rows first, untimed")
    p.add_argument("--repeats", type=int, default=1, help="timed runs; seconds is their median")
    p.set_defaults(run=cmd_interpret)
    p = sub.add_parser("train")
    p.add_argument("data")
    p.add_argument("n", type=int, nargs="?")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--plugin", default="torch-cnn")
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("kmers")
    p.add_argument("data")
    p.add_argument("n", type=int, nargs="?")
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--repeats", type=int, default=3)
    p.set_defaults(run=cmd_kmers)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    count, seconds, extra = args.run(args)
    fields = " ".join(f"{key}={value}" for key, value in extra.items())
    print(f"RESULT {args.what} {count} {seconds:.3f} {fields}".rstrip(), flush=True)


if __name__ == "__main__":
    main()
