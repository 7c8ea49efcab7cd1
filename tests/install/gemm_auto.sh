#!/usr/bin/env bash
# MODNORM_GEMM=AUTO picks OpenBLAS where OpenBLAS knows the build machine's CPU and oneDNN where it
# would run its generic kernels (cmake/gemm.cmake's probe). Configures the source tree twice in
# scratch folders: as the environment is (the result must be the provider of the build under
# test, whose `modnorm demo` says it), and with OPENBLAS_CORETYPE=Prescott, which makes OpenBLAS
# run its generic kernels: then oneDNN, on a CPU with AVX2 and oneDNN installed.
# Usage: gemm_auto.sh SOURCE_DIR path/to/modnorm MODNORM_GEMM-of-that-build (skipped unless AUTO)
set -euo pipefail
source_dir="$1"
modnorm="$2"
if [ "$3" != "AUTO" ]; then
  echo "gemm_auto.sh: skipped: the build under test chose MODNORM_GEMM=$3 itself"
  exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "gemm_auto.sh: $*" >&2; exit 1; }

provider_of() {  # configure with the given environment, print the provider CMake chose
  env "$@" cmake -S "$source_dir" -B "$work/b$#" -DBUILD_TESTING=OFF -DMODNORM_CUDA=OFF \
    -DMODNORM_MPI=OFF >"$work/log$#" 2>&1 || fail "configure failed: $(tail -n 5 "$work/log$#")"
  sed -n 's/^-- modnorm: CPU GEMM on \([a-z]*\) (MODNORM_GEMM=AUTO)$/\1/p' "$work/log$#"
}

built=$("$modnorm" demo | sed -n 's/.*CPU GEMM \([A-Za-z]*\) .*/\1/p' | tr 'A-Z' 'a-z')
as_is=$(provider_of)
[ "$as_is" = "$built" ] || fail "AUTO chose '$as_is' here, the build under test runs '$built'"

generic=$(provider_of OPENBLAS_CORETYPE=Prescott)
if grep -qw avx2 /proc/cpuinfo && [ "$built" != "eigen" ]; then
  [ "$generic" = "onednn" ] || fail "OpenBLAS on generic kernels: AUTO chose '$generic', not onednn"
  grep -q "OpenBLAS runs generic kernels on this CPU" "$work/log1" ||
    fail "the configure output does not say why it chose oneDNN"
fi
echo "gemm_auto.sh: AUTO chose $as_is as is and $generic with OpenBLAS's generic kernels"
