#!/usr/bin/env bash
# `modnorm train gpt --arch modern`, `sample` and `inspect` as a user runs them: a run of
# 6 steps equals, bit for bit, a run of 3 steps resumed for 3 more (the architecture and the soft
# cap read back from the checkpoint); sampling is determined by its seed; the default --arch is
# modula's GPT, whose checkpoints carry no 'arch'; bad flags and metadata are clear errors.
# Usage: train_modern_gpt.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# expect_error "fragment" command...: the command must fail with the fragment on stderr.
expect_error() {
  local fragment="$1"; shift
  if "$@" 2> "$work/error.txt" > /dev/null; then fail "accepted: $*"; fi
  grep -qF -- "$fragment" "$work/error.txt" || fail "'$*' said '$(cat "$work/error.txt")', not '$fragment'"
}
edit() {  # edit NAME PYTHON: a copy of the modern checkpoint with its metadata `m` edited
  python3 "$(dirname "$0")/edit_checkpoint.py" "$work/straight.safetensors" "$work/$1.safetensors" "$2"
}

python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light', 'earth', 'God']) for _ in range(12)) for _ in range(3000)))" > "$work/text.txt"
tiny=(gpt --text "$work/text.txt" --width 16 --depth 2 --context 16
      --eval-every 3 --eval-tokens 256 --seed 3 --schedule constant)
modern=("${tiny[@]}" --arch modern --soft-cap 15)

"$modnorm" train "${modern[@]}" --steps 6 --save "$work/straight.safetensors" --json \
  > "$work/straight.json" 2> "$work/straight.txt"
grep -q "modern GPT 2 blocks, width 16, 4 heads, context 16, vocab .*, soft cap 15" "$work/straight.txt" ||
  fail "run line: $(head -1 "$work/straight.txt")"
python3 - "$work/straight.json" "$work/straight.safetensors" <<'PY'
import json, math, struct, sys
d = json.load(open(sys.argv[1]))
assert d["arch"] == "modern" and d["steps"] == 6 and math.isfinite(d["val_loss"]), d
data = open(sys.argv[2], "rb").read()
m = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])["__metadata__"]
assert m["arch"] == "modern" and float(m["soft_cap"]) == 15.0, m
PY

# Resume: the architecture comes from the checkpoint (no --arch needed), bit for bit.
"$modnorm" train "${modern[@]}" --steps 3 --save "$work/resumed.safetensors" > /dev/null
"$modnorm" train "${tiny[@]}" --steps 6 --resume "$work/resumed.safetensors" \
  --save "$work/resumed.safetensors" > "$work/resumed.txt"
grep -q "resumed from .* after step 3" "$work/resumed.txt"
cmp "$work/straight.safetensors" "$work/resumed.safetensors" ||
  fail "the resumed modern checkpoint differs from the straight run"

"$modnorm" inspect "$work/straight.safetensors" > "$work/inspect.txt"
grep -q "modern GPT 2 blocks, width 16, 4 heads, context 16, vocab .*, soft cap 15 after 6 steps" "$work/inspect.txt" ||
  fail "inspect: $(head -1 "$work/inspect.txt")"
grep -q "SoftCap(15)" "$work/inspect.txt" || fail "inspect shows no SoftCap"
grep -q "^out.weight " "$work/inspect.txt" || fail "inspect has no out.weight row"

sample=("$modnorm" sample "$work/straight.safetensors" --tokens 40)
"${sample[@]}" --prompt "and the" --seed 5 > "$work/a.txt"
"${sample[@]}" --prompt "and the" --seed 5 > "$work/b.txt"
cmp "$work/a.txt" "$work/b.txt" || fail "sampling with one seed differs"
[ "$(head -c 47 "$work/a.txt" | wc -m)" = 47 ] || fail "sample too short: $(cat "$work/a.txt")"

# The default is modula's GPT, as before: --arch modula changes nothing, and its checkpoint
# has no 'arch'; the modern GPT trains to another checkpoint.
"$modnorm" train "${tiny[@]}" --steps 2 --save "$work/plain.safetensors" > /dev/null
"$modnorm" train "${tiny[@]}" --steps 2 --arch modula --save "$work/modula.safetensors" > /dev/null
cmp "$work/plain.safetensors" "$work/modula.safetensors" || fail "--arch modula is not the default"
if grep -q '"arch"' "$work/plain.safetensors"; then fail "a modula checkpoint carries 'arch'"; fi
"$modnorm" inspect "$work/plain.safetensors" > "$work/plain.txt"
grep -q "^[^ ]*: GPT 2 blocks" "$work/plain.txt" || fail "modula inspect: $(head -1 "$work/plain.txt")"

expect_error "'transformer' is not one of modula, modern" "$modnorm" train "${tiny[@]}" --arch transformer
expect_error "--soft-cap is 0, must be a finite number > 0" \
  "$modnorm" train "${tiny[@]}" --arch modern --soft-cap 0 --steps 1
expect_error "--soft-cap is -3, must be a finite number > 0" \
  "$modnorm" train "${tiny[@]}" --arch modern --soft-cap -3 --steps 1
expect_error "--soft-cap applies to --arch modern, not to --arch modula" \
  "$modnorm" train "${tiny[@]}" --soft-cap 15 --steps 1
expect_error "[train] --arch is not a flag of the mlp model (modnorm train without a model); it is one of modnorm train gpt" \
  "$modnorm" train --arch modern --limit 8
expect_error "holds a modern GPT" "$modnorm" train "${tiny[@]}" --arch modula --steps 6 \
  --resume "$work/resumed.safetensors"
expect_error "holds a modern GPT" "$modnorm" train "${tiny[@]}" --arch modern --soft-cap 30 --steps 6 \
  --resume "$work/resumed.safetensors"
edit bad_arch 'm["arch"] = "gpt5"'
expect_error "metadata 'arch' is 'gpt5', not one of modula, modern" \
  "$modnorm" sample "$work/bad_arch.safetensors" --prompt "a"
edit bad_cap 'm["soft_cap"] = "-inf"'
expect_error "metadata 'soft_cap' '-inf' is not a finite number > 0" \
  "$modnorm" inspect "$work/bad_cap.safetensors"
edit modula_cap 'm["arch"] = "modula"'
expect_error "belongs to no modula GPT" "$modnorm" inspect "$work/modula_cap.safetensors"
echo "train gpt --arch modern / sample / inspect: ok"
