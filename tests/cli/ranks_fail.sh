#!/usr/bin/env bash
# `mpirun -np 2 modnorm train` when ranks go wrong: ranks given different flags are refused
# before the first step, naming the flag and both values; when one rank fails (rank 1 cannot read
# its text; rank 0 cannot save because its directory was removed mid-run), every rank ends
# within seconds with that rank's message, not after the collectives' 600 s timeout.
# Usage: ranks_fail.sh MPIEXEC path/to/modnorm
set -uo pipefail
mpiexec="$1" modnorm="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
mpirun=("$mpiexec" --allow-run-as-root --oversubscribe)
python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light']) for _ in range(12)) for _ in range(400)))" > "$work/text.txt"
tiny=(train gpt --width 16 --depth 1 --context 8 --batch 4 --eval-tokens 64)

# ended LIMIT MESSAGE: the job of $work/out.txt (status $rc, $elapsed seconds) failed within
# LIMIT seconds and printed MESSAGE (a fixed string).
ended() {
  echo "status $rc after $elapsed s"; tail -n 15 "$work/out.txt"
  [ "$rc" -ne 0 ] || fail "the job succeeded"
  [ "$rc" -ne 124 ] || fail "the job hung"
  [ "$elapsed" -lt "$1" ] || fail "the job took $elapsed s"
  grep -qF -- "$2" "$work/out.txt" || fail "no '$2' in the output"
}

# Different --steps on the two ranks: refused up front on every rank.
start=$(date +%s)
timeout 100 "${mpirun[@]}" -np 1 "$modnorm" "${tiny[@]}" --text "$work/text.txt" --steps 3 : \
  -np 1 "$modnorm" "${tiny[@]}" --text "$work/text.txt" --steps 6 > "$work/out.txt" 2>&1
rc=$? elapsed=$(( $(date +%s) - start ))
ended 30 "the ranks were given different flags: rank 0 has --steps 3, rank 1 has --steps 6"
if grep -q "^step " "$work/out.txt"; then fail "a step ran before the refusal"; fi

# Rank 1 alone fails (its $MODNORM_KJV, the default --text, names no file) while rank 0 goes on
# to its first collective: rank 1's message, and every rank ends.
start=$(date +%s)
timeout 100 "${mpirun[@]}" -np 1 env MODNORM_KJV="$work/text.txt" "$modnorm" "${tiny[@]}" --steps 3 : \
  -np 1 env MODNORM_KJV="$work/nowhere.txt" "$modnorm" "${tiny[@]}" --steps 3 > "$work/out.txt" 2>&1
rc=$? elapsed=$(( $(date +%s) - start ))
ended 30 "modnorm: [load_text] $work/nowhere.txt: cannot open the file"

# Rank 0's save fails mid-run (the directory is removed): rank 0's message, and rank 1 does not
# wait for it.
mkdir "$work/run"
timeout 100 "${mpirun[@]}" -np 2 "$modnorm" "${tiny[@]}" --text "$work/text.txt" --steps 1000000 \
  --eval-every 5 --save "$work/run/ck.safetensors" > "$work/out.txt" 2>&1 &
job=$!
for _ in $(seq 300); do [ -e "$work/run/ck.safetensors" ] && break; sleep 0.1; done
[ -e "$work/run/ck.safetensors" ] || fail "no checkpoint was written: $(cat "$work/out.txt")"
# A rename, not rm -rf: the running save can write a file between rm's removals and its rmdir,
# so the directory (and the saves) survived under load.
mv "$work/run" "$work/gone"
start=$(date +%s)
wait "$job"
rc=$? elapsed=$(( $(date +%s) - start ))
ended 30 "[save_safetensors] $work/run/ck.safetensors"
echo "ranks_fail.sh: ok"
