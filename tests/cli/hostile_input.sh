#!/usr/bin/env bash
# `modnorm` under hostile input: every bad flag, bad --save path and corrupt checkpoint ends in
# one `modnorm: ...` line naming the flag or the file, a non-zero exit and no abort, quickly and
# before any training; `inspect` prints a checkpoint without the descriptive metadata; a deep
# narrow MLP builds fast. Runs on a tiny synthetic data set (no Fashion-MNIST needed).
# Usage: hostile_input.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1  # tiny runs: spinning OpenMP threads only slow a shared machine

# 128 training and 32 test images of 28 x 28 random pixels (plain IDX files).
python3 - "$work/data" <<'EOF'
import os, random, struct, sys
os.makedirs(sys.argv[1])
rng = random.Random(0)
for prefix, n in (("train", 128), ("t10k", 32)):
    with open(os.path.join(sys.argv[1], prefix + "-images-idx3-ubyte"), "wb") as f:
        pixels = bytes(rng.randrange(256) for _ in range(n * 784))
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + pixels)
    with open(os.path.join(sys.argv[1], prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(rng.randrange(10) for _ in range(n)))
EOF
tiny=(--data "$work/data" --batch 32 --seed 3 --schedule constant)
nodata=(--data "$work/nowhere")  # so that a flag checked after loading the data would fail

# refused MESSAGE ARGS...: the command fails within 20 s, without an abort or a crash, with
# one stderr line "modnorm: ..." containing MESSAGE (a regular expression), and finishes no
# epoch.
refused() {
  local message="$1" rc=0
  shift
  timeout 20 "$modnorm" "$@" > "$work/out.txt" 2> "$work/err.txt" || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -ge 128 ]; then
    echo "FAIL: 'modnorm $*' exited with $rc (0: accepted, 124: hung, >= 128: killed by a signal)"
    cat "$work/err.txt"; exit 1
  fi
  if [ "$(wc -l < "$work/err.txt")" -ne 1 ] ||
    ! grep -q "^modnorm: .*$message" "$work/err.txt"; then
    echo "FAIL: 'modnorm $*' did not say just 'modnorm: ...$message':"; cat "$work/err.txt"
    exit 1
  fi
  if grep -q "epoch 1/" "$work/out.txt"; then
    echo "FAIL: 'modnorm $*' trained before refusing"; exit 1
  fi
}

# Flags, each out of its limit, and the output paths: checked before the data is read.
refused "--width is 4611686018427387905" train "${nodata[@]}" --width 4611686018427387905
refused "--width is 4611686018427387904" train "${nodata[@]}" --width 4611686018427387904
refused "--width is 0" train "${nodata[@]}" --width 0
refused "--batch is 9223372036854775807" train "${nodata[@]}" --batch 9223372036854775807
refused "--depth is 100000" train "${nodata[@]}" --depth 100000 --width 1
refused "--epochs is 0" train "${nodata[@]}" --epochs 0
refused "--epochs" train "${nodata[@]}" --epochs 99999999999
refused "--limit is -5" train "${nodata[@]}" --limit -5
refused "--log-every is 0" train "${nodata[@]}" --log-every 0
refused "--warmup is -1" train "${nodata[@]}" --warmup -1
refused "--lr is nan" train "${nodata[@]}" --lr nan
refused "--lr is inf" train "${nodata[@]}" --lr inf
refused "--lr is -0.5" train "${nodata[@]}" --lr -0.5
refused "--width" train "${nodata[@]}" --width abc
refused "--bogus" train "${nodata[@]}" --bogus
refused "more than 268435456 weights" train "${tiny[@]}" --width 16384 --depth 5
# A learning rate that blows up: stopped at once, the rate in six digits, not 301.
refused "update .* contains +Inf .* at learning rate 1e+300 .*no weight was changed" train "${tiny[@]}" --width 8 --lr 1e300
# --save and --log: the directory must exist and the path must be a plain file.
refused "--save $work/nowhere/ck.safetensors: $work/nowhere is not an existing directory" \
  train "${nodata[@]}" --save "$work/nowhere/ck.safetensors"
refused "--save $work: is a directory" train "${nodata[@]}" --save "$work"
refused "--save $work/: names a directory" train "${nodata[@]}" --save "$work/"
refused "--save /dev/null: exists and is not a regular file" train "${nodata[@]}" --save /dev/null
refused "--log $work/nowhere/log.csv" train "${nodata[@]}" --log "$work/nowhere/log.csv"
# Seeds outside [0, 2^64 - 1] (CLI11 alone reads them all as 2^64 - 1), and not in decimal.
for seed in 18446744073709551616 99999999999999999999999 -1 0x10 " 7" ""; do
  refused "--seed: '$seed' is not an integer in \[0, 18446744073709551615\]" \
    train "${nodata[@]}" --seed "$seed"
  refused "--seed: '$seed' is not an integer" sample "$work/none.safetensors" --prompt a --seed "$seed"
  refused "--seed: '$seed' is not an integer" demo --seed "$seed"
done
"$modnorm" demo --seed 18446744073709551615 > /dev/null

# A real checkpoint, then copies with one thing broken.
"$modnorm" train "${tiny[@]}" --width 8 --epochs 1 --save "$work/ck.safetensors" > /dev/null
# rewrite NAME PYTHON: a copy of ck.safetensors as NAME.safetensors with its JSON header `h`
# (metadata `m`) edited by PYTHON (edit_checkpoint.py).
rewrite() {
  python3 "$(dirname "$0")/edit_checkpoint.py" "$work/ck.safetensors" "$work/$1.safetensors" "$2"
}
rewrite depth_wraps "m['depth'] = '4294967299'"
rewrite epochs_huge "m['epochs_done'] = '1000000000'"
rewrite epochs_negative "m['epochs_done'] = '-3'"
rewrite width_suffix "m['width'] = '8abc'"
rewrite depth_spaced "m['depth'] = ' 2'"
rewrite no_width "del m['width']"
rewrite too_big "m['width'] = '16384'; m['depth'] = '5'"
rewrite no_step "del h['optim.step']"
rewrite claims_more "m['width'] = '4096'"
rewrite descriptive_gone "del m['optimizer']; del m['epochs_done']"

ck="$work"
refused "$ck/depth_wraps.safetensors: metadata 'depth' is 4294967299, must be in \[1, 10000\]" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/depth_wraps.safetensors"
refused "$ck/depth_wraps.safetensors: metadata 'depth' is 4294967299" \
  inspect "$ck/depth_wraps.safetensors"
refused "$ck/epochs_huge.safetensors: metadata 'epochs_done' is 1000000000" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/epochs_huge.safetensors"
refused "$ck/epochs_negative.safetensors: metadata 'epochs_done' is -3" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/epochs_negative.safetensors"
refused "$ck/width_suffix.safetensors: metadata 'width' is '8abc', not an integer" \
  inspect "$ck/width_suffix.safetensors"
refused "$ck/depth_spaced.safetensors: metadata 'depth' is ' 2', not an integer" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/depth_spaced.safetensors"
refused "$ck/no_width.safetensors: metadata has no 'width'" inspect "$ck/no_width.safetensors"
refused "$ck/too_big.safetensors: .*more than 268435456 weights" inspect "$ck/too_big.safetensors"
# A few KB that claim a model of 2^28 weights: refused before that model is built.
refused "$ck/claims_more.safetensors: its metadata describes a model of 2.*e+07 weights (MLP 784-4096-4096-10), the file holds 6416$" \
  inspect "$ck/claims_more.safetensors"
refused "$ck/claims_more.safetensors: its metadata describes a model of" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/claims_more.safetensors"
refused "$ck/no_step.safetensors: .*entry 'step' is missing" \
  train "${tiny[@]}" --epochs 2 --resume "$ck/no_step.safetensors"
# Another --batch than the checkpoint's: its step count is not where this run's epoch 1 ends.
refused "$ck/ck.safetensors: the optimizer took 4 steps, but epochs_done 1 x 2 batches" \
  train --data "$work/data" --batch 64 --schedule constant --epochs 2 --resume "$ck/ck.safetensors"

# --log of another header (here another depth's norms) is refused, the file untouched; the
# same header appends.
"$modnorm" train "${tiny[@]}" --width 8 --epochs 1 --log "$work/log.csv" > /dev/null
cp "$work/log.csv" "$work/log_before.csv"
refused "--log $work/log.csv: the file's header is 'step,epoch,loss,accuracy,lr,0.weight_norm,2.weight_norm,4.weight_norm,ranks,comm_bytes,comm_seconds', this run's is 'step,epoch,loss,accuracy,lr,0.weight_norm,2.weight_norm,ranks" \
  train "${tiny[@]}" --width 8 --depth 2 --epochs 1 --log "$work/log.csv"
cmp "$work/log.csv" "$work/log_before.csv"
"$modnorm" train "${tiny[@]}" --width 8 --epochs 1 --log "$work/log.csv" > /dev/null
if [ "$(grep -c '^step,' "$work/log.csv")" != 1 ] ||
  [ "$(wc -l < "$work/log.csv")" -le "$(wc -l < "$work/log_before.csv")" ]; then
  echo "FAIL: the same header did not append: $(cat "$work/log.csv")"; exit 1
fi

# inspect prints what it has.
"$modnorm" inspect "$ck/descriptive_gone.safetensors" > "$work/inspect.txt"
grep -q "descriptive_gone.safetensors: MLP 784-8-8-10$" "$work/inspect.txt"
grep -q "^0.weight  *\[8x784\]  *spectral" "$work/inspect.txt"
"$modnorm" inspect "$ck/ck.safetensors" > "$work/inspect.txt"
grep -q "ck.safetensors: MLP 784-8-8-10 after 1 epochs of modular$" "$work/inspect.txt"

# A deep narrow MLP builds in linear time: depth 2000 trains one step in well under a second
# (building it by chaining >> took about 1 s at depth 2000 and 4.5 s at 4000).
timeout 60 "$modnorm" train --data "$work/data" --depth 2000 --width 1 --batch 128 --epochs 1 \
  --schedule constant > "$work/deep.txt"
grep -q "MLP 784-1-...-1-10 (2000 Linear layers)" "$work/deep.txt"
echo "hostile input: ok"
