#pragma once
// Every CUDA runtime and cuBLAS call is checked; a failure becomes a modnorm::Error naming the
// call and the code (never abort).

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "modnorm/error.hpp"

namespace modnorm::detail::cuda {

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw Error(std::string("[cuda] ") + call + " failed: " + cudaGetErrorName(status) + " (" +
                cudaGetErrorString(status) + ")");
}

inline void check(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("[cublas] ") + call + " failed: " + cublasGetStatusName(status) + " (" +
                cublasGetStatusString(status) + ")");
}

}  // namespace modnorm::detail::cuda

#define MODNORM_CUDA_CHECK(call) ::modnorm::detail::cuda::check((call), #call)
