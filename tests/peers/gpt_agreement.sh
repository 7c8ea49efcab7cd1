#!/usr/bin/env bash
# CTest test gpt_agreement: modnorm::GPT (L = 1 and L = 3) against an independent JAX model of
# modula's GPT: logits, loss, weight gradients, dualized updates and coefficients
# (bench/peers/gpt_agreement.py). Runs under the .venv that scripts/setup creates; without it,
# or without jax in it, prints "gpt_agreement skipped: <why>" and CTest reports it skipped.
# With ARCH modern (CTest modern_gpt_agreement) the same for modnorm::ModernGPT against the
# JAX model of the normed GPT (bench/peers/modern_gpt_jax.py).
# Usage: gpt_agreement.sh SOURCE_DIR BENCH_GPT_OURS OUT_DIR [ARCH]
set -euo pipefail
root="$1" ours="$2" out="$3" arch="${4:-modula}"
python="$root/.venv/bin/python"
if [ ! -x "$python" ]; then
  echo "gpt_agreement skipped: no $root/.venv (scripts/setup creates it with jax from PyPI)"
  exit 0
fi
exec "$python" "$root/bench/peers/gpt_agreement.py" --skip-if-missing --blocks 1 3 \
  --arch "$arch" --ours "$ours" --out "$out"
