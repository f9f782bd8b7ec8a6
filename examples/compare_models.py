"""Three-way model comparison across presence, order and distance data: a recovery matrix.

For each planted rule, generate a dataset (STAT_known2 and CTCF_known1 in the rule, GATA_known1
a decoy), compare torch-cnn, kmer-logreg and xgboost-kmer on it, and print one row per
dataset x model with the scorecard status of every test kind.

    python examples/compare_models.py --num-seqs 6000 --seed 7 [--out-dir recovery_out] [--readme README.md]

``--readme`` rewrites the README's table between the ``recovery-matrix`` markers from this run,
so the numbers printed there are the script's own.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

from motifprobe import api  # noqa: E402

POS, DECOY = ["STAT_known2", "CTCF_known1"], "GATA_known1"
COLUMNS = [("presence", "STAT_known2"), ("presence", "CTCF_known1"), ("order", "STAT_known2+CTCF_known1"),
           ("distance", "STAT_known2+CTCF_known1"), ("interaction", "STAT_known2+CTCF_known1"),
           ("presence", DECOY), ("control", "STAT_known2")]
SHORT = {"hit": "[green]hit[/green]", "miss": "[red]MISS[/red]", "extra": "[yellow]extra[/yellow]",
         "decoy false call": "[red]false call[/red]", "correct none": "·", "untestable": "n/a"}


def recovery_matrix(num_seqs: int, seed: int, models: list[str], out_dir: Path | None) -> pd.DataFrame:
    """Run the comparison on all three rule types and return the matrix (dataset x model x test)."""
    rows = []
    for gen_type in ("presence", "order", "distance"):
        pos = POS[:1] if gen_type == "presence" else POS
        ds = api.generate("fast", seed=seed, num_seqs=num_seqs, seq_length=200, gen_type=gen_type,
                          motifs=POS + [DECOY], pos_motifs=pos, min_dist=5, max_dist=25)
        result = api.compare(ds, models, motifs=POS + [DECOY], seed=seed, num_perturbs=5,
                             out_dir=out_dir / gen_type if out_dir else None, overwrite=True)
        card = result.scorecard.set_index(["model", "test", "motifs"])["status"]
        for _, s in result.summary.iterrows():
            row = {"dataset": f"{gen_type} ({', '.join(pos)})", "model": s["model"],
                   "accuracy": round(float(s["accuracy"]), 3), "learned_rule": s["learned_rule"]}
            for test, motifs in COLUMNS:
                row[f"{test} {motifs}"] = card.get((s["model"], test, motifs), "untestable")
            rows.append(row)
    return pd.DataFrame(rows)


START, END = "<!-- recovery-matrix:start -->", "<!-- recovery-matrix:end -->"


def short(column: str) -> str:
    """A column name with the motif names shortened as the tables show them."""
    return column.replace("STAT_known2", "STAT").replace("CTCF_known1", "CTCF").replace("GATA_known1", "GATA (decoy)")


def markdown(matrix: pd.DataFrame) -> str:
    """The matrix as a Markdown table (`·` for a correct none, as printed)."""
    lines = ["| " + " | ".join(short(c) for c in matrix.columns) + " |", "|" + "---|" * len(matrix.columns)]
    for _, r in matrix.iterrows():
        cells = ["·" if v == "correct none" else short(str(v)) for v in r]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rewrite_readme(path: Path, matrix: pd.DataFrame) -> None:
    """Replace the text between the recovery-matrix markers of ``path`` with ``matrix``."""
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{path}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{START}\n{markdown(matrix)}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-seqs", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["torch-cnn", "kmer-logreg", "xgboost-kmer"])
    parser.add_argument("--out-dir", type=Path, default=None, help="also keep each comparison's files here")
    parser.add_argument("--csv", type=Path, default=None, help="write the matrix as CSV")
    parser.add_argument("--readme", type=Path, default=None, help="rewrite this README's recovery-matrix table")
    args = parser.parse_args()
    matrix = recovery_matrix(args.num_seqs, args.seed, args.models, args.out_dir)
    table = Table(title="recovery matrix: scorecard status per dataset x model x test")
    for col in matrix.columns:
        table.add_column(short(col))
    for _, r in matrix.iterrows():
        table.add_row(*[SHORT.get(v, str(v)) if isinstance(v, str) else str(v) for v in r])
    Console(width=220).print(table)
    if args.csv:
        matrix.to_csv(args.csv, index=False)
    if args.readme:
        rewrite_readme(args.readme, matrix)


if __name__ == "__main__":
    main()
