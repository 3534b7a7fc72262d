#!/usr/bin/env bash
# The walkthrough of docs/hardware.md: one MNIST network, digital and on simulated chips.
# Usage: bash examples/hardware_walkthrough.sh [DATA_DIR] [OUT_DIR]
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-runs/hardware-walkthrough}
SN=${SN:-synapsenet}
mkdir -p "$OUT"
common=(--dataset mnist --data-dir "$DATA" --layers 256 --hidden relu --output softmax
        --loss cross_entropy --optimizer momentum --learning-rate 0.05 --batch-size 64
        --epochs 10 --seed 0 -q --force)
$SN train "${common[@]}" --out "$OUT/digital"
$SN train "${common[@]}" --train-noise 0.1 --out "$OUT/hwaware"
M="$OUT/digital/model.safetensors"
for hw in ideal pcm rram; do
  $SN evaluate "$M" --data-dir "$DATA" --hardware $hw --json > "$OUT/eval-$hw.json"
done
$SN sweep "$M" --data-dir "$DATA" --hardware pcm --vary adc_bits=2..8 --out "$OUT/adc_bits"
$SN sweep "$M" --data-dir "$DATA" --hardware pcm --vary levels=2,3,4,6,8,16,32,64 --out "$OUT/levels"
$SN sweep "$M" --data-dir "$DATA" --hardware pcm --vary read_noise=0,0.02,0.05,0.1,0.2,0.3 --out "$OUT/read_noise"
$SN sweep "$M" --data-dir "$DATA" --hardware rram --vary stuck_at_min=0,0.01,0.02,0.05,0.1,0.2 --out "$OUT/stuck_at_min"
$SN sweep "$M" --data-dir "$DATA" --hardware pcm --vary time=20,3600,86400,2592000,31536000 --out "$OUT/drift"
$SN sweep "$M" --data-dir "$DATA" --hardware docs/chips/noisy-pcm.toml --vary prog_noise=0.12 --seeds 5 --out "$OUT/noisy-digital"
$SN sweep "$OUT/hwaware/model.safetensors" --data-dir "$DATA" --hardware docs/chips/noisy-pcm.toml --vary prog_noise=0.12 --seeds 5 --out "$OUT/noisy-hwaware"
