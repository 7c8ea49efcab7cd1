// Elementwise CUDA kernels: fill, dtype conversion (and the check that float -> i32 is exact),
// axpy. bf16 is __nv_bfloat16 with fp32 arithmetic; conversions round to nearest-even like the
// CPU path.
#include <cuda_bf16.h>

#include <cstdint>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/launch.cuh"

namespace modnorm::detail::cuda {
namespace {

template <class T>
__device__ __forceinline__ T from_double(double v);
template <>
__device__ __forceinline__ float from_double<float>(double v) {
  return static_cast<float>(v);
}
template <>
__device__ __forceinline__ double from_double<double>(double v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_double<__nv_bfloat16>(double v) {
  return __double2bfloat16(v);
}
template <>
__device__ __forceinline__ std::int32_t from_double<std::int32_t>(double v) {
  return static_cast<std::int32_t>(v);  // an integer in range: Tensor::to checked it
}

template <class T>
__device__ __forceinline__ double to_double(T v) {
  return static_cast<double>(v);
}
template <>
__device__ __forceinline__ double to_double<__nv_bfloat16>(__nv_bfloat16 v) {
  return static_cast<double>(__bfloat162float(v));
}

template <class T>
__global__ void fill_kernel(T* out, std::int64_t n, T value) {
  MODNORM_GRID_STRIDE(i, n) {
    out[i] = value;
  }
}

template <class In, class Out>
__global__ void convert_kernel(const In* in, Out* out, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    out[i] = from_double<Out>(to_double(in[i]));
  }
}

// *first = min(*first, i) over the elements that are not integers in the range of i32.
template <class T>
__global__ void first_non_i32_kernel(const T* x, std::int64_t n, unsigned long long* first) {
  MODNORM_GRID_STRIDE(i, n) {
    const double v = to_double(x[i]);  // NaN fails every comparison
    if (!(v >= -2147483648.0 && v <= 2147483647.0 && trunc(v) == v))
      atomicMin(first, static_cast<unsigned long long>(i));
  }
}

// y = alpha x + beta y, computed in the wider of fp32 / T; beta == 0 never reads y.
template <class T, class Acc>
__global__ void axpy_kernel(Acc alpha, const T* x, Acc beta, T* y, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    const Acc xv = static_cast<Acc>(to_double(x[i]));
    const Acc r =
        beta == Acc(0) ? alpha * xv : alpha * xv + beta * static_cast<Acc>(to_double(y[i]));
    y[i] = from_double<T>(static_cast<double>(r));
  }
}

}  // namespace

void launch_fill(Tensor& out, double value, cudaStream_t stream) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  visit_storage(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<T*>(out.raw()), n,
                                                           static_cast<T>(value));
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_convert(const Tensor& in, Tensor& out, cudaStream_t stream) {
  const std::int64_t n = in.numel();
  if (n == 0) return;
  visit_storage(in.dtype(), [&](auto in_tag) {
    visit_storage(out.dtype(), [&](auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      convert_kernel<In, Out><<<blocks_for(n), kThreads, 0, stream>>>(
          static_cast<const In*>(in.raw()), static_cast<Out*>(out.raw()), n);
    });
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

std::int64_t first_non_i32_on_device(const Tensor& x, cudaStream_t stream) {
  const std::int64_t n = x.numel();
  if (n == 0) return -1;
  const unsigned long long none = ~0ull;
  const auto first = DeviceBuffer<unsigned long long>::from_host(&none, 1, stream);
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    first_non_i32_kernel<T>
        <<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const T*>(x.raw()), n, first.get());
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
  const unsigned long long found = first.to_host(stream)[0];
  return found == none ? -1 : static_cast<std::int64_t>(found);
}

void launch_axpy(double alpha, const Tensor& x, double beta, Tensor& y, cudaStream_t stream) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw());
    T* yp = static_cast<T*>(y.raw());
    if constexpr (std::is_same_v<T, double>)
      axpy_kernel<T, double><<<blocks_for(n), kThreads, 0, stream>>>(alpha, xp, beta, yp, n);
    else
      axpy_kernel<T, float><<<blocks_for(n), kThreads, 0, stream>>>(
          static_cast<float>(alpha), xp, static_cast<float>(beta), yp, n);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

}  // namespace modnorm::detail::cuda
