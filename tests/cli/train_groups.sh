#!/usr/bin/env bash
# `modnorm train --group` and `--hybrid`, as a user runs them: a grouped GPT run of 4 steps equals,
# bit for bit, a run of 2 steps resumed for 2 more; the final table names each atom's group,
# algorithm and rate; bad group specs are refused before anything loads, naming the fault.
# Usage: train_groups.sh path/to/modnorm
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

python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light', 'earth', 'God']) for _ in range(12)) for _ in range(3000)))" > "$work/text.txt"
base=(gpt --text "$work/text.txt" --width 16 --depth 1 --context 16 --eval-every 2
      --eval-tokens 256 --seed 3
      --group 'embed:adamw,lr=0.008,betas=0.9/0.95,wd=0.01' --group '@hidden:modular,lr=0.02,rule=muon')
tiny=("${base[@]}" --schedule constant)

"$modnorm" train "${tiny[@]}" --steps 4 --save "$work/straight.safetensors" > "$work/straight.txt"
"$modnorm" train "${tiny[@]}" --steps 2 --save "$work/resumed.safetensors" > /dev/null
"$modnorm" train "${tiny[@]}" --steps 4 --resume "$work/resumed.safetensors" \
  --save "$work/resumed.safetensors" > /dev/null
cmp -s "$work/straight.safetensors" "$work/resumed.safetensors" ||
  fail "a grouped run resumed after 2 steps differs from a straight run of 4"
# The table: the embedding in group 'embed' on adamw, a hidden matrix on the muon rule, the
# output layer in the rest (the main flags: modular).
grep -E '^embed\.weight .* embed +adamw ' "$work/straight.txt" > /dev/null || fail "no adamw row for embed.weight: $(cat "$work/straight.txt")"
grep -E ' @hidden +modular ' "$work/straight.txt" > /dev/null || fail "no @hidden row"
grep -E '^out\..* rest +modular ' "$work/straight.txt" > /dev/null || fail "no rest row for the output layer"

"$modnorm" train "${base[@]}" --steps 4 --schedule warmup_stable_decay > /dev/null

# --hybrid on the MLP: every vector and the output layer on AdamW (no biases here: the output).
"$modnorm" train --limit 256 --epochs 1 --width 32 --depth 2 --hybrid > "$work/hybrid.txt"
grep -E '@embedding,@output,@vector +adamw' "$work/hybrid.txt" > /dev/null || fail "--hybrid: no adamw row"

expect_error "[train] --group 'embed': no ':' between the parameters and the algorithm" \
  "$modnorm" train --group 'embed'
expect_error "unknown algorithm 'adam' (one of modular, sgd, adamw, adaptive_adam)" \
  "$modnorm" train --group 'embed:adam'
expect_error "unknown key 'momentum'" "$modnorm" train --group '0:sgd,momentum=0.9'
expect_error "lr must be a number, got 'fast'" "$modnorm" train --group '0:sgd,lr=fast'
expect_error "unknown role 'head'" "$modnorm" train --group '@head:adamw'
expect_error "key 'lr' given twice" "$modnorm" train --group '0:sgd,lr=1,lr=2'
expect_error "betas must be B1/B2" "$modnorm" train --group '0:adamw,betas=0.9'
expect_error "group '0': nesterov applies to the modular and sgd algorithms, not to adamw" \
  "$modnorm" train --limit 64 --epochs 1 --width 16 --group '0:adamw,nesterov=on'
expect_error "pattern 'embed' matches no parameter" \
  "$modnorm" train --limit 64 --epochs 1 --width 16 --group 'embed:adamw'
echo "train_groups: ok"
