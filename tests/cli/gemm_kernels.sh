#!/usr/bin/env bash
# `modnorm` names the CPU GEMM provider and the kernels it runs (demo, and the first line and the
# --json summary of a training run), and warns once, on stderr, when the provider runs generic
# kernels on a CPU with AVX2: forced here through the provider's own limit (oneDNN's
# DNNL_MAX_CPU_ISA, OpenBLAS's OPENBLAS_CORETYPE). Other providers, or a CPU without AVX2, only
# get the naming checks.
# Usage: gemm_kernels.sh path/to/modnorm
set -euo pipefail
modnorm="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
fail() { echo "gemm_kernels.sh: $*" >&2; exit 1; }

"$modnorm" demo >"$work/out" 2>"$work/err"
first=$(head -n 1 "$work/out")
[[ "$first" =~ CPU\ GEMM\ (oneDNN|OpenBLAS|BLIS|Eigen)\ [0-9.]+\ on\ [^,]+\ kernels ]] ||
  fail "demo does not name the GEMM provider and its kernels: $first"
provider="${BASH_REMATCH[1]}"
[ ! -s "$work/err" ] || fail "demo warned on the build's own kernels: $(cat "$work/err")"

# A tiny GPT run: the first line names the provider, and so does the --json summary.
printf 'in the beginning was the word\n%.0s' {1..40} >"$work/corpus.txt"
"$modnorm" train gpt --text "$work/corpus.txt" --steps 2 --batch 2 --context 8 \
  --json >"$work/train" 2>&1 || fail "train failed: $(cat "$work/train")"
grep -q "cpu (GEMM $provider [0-9.]* on .* kernels)" "$work/train" ||
  fail "train's first line does not name the GEMM: $(head -n 2 "$work/train")"
grep -q "\"cpu_gemm\":\"$provider " "$work/train" ||
  fail "train's --json does not record cpu_gemm: $(tail -n 1 "$work/train")"

grep -qw avx2 /proc/cpuinfo || { echo "gemm_kernels.sh: no AVX2 here: warning not checked"; exit 0; }
case "$provider" in
  oneDNN) limit=(DNNL_MAX_CPU_ISA=SSE41) ;;
  OpenBLAS) limit=(OPENBLAS_CORETYPE=Prescott) ;;
  *) echo "gemm_kernels.sh: no generic kernels to force on $provider: warning not checked"; exit 0 ;;
esac
env "${limit[@]}" "$modnorm" demo >"$work/out" 2>"$work/err"
[ "$(grep -c 'modnorm: warning: the CPU GEMM' "$work/err")" = 1 ] ||
  fail "${limit[*]}: expected one warning, stderr was: $(cat "$work/err")"
grep -q "runs its generic '[A-Za-z0-9_]*' kernels on a CPU with AVX2" "$work/err" ||
  fail "${limit[*]}: the warning does not name the kernels: $(cat "$work/err")"
echo "gemm_kernels.sh: $provider named, warning once under ${limit[*]}"
