"""Write one figure of each profile kind from a synthetic profile table (a check of the drawing code).

The table is made up (plausible shapes, not a model's output): a CNN whose spacing curve peaks
inside the planted 8-20 bp window and a k-mer model whose curve is flat; a preferred ++
orientation; a saturating dosage curve; a centre-focused position curve. Real runs replace it:
``profile_figures.write_profile_figures(result.profiles, out_dir)``.

Usage: ``python scripts/profile_figures_demo.py [OUT_DIR]`` (default demo_out/synthetic_figures).
The figures in docs/figures/ come from a real run: ``bash scripts/docs_figures.sh``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from motifprobe.engine import profile_figures

PAIR = "GATA_known1+TAL1_known1"
SINGLE = "GATA_known1"
WINDOW = (8, 20)


def _rows(model, test, motifs, points, labels, effects, order="", expected=None, n=500, rng=None, sd=0.02):
    half = 1.96 * sd * rng.uniform(0.7, 1.3, len(effects))
    effects = np.asarray(effects, float) + rng.normal(0, sd / 3, len(effects))
    q = np.where(np.abs(effects) > 1.1 * half, 10 ** -(2 + 4 * np.abs(effects)), 0.3)
    return pd.DataFrame({
        "model": model, "test": test, "feature": test, "motifs": motifs,
        "arm": [f"{test}:{order}{lab}" for lab in labels], "point": points, "point_label": labels, "order": order,
        "n": n, "effect": effects, "ci_low": effects - half, "ci_high": effects + half, "control": 0.0,
        "p_value": q / 3, "q_value": q, "called": q < 0.05,
        "expected": expected if expected is not None else [""] * len(effects)})


def synthetic_profiles(seed: int = 0) -> pd.DataFrame:
    """A made-up profile table with all four kinds and two models."""
    rng = np.random.default_rng(seed)
    frames = []
    gaps = np.arange(0, 41, 2.0)
    inside = np.where((gaps >= WINDOW[0]) & (gaps <= WINDOW[1]), "inside", "outside")
    bump = 0.35 * np.exp(-0.5 * ((gaps - 14) / 4.5) ** 2)
    flat = np.full(gaps.size, 0.015)
    frames += [_rows("torch-cnn", "spacing", PAIR, gaps, [f"{g:.0f}" for g in gaps], bump, "AB", inside,
                     rng=rng),
               _rows("torch-cnn", "spacing", PAIR, gaps, [f"{g:.0f}" for g in gaps], 0.4 * bump, "BA", inside,
                     rng=rng),
               _rows("kmer-logreg", "spacing", PAIR, gaps, [f"{g:.0f}" for g in gaps], flat, "AB", inside,
                     rng=rng, sd=0.03),
               _rows("kmer-logreg", "spacing", PAIR, gaps, [f"{g:.0f}" for g in gaps], flat, "BA", inside,
                     rng=rng, sd=0.03)]
    strands = ["++", "+-", "-+", "--"]
    expected = ["inside", "outside", "outside", "outside"]
    frames += [_rows("torch-cnn", "orientation", PAIR, np.nan, strands, [0.32, 0.05, 0.09, 0.04], "", expected,
                     rng=rng),
               _rows("kmer-logreg", "orientation", PAIR, np.nan, strands, [0.03, 0.02, 0.03, 0.02], "", expected,
                     rng=rng, sd=0.03)]
    copies = np.arange(1, 7.0)
    frames += [_rows("torch-cnn", "dosage", SINGLE, copies, [f"{c:.0f}" for c in copies],
                     0.5 * (1 - np.exp(-copies / 1.6)), rng=rng),
               _rows("kmer-logreg", "dosage", SINGLE, copies, [f"{c:.0f}" for c in copies], 0.03 * copies,
                     rng=rng, sd=0.03)]
    positions = np.arange(0, 181, 10.0)
    centre = 0.3 * np.exp(-0.5 * ((positions - 90) / 25) ** 2)
    frames += [_rows("torch-cnn", "position", SINGLE, positions, [f"{p:.0f}" for p in positions], centre, rng=rng),
               _rows("kmer-logreg", "position", SINGLE, positions, [f"{p:.0f}" for p in positions],
                     np.full(positions.size, 0.02), rng=rng, sd=0.03)]
    return pd.concat(frames, ignore_index=True)[profile_figures.PROFILE_COLUMNS]


def main(out_dir: str = "demo_out/synthetic_figures") -> list[Path]:
    table = synthetic_profiles()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for test, motifs in profile_figures.profile_keys(table):
        fig = profile_figures.profile_figure(table, test, motifs)
        fig.text(0.99, 0.005, "illustration: synthetic profile table (scripts/profile_figures_demo.py)",
                 ha="right", va="bottom", fontsize=6.5, color="#777777")
        written.append(profile_figures.save_figure(fig, out / test, formats=("png",))["png"])
    return written


if __name__ == "__main__":
    for path in main(*sys.argv[1:2]):
        print(path)
