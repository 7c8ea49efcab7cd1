#!/usr/bin/env bash
# CTest test peers_agreement: modnorm against optax.contrib.muon on identical inputs
# (orthogonalize in f32 and f64, 20 optimizer steps with Convention::optax, MLP gradients), and
# against PyTorch's reference quintic where a Python with torch is found. It is
# `bench/peers/peers.py --agreement-only` under the .venv that scripts/setup creates; without
# that .venv (no PyPI) it prints "peers_agreement skipped: <why>" and CTest reports it skipped.
# Usage: agreement.sh SOURCE_DIR BENCH_PEERS_OURS OUT_DIR
set -euo pipefail
root="$1" ours="$2" out="$3"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "peers_agreement skipped: no $root/.venv (scripts/setup creates it with jax and optax from PyPI)"
  exit 0
fi
exec "$python" "$root/bench/peers/peers.py" --agreement-only --skip-if-missing \
  --ours "$ours" --out "$out"
