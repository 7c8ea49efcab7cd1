#!/usr/bin/env bash
# CTest tests hybrid_agreement and hybrid_agreement_torch: modnorm's parameter groups (Muon on the
# hidden matrices, AdamW on the embedding, the output layer and the vectors) against optax's
# multi_transform of contrib.muon and adamw (PEER optax, the default), or against PyTorch's
# torch.optim.Muon and torch.optim.AdamW (PEER torch), 20 steps on a small GPT
# (bench/peers/hybrid_agreement.py). optax runs under the .venv that scripts/setup creates,
# PyTorch under the .venv-torch of `scripts/setup torch2` (or $MODNORM_TORCH_PYTHON); without
# them, or without optax or torch.optim.Muon in them, prints "<test> skipped: <why>" and CTest
# reports it skipped.
# Usage: hybrid_agreement.sh SOURCE_DIR BENCH_HYBRID_OURS OUT_DIR [optax|torch]
set -euo pipefail
root="$1" ours="$2" out="$3" peer="${4:-optax}"
if [ "$peer" = torch ]; then
  test=hybrid_agreement_torch
  python="${MODNORM_TORCH_PYTHON:-$root/.venv-torch/bin/python}"
  setup="\`scripts/setup torch2\` installs PyTorch 2.x there"
else
  test=hybrid_agreement
  python="$root/.venv/bin/python"
  setup="scripts/setup creates it with jax and optax from PyPI"
fi
if [ ! -x "$python" ]; then
  echo "$test skipped: no $python ($setup)"
  exit 0
fi
exec "$python" "$root/bench/peers/hybrid_agreement.py" --skip-if-missing --steps 20 \
  --peer "$peer" --ours "$ours" --out "$out"
