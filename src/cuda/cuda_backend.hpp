#pragma once
// The CUDA backend: one stream and one cuBLAS handle for the process; GEMM through cuBLAS,
// elementwise work in small kernels (kernels.cu). Primitives not listed here throw
// "not implemented on the cuda backend yet" (backend.cpp) instead of falling back to the CPU.

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend.hpp"

namespace modnorm::detail {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  Device device() const override { return Device::cuda; }
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr) noexcept override;
  void copy_from_host(const void* host, void* dst, std::size_t nbytes) override;
  void copy_to_host(const void* src, void* host, std::size_t nbytes) override;
  void fill(Tensor& out, double value) override;
  void convert(const Tensor& in, Tensor& out) override;
  void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b,
            double beta, Tensor& out) override;
  void axpy(double alpha, const Tensor& x, double beta, Tensor& y) override;

  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

namespace cuda {
// Launchers in kernels.cu, enqueued on `stream`.
void launch_fill(Tensor& out, double value, cudaStream_t stream);
void launch_convert(const Tensor& in, Tensor& out, cudaStream_t stream);
void launch_axpy(double alpha, const Tensor& x, double beta, Tensor& y, cudaStream_t stream);
}  // namespace cuda

}  // namespace modnorm::detail
