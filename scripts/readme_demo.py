"""The README's demo scorecard, written from the demo's own output (``make docs``).

``python scripts/readme_demo.py [COMPARE_DIR]`` (default ``demo_out/compare``) renders the
scorecard tables and statements from ``compare.csv``, ``scorecard.csv`` and ``summary.csv``,
stores those three files (the columns the tables use) under ``docs/demo/`` and rewrites the
README between the ``demo-scorecard`` markers. ``tests/test_readme_demo.py`` checks that the
README equals the rendering of ``docs/demo/`` and that a fresh demo run reproduces it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
STORED = ROOT / "docs" / "demo"
START, END = "<!-- demo-scorecard:start -->", "<!-- demo-scorecard:end -->"
COLUMNS = {
    "compare.csv": ["model", "test", "motifs", "verdict", "avg_loss_diff"],
    "scorecard.csv": ["model", "test", "motifs", "status", "expected_sign"],
    "summary.csv": ["model", "accuracy", "auroc", "beats_baseline", "learned_rule", "hits", "misses", "wrong_sign",
                    "extras", "decoy_false_calls", "shortcuts", "statement"],
}


def load(directory: Path) -> dict[str, pd.DataFrame]:
    """The three demo tables, only the columns the README shows."""
    return {name: pd.read_csv(directory / name)[cols] for name, cols in COLUMNS.items()}


def render(tables: dict[str, pd.DataFrame]) -> str:
    """Markdown of the scorecard table, the summary table and each model's statement."""
    results, card, summary = tables["compare.csv"], tables["scorecard.csv"], tables["summary.csv"]
    models = list(dict.fromkeys(results["model"]))
    rows = results.merge(card, on=["model", "test", "motifs"])
    lines = ["| test | motifs | expected | " + " | ".join(models) + " |", "|---|---|---|" + "---|" * len(models)]
    for (test, motifs), group in rows.groupby(["test", "motifs"], sort=False):
        group = group.set_index("model")
        expected = group["expected_sign"].fillna("").iloc[0]
        cells = []
        for model in models:
            row = group.loc[model]
            star = "*" if row["verdict"] == "effect" else ""
            named = f"{row['verdict']}, " if row["verdict"] not in ("effect", "none") else ""
            cells.append(f"{row['avg_loss_diff']:.3f}{star} ({named}{row['status']})")
        lines.append(f"| {test} | {motifs} | {expected} | " + " | ".join(cells) + " |")
    lines += ["", "| model | test accuracy | AUROC | beats baseline | learned rule | hits | misses | wrong sign | extras "
                  "| decoy/control false calls | shortcuts |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, m in summary.iterrows():
        lines.append(f"| {m['model']} | {m['accuracy']:.3f} | {m['auroc']:.3f} | {m['beats_baseline']} | "
                     f"**{m['learned_rule']}** | {m['hits']} | {m['misses']} | {m['wrong_sign']} | {m['extras']} | "
                     f"{m['decoy_false_calls']} | {m['shortcuts']} |")
    lines.append("")
    lines += [f"- {m['statement']}" for _, m in summary.iterrows()]
    return "\n".join(lines) + "\n"


def readme_block(text: str) -> str:
    """What the README holds between the markers."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[start:end].strip("\n") + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else ROOT / "demo_out" / "compare"
    tables = load(source)
    STORED.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(STORED / name, index=False)
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, tail = text[:text.index(START) + len(START)], text[text.index(END):]
    readme.write_text(head + "\n" + render(load(STORED)) + tail)
    print(f"README demo scorecard rewritten from {source} (stored in {STORED.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
