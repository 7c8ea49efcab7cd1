#pragma once
// The CPU backend's one f32 GEMM provider (docs/benchmarks.md, "GEMM providers"): every f32
// matrix product of the CPU backend (src/cpu/gemm.cpp, src/cpu/newton_schulz.cpp) goes through
// these two calls, and the build chooses whose kernels run them (CMake MODNORM_GEMM):
//
//   openblas  OpenBLAS's cblas_sgemm / cblas_ssyrk (kernels chosen by CPU model; the default where
//             it knows the build machine's CPU)
//   onednn    oneDNN's dnnl_sgemm, JIT-compiled for the instruction set the CPU reports (the
//             default where OpenBLAS would run its generic kernels)
//   blis      BLIS's cblas_sgemm / cblas_ssyrk (kernels chosen by CPU features)
//   eigen     Eigen's own kernels, compiled for the build machine (MODNORM_NATIVE)
//
// f64 products (the references), and f32 products of at most 32^3 multiply-adds, run on Eigen's
// own kernels. This file has no other
// dependency than the provider, so bench/gemm.cpp compiles it once per provider and measures
// them side by side.
#include <cstdint>
#include <string>

namespace modnorm::detail::cpu {

/// Row-major C = alpha op(A) op(B) + beta C with op(A) m x k and op(B) k x n; lda, ldb, ldc are
/// the row strides of A, B, C as stored (A is k x m when transpose_a). Multithreaded over the
/// OpenMP threads. beta = 0 ignores C's content (NaN included).
void sgemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
           float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
           float beta, float* c, std::int64_t ldc);

/// The lower triangle (diagonal included) of the symmetric m x m product C = alpha op(A) op(A)^T
/// + beta C, op(A) = A (m x k, row stride lda) or A^T (A k x m when transpose_a); the strictly
/// upper triangle of C is unspecified afterwards. About m^2 k flops instead of the full
/// product's 2 m^2 k: ?syrk on OpenBLAS and BLIS; on oneDNN and Eigen one single-threaded GEMM per
/// lower tile, the tiles in parallel (cpu/lower_tiles.hpp).
void ssyrk_lower(bool transpose_a, std::int64_t m, std::int64_t k, float alpha, const float* a,
                 std::int64_t lda, float beta, float* c, std::int64_t ldc);

/// The provider's name and the kernels it runs on this CPU, e.g. "oneDNN 2.6.3" and
/// "avx512_core", "OpenBLAS 0.3.21" and "Cooperlake", "BLIS 0.9.0" and "zen3".
struct GemmKernels {
  std::string provider;
  std::string kernels;
  bool generic;  ///< the provider runs a generic fallback although the CPU has AVX2 or AVX-512
};
const GemmKernels& gemm_kernels();

}  // namespace modnorm::detail::cpu
