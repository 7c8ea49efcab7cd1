#pragma once
// Launch helpers shared by the .cu files: block size, grid size for a grid-stride loop, and the
// dtype -> device storage type dispatch.
#include <cuda_bf16.h>

#include <cstdint>

#include "modnorm/error.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::detail::cuda {

constexpr int kThreads = 256;

/// Blocks for n elements at kThreads each, capped (kernels loop grid-stride over the rest).
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 ? (b > 0 ? b : 1) : 65535);
}

/// Calls fn(T{}) with the device storage type of a float `dtype` (the compute kernels). i32
/// never reaches them (ops.cpp refuses it), so it is an internal error here.
template <class Fn>
void visit(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32:
      return fn(float{});
    case DType::f64:
      return fn(double{});
    case DType::bf16:
      return fn(__nv_bfloat16{});
    case DType::i32:
      break;
  }
  throw Error("[cuda] internal error: an i32 tensor reached a floating-point kernel");
}

/// Calls fn(T{}) with the device storage type of any `dtype`, i32 included (fill, convert).
template <class Fn>
void visit_storage(DType dtype, Fn&& fn) {
  if (dtype == DType::i32) return fn(std::int32_t{});
  visit(dtype, fn);
}

/// A tensor's storage as the device type T chosen by visit(): the kernels' arguments.
template <class T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.raw());
}
template <class T>
T* out(Tensor& t) {
  return static_cast<T*>(t.raw());
}

}  // namespace modnorm::detail::cuda

/// for (i = global thread index; i < n; i += total threads)
#define MODNORM_GRID_STRIDE(i, n)                                                     \
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += std::int64_t(gridDim.x) * blockDim.x)
