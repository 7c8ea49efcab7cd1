#pragma once
/// @file version.hpp

#include "modnorm/export.hpp"

namespace modnorm {

/// The library's version, "MAJOR.MINOR.PATCH".
MODNORM_API const char* version();

/// Whose GEMM kernels the CPU backend runs: "OpenBLAS" (built with `MODNORM_BLAS`, Eigen's
/// products call `sgemm_`/`dgemm_`) or "Eigen" (Eigen's own). Benchmarks record it.
MODNORM_API const char* cpu_gemm();

/// What runs Conv2D on f32 CPU tensors: "oneDNN" (built with `MODNORM_DNNL`: oneDNN's
/// convolution primitives, PyTorch's CPU engine) or "im2col" (im2col and the CPU GEMM, which
/// f64 and bf16 convolutions and CUDA's always use). Benchmarks record it.
///
/// Example: std::cout << "Conv2D on " << modnorm::cpu_conv() << "\n";
MODNORM_API const char* cpu_conv();

}  // namespace modnorm
