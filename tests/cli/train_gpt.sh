#!/usr/bin/env bash
# `modnorm train gpt` and `modnorm sample`, as a user runs them: a run of 6 steps equals,
# bit for bit, a run of 3 steps resumed for 3 more; --json and --log; sampling is determined by
# its seed; `inspect` reads a GPT checkpoint; bad flags, files and prompts are clear errors.
# Usage: train_gpt.sh path/to/modnorm
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

# A small corpus: the first 2000 verses of the KJV when scripts/setup has extracted it, else a
# generated text (the test checks the mechanics, not the prose).
kjv="${MODNORM_KJV:-${XDG_CACHE_HOME:-$HOME/.cache}/modnorm/kjv.txt}"
if [ -s "$kjv" ]; then
  head -n 2000 "$kjv" > "$work/text.txt"
else
  python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light', 'earth', 'God']) for _ in range(12)) for _ in range(3000)))" > "$work/text.txt"
fi
tiny=(gpt --text "$work/text.txt" --width 16 --depth 2 --context 16
      --eval-every 3 --eval-tokens 256 --seed 3 --schedule constant)

"$modnorm" train "${tiny[@]}" --steps 6 --save "$work/straight.safetensors" --json > "$work/straight.json" 2> "$work/straight.txt"
python3 - "$work/straight.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == "gpt" and d["steps"] == 6 and d["width"] == 16 and d["depth"] == 2, d
assert math.isfinite(d["val_loss"]) and abs(d["val_bits_per_char"] - d["val_loss"] / math.log(2)) < 1e-9, d
assert d["tokens_per_second"] > 0, d
PY

"$modnorm" train "${tiny[@]}" --steps 3 --save "$work/resumed.safetensors" --log "$work/log.csv" > /dev/null
"$modnorm" train "${tiny[@]}" --steps 6 --resume "$work/resumed.safetensors" \
  --save "$work/resumed.safetensors" --log "$work/log.csv" > "$work/resumed.txt"
grep -q "resumed from .* after step 3" "$work/resumed.txt"
cmp "$work/straight.safetensors" "$work/resumed.safetensors" ||
  fail "the resumed checkpoint differs from the straight run"
head -1 "$work/log.csv" | grep -q "^step,tokens,train_loss,val_loss,val_bits_per_char,lr,seconds,embed.weight_norm," ||
  fail "log header: $(head -1 "$work/log.csv")"
[ "$(grep -c '^[36],' "$work/log.csv")" = 2 ] || fail "log rows: $(cat "$work/log.csv")"

"$modnorm" inspect "$work/straight.safetensors" > "$work/inspect.txt"
grep -q "GPT 2 blocks, width 16, 4 heads, context 16, vocab .* after 6 steps of modular" "$work/inspect.txt"
grep -q "^embed.weight  *\[16x" "$work/inspect.txt"

# Sampling: the seed fixes the text; temperature 0 is greedy and needs no seed.
sample=("$modnorm" sample "$work/straight.safetensors" --tokens 40)
"${sample[@]}" --prompt "And the" --seed 5 > "$work/a.txt"
"${sample[@]}" --prompt "And the" --seed 5 > "$work/b.txt"
cmp "$work/a.txt" "$work/b.txt" || fail "sampling with one seed differs"
grep -q "^And the" "$work/a.txt"
[ "$(head -c 47 "$work/a.txt" | wc -m)" = 47 ] || fail "sample too short: $(cat "$work/a.txt")"
"${sample[@]}" --prompt "And the" --temperature 0 --seed 1 > "$work/g1.txt"
"${sample[@]}" --prompt "And the" --temperature 0 --seed 2 > "$work/g2.txt"
cmp "$work/g1.txt" "$work/g2.txt" || fail "greedy sampling depends on the seed"

# Errors: flags of the other model, files, prompts, checkpoints that do not fit.
expect_error "[train gpt] --epochs is not a flag of the gpt model; it is one of modnorm train mlp, modnorm train cnn" \
  "$modnorm" train "${tiny[@]}" --epochs 2
expect_error "[train] --steps is not a flag of the mlp model (modnorm train without a model); it is one of modnorm train gpt" \
  "$modnorm" train --steps 3
expect_error "[train] --model is gone: the model is a subcommand now, write modnorm train gpt [flags]" \
  "$modnorm" train --model gpt --text "$work/text.txt"
expect_error "[train] --seed comes before the model: write it after, modnorm train gpt --seed" \
  "$modnorm" train --seed 3 gpt --text "$work/text.txt"
expect_error "$work/nowhere.txt: cannot open" "$modnorm" train gpt --text "$work/nowhere.txt"
: > "$work/empty.txt"
expect_error "empty.txt: the file is empty" "$modnorm" train gpt --text "$work/empty.txt"
printf 'abc\xff' > "$work/binary.txt"
expect_error "invalid UTF-8 at byte 3" "$modnorm" train gpt --text "$work/binary.txt"
expect_error "heads of even size" "$modnorm" train "${tiny[@]}" --heads 3 --steps 1
expect_error "must each be longer than --context" "$modnorm" train gpt \
  --text "$work/text.txt" --context 60000 --steps 1
expect_error "--batch 12, this run has 5" "$modnorm" train "${tiny[@]}" --steps 6 --batch 5 \
  --resume "$work/straight.safetensors"
expect_error "is not in the vocabulary" "${sample[@]}" --prompt "And the ~"
expect_error "a checkpoint of model 'gpt'; resume it with modnorm train gpt" "$modnorm" train --resume "$work/straight.safetensors"
expect_error "--prompt is empty" "${sample[@]}" --prompt ""
expect_error "--temperature is -1" "${sample[@]}" --prompt "And" --temperature -1
expect_error "text.txt: header length" "$modnorm" sample "$work/text.txt" --prompt "a"
if [ -d /usr/share/datasets/fashion-mnist ]; then
  "$modnorm" train --limit 256 --epochs 1 --width 8 --save "$work/mlp.safetensors" > /dev/null
  expect_error "not a GPT checkpoint" "$modnorm" sample "$work/mlp.safetensors" --prompt "a"
  expect_error "a checkpoint of model 'mlp'; resume it with modnorm train mlp" \
    "$modnorm" train "${tiny[@]}" --steps 6 \
    --resume "$work/mlp.safetensors"
fi
echo "train gpt / sample: ok"
