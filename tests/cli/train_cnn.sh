#!/usr/bin/env bash
# `modnorm train cnn`: a small residual CNN learns (well above chance after 8 steps), a
# run of 2 epochs equals, bit for bit, a run of 1 epoch resumed for 1 more (with the checkpoint's
# conv norm); `inspect` prints its per-tap and flattened weights; flags of other models are
# refused. Five evaluations of the test set (its first 1000 images) in all.
# Usage: train_cnn.sh path/to/modnorm
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
common=(cnn --data "$work/data" --limit 256 --batch 64 --width 4 --seed 3 --schedule constant)

# The flattened norm, straight and resumed: the resume takes the checkpoint's conv norm (the
# default, per_tap, would give other weight shapes and fail to load).
flat=("${common[@]}" --conv-norm flattened)
"$modnorm" train "${flat[@]}" --epochs 2 --save "$work/straight.safetensors" --json \
  > "$work/straight.json" 2> /dev/null
python3 - "$work/straight.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == "cnn" and d["steps"] == 8 and d["batch"] == 64 and d["width"] == 4, d
assert d["test_accuracy"] > 0.25, d   # 10 classes: chance is 0.1
PY
"$modnorm" train "${flat[@]}" --epochs 1 --save "$work/resumed.safetensors" > /dev/null
"$modnorm" train "${common[@]}" --epochs 2 --resume "$work/resumed.safetensors" \
  --save "$work/resumed.safetensors" > "$work/resumed.txt"
grep -q "resumed from" "$work/resumed.txt"
grep -q "flattened norm" "$work/resumed.txt"
cmp "$work/straight.safetensors" "$work/resumed.safetensors" || {
  echo "FAIL: resumed checkpoint differs from the straight run"; exit 1; }
"$modnorm" inspect "$work/straight.safetensors" > "$work/inspect_flattened.txt"
grep -q "ResCNN 4-8-16, 1 block per stage, flattened norm, 28x28 images" "$work/inspect_flattened.txt"
grep -q "^1.stem.weight  *\[4x9\]  *spectral" "$work/inspect_flattened.txt"

# The default, per tap.
"$modnorm" train "${common[@]}" --epochs 1 --save "$work/taps.safetensors" > /dev/null
"$modnorm" inspect "$work/taps.safetensors" > "$work/inspect_per_tap.txt"
grep -q "^1.stem.weight  *\[9x4x1\]  *spectral" "$work/inspect_per_tap.txt"

# A checkpoint resumes only as the model it holds; flags of other models are refused.
if "$modnorm" train --limit 256 --resume "$work/straight.safetensors" 2> "$work/error.txt"; then
  echo "FAIL: a CNN checkpoint resumed as an MLP"; exit 1
fi
grep -q "a checkpoint of model 'cnn'; resume it with modnorm train cnn" "$work/error.txt"
if "$modnorm" train --conv-norm flattened 2> "$work/error.txt"; then
  echo "FAIL: --conv-norm accepted for the MLP"; exit 1
fi
grep -q "\[train\] --conv-norm is not a flag of the mlp model (modnorm train without a model); it is one of modnorm train cnn$" "$work/error.txt"
if "$modnorm" train cnn --steps 5 2> "$work/error.txt"; then
  echo "FAIL: --steps accepted for the CNN"; exit 1
fi
grep -q "\[train cnn\] --steps is not a flag of the cnn model; it is one of modnorm train gpt$" "$work/error.txt"
if "$modnorm" train cnn --conv-norm sideways 2> "$work/error.txt"; then
  echo "FAIL: a bad --conv-norm was accepted"; exit 1
fi
grep -q "sideways" "$work/error.txt"
echo "train cnn: ok"
