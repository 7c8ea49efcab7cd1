#pragma once
// Launch helpers shared by the .cu files: block size, grid size for a grid-stride loop, and the
// dtype -> device storage type dispatch.
#include <cuda_bf16.h>

#include <cstdint>

#include "modnorm/tensor.hpp"

namespace modnorm::detail::cuda {

constexpr int kThreads = 256;

/// Blocks for n elements at kThreads each, capped (kernels loop grid-stride over the rest).
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 ? (b > 0 ? b : 1) : 65535);
}

/// Calls fn(T{}) with the device storage type of `dtype`.
template <class Fn>
void visit(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    case DType::bf16:
      return fn(__nv_bfloat16{});
  }
}

}  // namespace modnorm::detail::cuda

/// for (i = global thread index; i < n; i += total threads)
#define MODNORM_GRID_STRIDE(i, n)                                                     \
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)
