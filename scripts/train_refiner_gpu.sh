#!/bin/bash
# The refiner runs of 2026-12-04, side by side on one GPU (MODEL_CARD.md: none was shipped).
# Mouth (PAIRS, about 7 minutes on an H200): three fine-tunes of the bundled refiner (the
# PatchGAN critic at two weights, the critic with the texture term), and a wider refiner
# (32/48/64/96) trained from scratch, then fine-tuned with the texture term ("bigtex") and,
# beside it, with the critic. Eyes (EYE_PAIRS, 4 minutes): the wider refiner
# from scratch ("eyebig"), the bundled width from scratch, the bundled refiner
# fine-tuned. Each run writes RUNS/NAME/ (the .pt, the .int8.onnx, metrics.json) and
# RUNS/NAME.log. Needs only torch, NumPy, OpenCV and ONNX (Runtime):
#
#     python scripts/pairs_subset.py PAIRS SMALL --train 0.74 --val 0.6   # optional: to carry
#     PAIRS=SMALL EYE_PAIRS=EYES RUNS=runs bash scripts/train_refiner_gpu.sh
#
# Budgets (minutes): M the mouth fine-tunes, MB the wide mouth refiner from scratch, MF its
# fine-tunes, ME the eye runs.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PAIRS=${PAIRS:-}; EYE_PAIRS=${EYE_PAIRS:-}; RUNS=${RUNS:-runs}; mkdir -p "$RUNS"
M=${M:-6}; MB=${MB:-3}; MF=${MF:-2.6}; ME=${ME:-4}
# The refiners the fine-tunes start from: those of 2026-12-04 started from the files shipped
# before them (git show 5dc9008:src/vasa/assets/refiner.int8.onnx > OLD.int8.onnx).
BUNDLED=${BUNDLED:-src/vasa/assets/refiner.int8.onnx}
BUNDLED_EYES=${BUNDLED_EYES:-src/vasa/assets/eye_refiner.int8.onnx}
train() {  # NAME PAIRS EVERY ARGS...
  local name=$1 data=$2 every=$3; shift 3
  python3 -m vasa train refiner --data "$data" --out "$RUNS/$name" --steps 200000 \
    --eval-every "$every" "$@" > "$RUNS/$name.log" 2>&1
  echo "$name: exit $?, $(tail -n 1 "$RUNS/$name.log")"
}
if [ -n "$EYE_PAIRS" ]; then
  train eyebig "$EYE_PAIRS" 250 --refiner-widths 32,48,64,96 --batch 64 --lr 5e-4 --minutes "$ME" &
  train eyesmall "$EYE_PAIRS" 250 --refiner-widths 24,32,48,64 --batch 64 --lr 5e-4 \
    --minutes "$ME" &
  train eyeft "$EYE_PAIRS" 250 --init $BUNDLED_EYES --lr 3e-4 --batch 32 --minutes "$ME" &
fi
[ -z "$PAIRS" ] && { wait; exit; }
train adv10 "$PAIRS" 500 --init $BUNDLED --adversarial 0.1 --lr 1e-4 --batch 32 --minutes "$M" &
train adv03 "$PAIRS" 500 --init $BUNDLED --adversarial 0.03 --lr 1e-4 --batch 32 --minutes "$M" &
train advtex "$PAIRS" 500 --init $BUNDLED --adversarial 0.05 --texture 6 --lr 1e-4 --batch 32 \
  --minutes "$M" &
(
  train big "$PAIRS" 500 --refiner-widths 32,48,64,96 --batch 64 --lr 5e-4 --minutes "$MB"
  train bigtex "$PAIRS" 500 --init "$RUNS/big/refiner.pt" --texture 6 --lr 1e-4 --batch 32 \
    --minutes "$MF" &
  train bigadv "$PAIRS" 500 --init "$RUNS/big/refiner.pt" --adversarial 0.1 --lr 1e-4 --batch 32 \
    --minutes "$MF" &
  wait
) &
wait
