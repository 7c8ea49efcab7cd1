// tanh and its derivative on the device (Backend::tanh, Backend::tanh_backward), in double for
// every dtype so that f32 and bf16 results are the correctly rounded double ones, as on the CPU
// (tanh.cpp). The derivative is 1 / cosh(x)^2 from x: 1 - tanh(x)^2 would cancel to 0 wherever
// tanh(x) rounds to +-1.
#include <cuda_bf16.h>

#include <cstdint>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/launch.cuh"

namespace modnorm::detail::cuda {
namespace {

template <class T>
__device__ __forceinline__ double load(const T* p, std::int64_t i) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return static_cast<double>(__bfloat162float(p[i]));
  else
    return static_cast<double>(p[i]);
}

template <class T>
__device__ __forceinline__ void store(T* p, std::int64_t i, double v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    p[i] = __double2bfloat16(v);
  else
    p[i] = static_cast<T>(v);
}

// sech(x)^2 = 1 / cosh(x)^2, squared after the division so that it underflows to 0, not NaN.
__device__ __forceinline__ double sech_squared(double x) {
  const double s = 1.0 / cosh(x);
  return s * s;
}

template <class T>
__global__ void tanh_kernel(const T* x, T* y, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    store(y, i, tanh(load(x, i)));
  }
}

template <class T>
__global__ void tanh_backward_kernel(const T* x, const T* dy, T* y, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    store(y, i, load(dy, i) * sech_squared(load(x, i)));
  }
}

}  // namespace

void launch_tanh(const Tensor& x, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    tanh_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream>>>(in<T>(x), out<T>(y), x.numel());
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_tanh_backward(const Tensor& x, const Tensor& dy, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    tanh_backward_kernel<T>
        <<<blocks_for(x.numel()), kThreads, 0, stream>>>(in<T>(x), in<T>(dy), out<T>(y), x.numel());
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

}  // namespace modnorm::detail::cuda
