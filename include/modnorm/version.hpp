#pragma once
/// @file version.hpp

#include "modnorm/export.hpp"

namespace modnorm {

/// The library's version, "MAJOR.MINOR.PATCH".
MODNORM_API const char* version();

/// Whose kernels run the CPU backend's f32 (and bf16) matrix products, with its version:
/// "OpenBLAS 0.3.21", "oneDNN 2.6.3", "BLIS 0.9.0" or "Eigen 3.4.0", as chosen at build time
/// (CMake `MODNORM_GEMM`; by default OpenBLAS where it knows the build machine's CPU, else
/// oneDNN; docs/benchmarks.md, "GEMM providers"). f64 products, and f32 products of at most 32^3
/// multiply-adds, run on Eigen's own kernels. Benchmarks and training logs record it.
///
/// Example: std::cout << modnorm::cpu_gemm() << " (" << modnorm::cpu_gemm_kernels() << ")\n";
MODNORM_API const char* cpu_gemm();

/// Which of the provider's kernels run on this CPU: oneDNN's instruction set ("avx2",
/// "avx512_core", "avx512_core_bf16", ...), OpenBLAS's core type ("Haswell", "SkylakeX",
/// "Zen", or "Prescott", its generic fallback for a CPU model it does not know), BLIS's
/// configuration ("zen3", "skx", "generic", ...) or the widest instruction set Eigen was compiled
/// for ("AVX512", "AVX2", "SSE2", ...). When the provider runs generic kernels on a CPU with AVX2
/// or AVX-512, modnorm also prints a warning on stderr, once, at its first product.
MODNORM_API const char* cpu_gemm_kernels();

/// What runs Conv2D on f32 CPU tensors: "oneDNN" (built with `MODNORM_DNNL`: oneDNN's
/// convolution primitives, PyTorch's CPU engine) or "im2col" (im2col and the CPU GEMM, which
/// f64 and bf16 convolutions and CUDA's always use). Benchmarks record it.
///
/// Example: std::cout << "Conv2D on " << modnorm::cpu_conv() << "\n";
MODNORM_API const char* cpu_conv();

}  // namespace modnorm
