#!/usr/bin/env bash
# `modnorm train`: a run of 2 epochs equals, bit for bit, a run of 1 epoch resumed for 1 more,
# and `modnorm train mlp` (the default model named) resumes it as well; `--json` prints one JSON
# object; `--log` writes the CSV header and rows; `inspect` prints the
# table; a truncated checkpoint is a clear error. Usage: train_resume.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "skipped: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  exit 0
fi
# The first 2048 training and 1000 test images: each run evaluates the whole test set.
python3 "$(dirname "$0")/fashion_subset.py" "$work/data"
common=(--data "$work/data" --limit 1024 --batch 128 --width 32 --seed 7 --schedule constant)

"$modnorm" train "${common[@]}" --epochs 2 --save "$work/straight.safetensors" --json > "$work/straight.json"
grep -q '"test_accuracy"' "$work/straight.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['steps'] == 16, d" "$work/straight.json"

"$modnorm" train "${common[@]}" --epochs 1 --save "$work/resumed.safetensors" --log "$work/log.csv" > /dev/null
cp "$work/resumed.safetensors" "$work/named.safetensors"
# A constant schedule: a 1-epoch run is the first half of the 2-epoch one (a decaying
# schedule's length comes from --epochs).
"$modnorm" train "${common[@]}" --epochs 2 --resume "$work/resumed.safetensors" --save "$work/resumed.safetensors" \
  --log "$work/log.csv" > "$work/resumed.txt"
grep -q "resumed from" "$work/resumed.txt"
cmp "$work/straight.safetensors" "$work/resumed.safetensors" || {
  echo "FAIL: resumed checkpoint differs from the straight run"; exit 1; }
"$modnorm" train mlp "${common[@]}" --epochs 2 --resume "$work/named.safetensors" \
  --save "$work/named.safetensors" > /dev/null
cmp "$work/straight.safetensors" "$work/named.safetensors" || {
  echo "FAIL: modnorm train mlp differs from modnorm train"; exit 1; }

head -1 "$work/log.csv" | grep -q "^step,epoch,loss,accuracy,lr,0.weight_norm,2.weight_norm,4.weight_norm,ranks,comm_bytes,comm_seconds$"
[ "$(tail -n +2 "$work/log.csv" | wc -l)" -ge 2 ]

"$modnorm" inspect "$work/straight.safetensors" > "$work/inspect.txt"
grep -q "^0.weight  *\[32x784\]  *spectral" "$work/inspect.txt"

head -c 100 "$work/straight.safetensors" > "$work/truncated.safetensors"
if "$modnorm" inspect "$work/truncated.safetensors" 2> "$work/error.txt"; then
  echo "FAIL: a truncated checkpoint was accepted"; exit 1
fi
grep -q "truncated.safetensors" "$work/error.txt"

if "$modnorm" train --data "$work/nowhere" 2> "$work/error.txt"; then
  echo "FAIL: a missing data directory was accepted"; exit 1
fi
grep -q "nowhere" "$work/error.txt"
echo "train/resume/inspect: ok"
