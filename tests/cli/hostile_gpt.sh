#!/usr/bin/env bash
# `modnorm train gpt`, `sample` and `inspect` under hostile input: broken weights are
# refused by all three (naming the checkpoint, never sampled from, never blamed on --lr); a
# corpus whose vocabulary no checkpoint holds, a --log of another header, a directory, a device
# or an oversized file as --text, and a step too large for memory are refused before training;
# a checkpoint that claims 10^9 steps resumes at once; the next save removes the temporary files
# that killed saves left, and only those.
# Usage: hostile_gpt.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
# refused MESSAGE ARGS...: the command fails within 20 s, without an abort or a signal, with one
# stderr line "modnorm: ..." containing MESSAGE (a fixed string), and trains no step.
refused() {
  local message="$1" rc=0
  shift
  timeout 20 "$modnorm" "$@" > "$work/out.txt" 2> "$work/err.txt" || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -ge 128 ]; then
    fail "'modnorm $*' exited with $rc (0: accepted, 124: hung, >= 128: a signal): $(cat "$work/err.txt")"
  fi
  [ "$(wc -l < "$work/err.txt")" -eq 1 ] && grep -q "^modnorm: " "$work/err.txt" &&
    grep -qF -- "$message" "$work/err.txt" ||
    fail "'modnorm $*' did not say just 'modnorm: ...$message': $(cat "$work/err.txt")"
  if grep -q "^step " "$work/out.txt"; then fail "'modnorm $*' trained before refusing"; fi
}

python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light']) for _ in range(12)) for _ in range(400)))" > "$work/text.txt"
gpt=(gpt --width 16 --depth 1 --eval-every 2 --eval-tokens 64 --seed 3 --schedule constant)
tiny=("${gpt[@]}" --text "$work/text.txt" --context 8 --batch 4)
"$modnorm" train "${tiny[@]}" --steps 2 --save "$work/ck.safetensors" > /dev/null

# edit NAME PYTHON: a copy of ck.safetensors as NAME.safetensors edited by PYTHON
# (edit_checkpoint.py: `h` the header, `m` the metadata, `put(name, values)` the data).
edit() {
  python3 "$(dirname "$0")/edit_checkpoint.py" "$work/ck.safetensors" "$work/$1.safetensors" "$2"
}
edit embed_nan "put('embed.weight', [float('nan')])"
edit embed_inf "put('embed.weight', [0.0, float('-inf')])"
edit out_huge "e = h['out.0.weight']; k = (e['data_offsets'][1] - e['data_offsets'][0]) // 4; put('out.0.weight', [3e38 if i % 2 else -3e38 for i in range(k)])"
edit overflow "n = lambda e: (h[e]['data_offsets'][1] - h[e]['data_offsets'][0]) // 4; put('embed.weight', [1e20] * n('embed.weight')); put('out.0.weight', [1e20] * n('out.0.weight'))"
edit billion "m['steps_done'] = '1000000000'; put('optim.step', [1e9])"

# Broken weights: sample, inspect and --resume refuse them alike, naming the file and the entry.
for name in embed_nan embed_inf out_huge; do
  ck="$work/$name.safetensors"
  entry=$([ "$name" = out_huge ] && echo "'out.0.weight'" || echo "'embed.weight'")
  refused "[checkpoint] $ck: [load_weights] $entry" sample "$ck" --prompt "the" --tokens 5
  refused "[checkpoint] $ck: [load_weights] $entry" inspect "$ck"
  refused "[checkpoint] $ck: [load_weights] $entry" train "${tiny[@]}" --steps 4 --resume "$ck"
done
grep -q "lr" "$work/err.txt" && fail "a broken checkpoint blamed on the learning rate: $(cat "$work/err.txt")"
# Weights of representable norms whose logits overflow f32: sample stops before drawing.
refused "[sample] $work/overflow.safetensors: the logits of character 0 are not finite" \
  sample "$work/overflow.safetensors" --prompt "the" --tokens 5

# A checkpoint that claims 10^9 steps: the batch order is computed, not replayed, so the resumed
# run starts at once (here with nothing left to do).
start=$(date +%s%N)
timeout 20 "$modnorm" train "${tiny[@]}" --steps 1000000000 --resume "$work/billion.safetensors" \
  > "$work/billion.txt" || fail "resuming after 10^9 steps failed: $(cat "$work/billion.txt")"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "resumed from .* after step 1000000000" "$work/billion.txt" || fail "$(cat "$work/billion.txt")"
[ "$elapsed_ms" -lt 5000 ] || fail "resuming after 10^9 steps took $elapsed_ms ms"
echo "resumed after 10^9 steps in $elapsed_ms ms"

# --text: a directory, a device without an end, a file over the size limit.
refused "[load_text] $work: is a directory" train "${gpt[@]}" --text "$work" --steps 1
refused "[load_text] /dev/zero: not a regular file, and more than 268435456 bytes" \
  train "${gpt[@]}" --text /dev/zero --steps 1
truncate -s 300M "$work/huge.txt"
refused "[load_text] $work/huge.txt: the file has 314572800 bytes, more than 268435456 bytes" \
  train "${gpt[@]}" --text "$work/huge.txt" --steps 1
rm "$work/huge.txt"

# Flags within their limits whose step cannot fit in memory: sized before any allocation (on a
# text whose parts are longer than the context).
for _ in $(seq 40); do cat "$work/text.txt"; done > "$work/long.txt"
refused "--batch 65536 x --context 65536: one step needs at least" \
  train "${gpt[@]}" --text "$work/long.txt" --context 65536 --batch 65536 --steps 1

# Every Unicode scalar value, twice: more distinct characters than a checkpoint holds.
python3 -c "import sys; t = ''.join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF); sys.stdout.buffer.write((t + t).encode('utf-8'))" > "$work/unicode.txt"
refused "--text $work/unicode.txt: its training part has 1112064 distinct characters, more than 1048576" \
  train "${gpt[@]}" --text "$work/unicode.txt" --steps 1 --save "$work/unicode.safetensors"
[ ! -e "$work/unicode.safetensors" ] || fail "a checkpoint that cannot be read back was written"

# --log of another model's header: refused, the file untouched.
printf 'step,epoch,loss,accuracy,lr,0.weight_norm\n1,1,2.3,0.1,0.1,1\n' > "$work/mlp.csv"
cp "$work/mlp.csv" "$work/mlp_before.csv"
refused "--log $work/mlp.csv: the file's header is 'step,epoch,loss,accuracy,lr,0.weight_norm', this run's is 'step,tokens," \
  train "${tiny[@]}" --steps 2 --log "$work/mlp.csv"
cmp "$work/mlp.csv" "$work/mlp_before.csv" || fail "the refused log was changed"

# Stale temporary files: a killed save's (its process is gone) is removed by the next save; a
# live process's, and files that merely look alike, stay.
sh -c 'exit 0' & dead=$!
wait "$dead"
for name in "tmp.$dead.0" "tmp.$dead.17" "tmp.$$.0" "tmp.x$dead.0" "tmp.$dead" "tmp.$dead.0.bak"; do
  echo stale > "$work/ck.safetensors.$name"
done
echo other > "$work/other.safetensors.tmp.$dead.0"
"$modnorm" train "${tiny[@]}" --steps 2 --save "$work/ck.safetensors" > /dev/null
for name in "tmp.$dead.0" "tmp.$dead.17"; do
  [ ! -e "$work/ck.safetensors.$name" ] || fail "the stale ck.safetensors.$name was kept"
done
for name in "tmp.$$.0" "tmp.x$dead.0" "tmp.$dead" "tmp.$dead.0.bak"; do
  [ -e "$work/ck.safetensors.$name" ] || fail "ck.safetensors.$name was removed"
done
[ -e "$work/other.safetensors.tmp.$dead.0" ] || fail "another checkpoint's temporary file was removed"
echo "hostile gpt input: ok"
