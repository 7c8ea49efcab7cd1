#pragma once
/// @file version.hpp

#include "modnorm/export.hpp"

namespace modnorm {

/// The library's version, "MAJOR.MINOR.PATCH".
MODNORM_API const char* version();

/// Whose GEMM kernels the CPU backend runs: "OpenBLAS" (built with `MODNORM_BLAS`, Eigen's
/// products call `sgemm_`/`dgemm_`) or "Eigen" (Eigen's own). Benchmarks record it.
MODNORM_API const char* cpu_gemm();

}  // namespace modnorm
