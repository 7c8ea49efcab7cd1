#!/usr/bin/env bash
# `mpirun -np W modnorm train` (docs/distributed.md): 2 ranks train the MLP to the test loss of one
# process (f32 summation order apart), rank 0 alone prints one JSON object and writes the log,
# whose rows record the ranks and the step's communication; a checkpoint of 2 ranks resumes with
# 3 and with 1 to the loss of the uninterrupted run; the GPT trains under mpirun too.
# Usage: train_distributed.sh MPIEXEC path/to/modnorm
set -euo pipefail
mpiexec="$1" modnorm="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "skipped: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  exit 0
fi
export OMP_NUM_THREADS=1
mpirun=("$mpiexec" --allow-run-as-root --oversubscribe -np)
# The first 2048 training and 1000 test images: each run evaluates the whole test set.
python3 "$(dirname "$0")/fashion_subset.py" "$work/data"
common=(--data "$work/data" --limit 512 --batch 64 --width 32 --seed 3 --schedule constant --json)
fail() { echo "FAIL: $*"; exit 1; }
# |a - b| <= 1e-4 (1 + |b|) for the test losses of two --json outputs.
same_loss() {
  python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.loads(open(f).read().strip().splitlines()[-1])["test_loss"] for f in sys.argv[1:])
assert abs(a - b) <= 1e-4 * (1 + abs(b)), (a, b)
PY
}

"$modnorm" train "${common[@]}" --epochs 2 > "$work/single.json"
"${mpirun[@]}" 2 "$modnorm" train "${common[@]}" --epochs 2 --log "$work/log.csv" > "$work/two.json"
[ "$(wc -l < "$work/two.json")" = 1 ] || fail "expected one JSON line from rank 0: $(cat "$work/two.json")"
same_loss "$work/two.json" "$work/single.json" || fail "2 ranks differ from one process"
head -1 "$work/log.csv" | grep -q ",ranks,comm_bytes,comm_seconds$" || fail "log header: $(head -1 "$work/log.csv")"
python3 - "$work/log.csv" <<'PY' || fail "log rows: $(cat "$work/log.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and all(r["ranks"] == "2" and int(r["comm_bytes"]) > 0 and float(r["comm_seconds"]) >= 0 for r in rows), rows
PY

# A checkpoint of 2 ranks after epoch 1, resumed for epoch 2 with 3 ranks and with 1.
"${mpirun[@]}" 2 "$modnorm" train "${common[@]}" --epochs 1 --save "$work/half.safetensors" > /dev/null
"${mpirun[@]}" 3 "$modnorm" train "${common[@]}" --epochs 2 --resume "$work/half.safetensors" > "$work/three.json"
same_loss "$work/three.json" "$work/single.json" || fail "resumed with 3 ranks differs"
"$modnorm" train "${common[@]}" --epochs 2 --resume "$work/half.safetensors" > "$work/one.json"
same_loss "$work/one.json" "$work/single.json" || fail "resumed with 1 rank differs"

# The GPT under mpirun, every rank on its share of each batch of windows.
python3 -c "import random; r = random.Random(1); print('\n'.join(' '.join(r.choice(['and', 'the', 'of', 'light']) for _ in range(12)) for _ in range(500)))" > "$work/text.txt"
"${mpirun[@]}" 2 "$modnorm" train gpt --text "$work/text.txt" --width 16 --depth 1 --context 8 \
  --batch 4 --steps 3 --eval-tokens 64 --json > "$work/gpt.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['steps'] == 3, d" "$work/gpt.json"
echo "train_distributed.sh: ok"
