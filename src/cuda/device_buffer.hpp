#pragma once
// A small RAII device array for kernel scratch (ids, partial sums, pointer tables), allocated
// and freed in stream order from the same cached pool as tensors (cuda_backend.hpp).

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "cuda/cuda_check.hpp"

namespace modnorm::detail::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(std::int64_t n, cudaStream_t stream) : n_(n), stream_(stream) {
    if (n_ > 0)
      MODNORM_CUDA_CHECK(cudaMallocAsync(&ptr_, sizeof(T) * static_cast<std::size_t>(n_), stream_));
  }
  static DeviceBuffer from_host(const T* host, std::int64_t n, cudaStream_t stream) {
    DeviceBuffer buffer(n, stream);
    if (n > 0) {
      MODNORM_CUDA_CHECK(cudaMemcpyAsync(buffer.ptr_, host, sizeof(T) * static_cast<std::size_t>(n),
                                         cudaMemcpyHostToDevice, stream));
      MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream));  // the host array may go away
    }
    return buffer;
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(other.ptr_), n_(other.n_), stream_(other.stream_) {
    other.ptr_ = nullptr;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    // After the work queued so far, which may still read it; errors ignored (see deallocate).
    if (ptr_ != nullptr && cudaFreeAsync(ptr_, stream_) != cudaSuccess) (void)cudaGetLastError();
  }

  T* get() const { return ptr_; }
  std::vector<T> to_host(cudaStream_t stream) const {
    std::vector<T> host(static_cast<std::size_t>(n_));
    if (n_ > 0) {
      MODNORM_CUDA_CHECK(cudaMemcpyAsync(host.data(), ptr_, sizeof(T) * host.size(),
                                         cudaMemcpyDeviceToHost, stream));
      MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return host;
  }

 private:
  T* ptr_ = nullptr;
  std::int64_t n_ = 0;
  cudaStream_t stream_ = nullptr;
};

}  // namespace modnorm::detail::cuda
