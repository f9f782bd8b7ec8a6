#!/usr/bin/env bash
# The curve figures in docs/figures/ from a real run: distance data (STAT_known2 then CTCF_known1,
# gap 5-15 bp), a torch-cnn and kmer-logreg compared on the four insertion tests; each profile's
# PNG is copied to docs/figures/{spacing,orientation,dosage,position}.png.
#   bash scripts/docs_figures.sh            (about 2 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
MP=.venv/bin/motifprobe
WORK=${WORK:-demo_out/figures}
mkdir -p "$WORK" docs/figures
$MP generate --generator-plugin fast --num-seqs 8000 --seq-length 200 --gen-type distance \
    --motifs STAT_known2 CTCF_known1 --pos-motifs STAT_known2 CTCF_known1 --min-dist 5 --max-dist 15 \
    --seed 7 --out "$WORK/distance.parquet"
$MP compare --data-file "$WORK/distance.parquet" --model-plugin torch-cnn kmer-logreg \
    --motifs STAT_known2 CTCF_known1 --tests spacing strand dosage position \
    --test-param spacing:max_gap=40 --num-backgrounds 300 --seed 7 --no-audit \
    --out-dir "$WORK/compare" --overwrite
for kind in spacing:spacing_STAT_known2_CTCF_known1 orientation:strand_STAT_known2_CTCF_known1 \
            dosage:dosage_STAT_known2 position:position_STAT_known2; do
    cp "$WORK/compare/profiles/profile_${kind#*:}.png" "docs/figures/${kind%%:*}.png"
done
echo "wrote docs/figures/{spacing,orientation,dosage,position}.png"
