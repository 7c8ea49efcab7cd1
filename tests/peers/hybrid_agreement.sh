#!/usr/bin/env bash
# CTest test hybrid_agreement: modnorm's parameter groups (Muon on the hidden matrices, AdamW on
# the embedding, the output layer and the vectors) against optax's multi_transform of
# contrib.muon and adamw, 20 steps on a small GPT (bench/peers/hybrid_agreement.py). Runs under
# the .venv that scripts/setup creates; without it, or without optax in it, prints
# "hybrid_agreement skipped: <why>" and CTest reports it skipped.
# Usage: hybrid_agreement.sh SOURCE_DIR BENCH_HYBRID_OURS OUT_DIR
set -euo pipefail
root="$1" ours="$2" out="$3"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "hybrid_agreement skipped: no $root/.venv (scripts/setup creates it with jax and optax from PyPI)"
  exit 0
fi
exec "$python" "$root/bench/peers/hybrid_agreement.py" --skip-if-missing --steps 20 \
  --ours "$ours" --out "$out"
