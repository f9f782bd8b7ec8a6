#!/usr/bin/env bash
# The real workflow end to end: your FASTA + a model trained elsewhere + motifs from a MEME file
# and from JASPAR -> import -> scan -> interpret (TorchScript and ONNX) -> results.
#
#   bash examples/real_workflow/run.sh [WORKDIR]         (default WORKDIR: real_workflow_out)
#
# Environment: NUM_SEQS (4000 generated, a quarter held out for interpret), EPOCHS (5), SEED (7),
# MOTIFPROBE (the motifprobe CLI: on PATH, else the repository's .venv), PYTHON (the Python beside it;
# needs torch, pandas and pyarrow, which motifprobe installs).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-real_workflow_out}
NUM_SEQS=${NUM_SEQS:-4000}
EPOCHS=${EPOCHS:-5}
SEED=${SEED:-7}
MOTIFPROBE=${MOTIFPROBE:-$(command -v motifprobe || echo "$HERE/../../.venv/bin/motifprobe")}
PYTHON=${PYTHON:-$(dirname "$MOTIFPROBE")/python}
[ -x "$PYTHON" ] || PYTHON=python3

run() { printf '\n$ %s\n' "$*"; "$@"; }
motifprobe() { printf '\n$ motifprobe %s\n' "$*"; "$MOTIFPROBE" "$@"; }

mkdir -p "$WORK"
cd "$WORK"

# 0. Stand-in for your data, with a known answer: sequences where CTCF decides the label and STAT is
#    planted as a decoy (both on either strand), then made to look real: unequal lengths (150-260 bp),
#    runs of N, soft-masked stretches; a quarter held out. With your own data, start at step 2.
motifprobe generate --generator-plugin fast --num-seqs "$NUM_SEQS" --seq-length 200 --gen-type presence \
    --motifs CTCF_known1 STAT_known2 --pos-motifs CTCF_known1 --rc-prob 0.5 --seed "$SEED" --out planted.parquet
motifprobe export planted.parquet --fasta planted.fa --bed planted.bed
run "$PYTHON" "$HERE/make_data.py" planted.fa planted.bed --out-dir . --seed "$SEED"

# 1. A model trained elsewhere: plain PyTorch, exported to TorchScript (model.pt) and ONNX (model.onnx).
run "$PYTHON" "$HERE/train_model.py" train.fa --out-dir . --epochs "$EPOCHS" --seed "$SEED"

# 2. Your sequences: a gzipped FASTA, labels in the headers ('>id label=1'), any lengths, N kept.
motifprobe import --fasta peaks.fa.gz --out peaks.parquet

# 3. Motifs: a MEME file and JASPAR by TF name (every CORE CTCF matrix of the default release); FIMO scan.
motifprobe motifs "meme:$HERE/motifs.meme" jaspar:CTCF
motifprobe scan peaks.parquet --motifs "meme:$HERE/motifs.meme" jaspar:CTCF --p-value 1e-4 \
    --out peaks.scanned.parquet

# 4. Interpret the TorchScript model in loss mode (labels known): presence of every scanned motif.
motifprobe interpret --data-file peaks.scanned.parquet --model-file model.pt --output logit \
    --tests presence control --seed "$SEED" --out results_torchscript.csv

# 5. The ONNX model in prediction mode (no labels needed: change in the logit), two motifs by name.
motifprobe interpret --data-file peaks.scanned.parquet --model-file model.onnx --output logit \
    --mode prediction --motifs MA0139.2_CTCF STAT_known2 --tests presence control --seed "$SEED" \
    --out results_onnx.csv

# 6. Results: each motif's source, the scan's recall of the planted sites, every verdict.
run "$PYTHON" "$HERE/summarize.py" peaks.scanned.parquet results_torchscript.csv results_onnx.csv \
    --truth peaks_truth.bed --out summary.csv
