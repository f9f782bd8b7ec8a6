"""The workflow's results in one place: each motif's source, the scan's recall of the planted sites,
and each model's verdict per motif.

Reads what the motifprobe commands wrote (the scanned dataset and the results CSVs) with pandas and
pyarrow, plus the ground truth make_data.py wrote (real data has none: leave out ``--truth``).
Writes ``summary.csv`` (one row per results file x test x motif, with the motif's source and
version) and prints it.

    python summarize.py peaks.scanned.parquet results_torchscript.csv results_onnx.csv --truth peaks_truth.bed
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def motif_sources(dataset: Path) -> pd.DataFrame:
    """name, source, version of every motif the scan recorded in the dataset's metadata."""
    meta = json.loads(pq.read_metadata(dataset).metadata[b"motifprobe"])
    return pd.DataFrame(meta["motifs"])[["name", "source", "version"]]


def scanned_sites(dataset: Path) -> pd.DataFrame:
    """One row per site: id, name, start, end, strand."""
    table = pq.read_table(dataset, columns=["id", "motifs"]).to_pandas().explode("motifs").dropna()
    sites = pd.json_normalize(table["motifs"].tolist())
    sites.insert(0, "id", table["id"].to_numpy())
    return sites[["id", "name", "start", "end", "strand"]]


def recall(truth: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Per planted motif and scanned motif: the share of planted sites overlapped by >= 1 bp by a
    scanned site of that motif, either strand."""
    rows = []
    for planted, group in truth.groupby("name"):
        for scanned, found in sites.groupby("name"):
            pairs = group.reset_index().merge(found, on="id", suffixes=("", "_scan"))
            hit = pairs[(pairs.start_scan < pairs.end) & (pairs.start < pairs.end_scan)]["index"].nunique()
            rows.append({"planted": planted, "scanned": scanned, "planted_sites": len(group),
                         "recovered": hit, "recall": round(hit / len(group), 3)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="the scanned dataset (motifprobe scan --out)")
    parser.add_argument("results", type=Path, nargs="+", help="results CSVs of motifprobe interpret")
    parser.add_argument("--truth", type=Path, help="BED6 of the planted sites (make_data.py)")
    parser.add_argument("--out", type=Path, default=Path("summary.csv"))
    args = parser.parse_args()
    pd.set_option("display.width", 200)

    sources = motif_sources(args.dataset)
    if args.truth:
        truth = pd.read_csv(args.truth, sep="\t", header=None, names=["id", "start", "end", "name", "score", "strand"])
        table = recall(truth, scanned_sites(args.dataset))
        print("scan recall of the planted sites (>= 1 bp overlap, either strand):")
        print(table.sort_values(["planted", "recall"], ascending=[True, False]).to_string(index=False), "\n")

    frames = []
    for path in args.results:
        res = pd.read_csv(path)
        res.insert(0, "results", path.name)
        frames.append(res)
    summary = pd.concat(frames).merge(sources, left_on="motifs", right_on="name", how="left")
    summary = summary[["results", "test", "motifs", "source", "version", "verdict", "direction",
                       "called_in", "count", "effect", "mode"]]
    summary.to_csv(args.out, index=False)
    print(summary.to_string(index=False))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
