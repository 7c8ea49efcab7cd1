#include "cuda/cuda_backend.hpp"

#include "cuda/cuda_check.hpp"

namespace modnorm::detail {
namespace {

cudaDataType_t blas_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return CUDA_R_32F;
    case DType::bf16:
      return CUDA_R_16BF;
    case DType::f64:
      return CUDA_R_64F;
  }
  return CUDA_R_32F;
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  // Any error counts as "no device": on machines without a driver the runtime answers
  // cudaErrorInsufficientDriver, not cudaErrorNoDevice (DESIGN.md 2).
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

Backend& cuda_backend(const char* op) {
  if (cuda_device_count() == 0) {
    int ignored = 0;
    const cudaError_t status = cudaGetDeviceCount(&ignored);
    (void)cudaGetLastError();
    throw Error(std::string("[") + op +
                "] no CUDA device visible (cudaGetDeviceCount: " + cudaGetErrorName(status) + ")");
  }
  static CudaBackend instance;
  return instance;
}

CudaBackend::CudaBackend() {
  MODNORM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MODNORM_CUDA_CHECK(cublasCreate(&blas_));
  MODNORM_CUDA_CHECK(cublasSetStream(blas_, stream_));
  // Full fp32 GEMMs unless a caller asks otherwise: tf32 stays off (DESIGN.md 2).
  MODNORM_CUDA_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
}

CudaBackend::~CudaBackend() {
  // At process exit the driver may already be gone; errors here are deliberately ignored.
  if (blas_) cublasDestroy(blas_);
  if (stream_) cudaStreamDestroy(stream_);
}

void* CudaBackend::allocate(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, nbytes);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    throw Error("[allocate] cudaMalloc of " + std::to_string(nbytes) +
                " bytes failed: " + cudaGetErrorName(status));
  }
  return p;
}

void CudaBackend::deallocate(void* ptr) noexcept {
  cudaStreamSynchronize(stream_);  // kernels still reading ptr finish first
  cudaFree(ptr);
}

void CudaBackend::copy_from_host(const void* host, void* dst, std::size_t nbytes) {
  if (nbytes == 0) return;
  MODNORM_CUDA_CHECK(cudaMemcpyAsync(dst, host, nbytes, cudaMemcpyHostToDevice, stream_));
  MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the host buffer may be freed next
}

void CudaBackend::copy_to_host(const void* src, void* host, std::size_t nbytes) {
  if (nbytes == 0) return;
  MODNORM_CUDA_CHECK(cudaMemcpyAsync(host, src, nbytes, cudaMemcpyDeviceToHost, stream_));
  MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::fill(Tensor& out, double value) {
  cuda::launch_fill(out, value, stream_);
}

void CudaBackend::convert(const Tensor& in, Tensor& out) {
  cuda::launch_convert(in, out, stream_);
}

void CudaBackend::axpy(double alpha, const Tensor& x, double beta, Tensor& y) {
  cuda::launch_axpy(alpha, x, beta, y, stream_);
}

double CudaBackend::dot(const Tensor& a, const Tensor& b) {
  return cuda::dot_on_device(a, b, stream_);
}
void CudaBackend::unary(Unary op, const Tensor& x, Tensor& out) {
  cuda::launch_unary(op, x, out, stream_);
}
void CudaBackend::unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& out) {
  cuda::launch_unary_backward(op, x, dy, out, stream_);
}
void CudaBackend::binary(Binary op, const Tensor& a, const Tensor& b, Tensor& out) {
  cuda::launch_binary(op, a, b, out, stream_);
}
bool CudaBackend::all_finite(const Tensor& x) {
  return cuda::all_finite_on_device(x, stream_);
}
void CudaBackend::reduce(Reduce op, const Tensor& x, int axis, Tensor& out) {
  cuda::launch_reduce(op, x, axis, out, stream_);
}
void CudaBackend::transpose(const Tensor& x, Tensor& out) {
  cuda::launch_transpose(x, out, stream_);
}
void CudaBackend::gather(const Tensor& table, const std::int64_t* ids, std::int64_t n, bool rows,
                         Tensor& out) {
  cuda::launch_gather(table, ids, n, rows, out, stream_);
}
void CudaBackend::scatter_add(Tensor& dst, const std::int64_t* ids, std::int64_t n, bool rows,
                              const Tensor& src) {
  cuda::launch_scatter_add(dst, ids, n, rows, src, stream_);
}
double CudaBackend::cross_entropy(const Tensor& logits, const std::int64_t* labels, Tensor& grad) {
  return cuda::launch_cross_entropy(logits, labels, grad, stream_);
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands and pass
// each matrix's stored row length as its leading dimension. bf16 inputs accumulate in fp32.
void CudaBackend::gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b,
                       bool transpose_b, double beta, Tensor& out) {
  const int m = static_cast<int>(out.dim(0)), n = static_cast<int>(out.dim(1));
  const int k = static_cast<int>(transpose_a ? a.dim(0) : a.dim(1));
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty product: out = beta * out (beta == 0 ignores out's old content)
    if (beta == 0.0)
      fill(out, 0.0);
    else
      axpy(beta, out, 0.0, out);
    return;
  }
  const auto op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int lda = static_cast<int>(a.dim(1)), ldb = static_cast<int>(b.dim(1));
  const cudaDataType_t type = blas_type(a.dtype());
  if (a.dtype() == DType::f64) {
    MODNORM_CUDA_CHECK(cublasGemmEx(blas_, op_b, op_a, n, m, k, &alpha, b.raw(), type, ldb, a.raw(),
                                    type, lda, &beta, out.raw(), type, n, CUBLAS_COMPUTE_64F,
                                    CUBLAS_GEMM_DEFAULT));
  } else {
    const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
    MODNORM_CUDA_CHECK(cublasGemmEx(blas_, op_b, op_a, n, m, k, &alpha_f, b.raw(), type, ldb,
                                    a.raw(), type, lda, &beta_f, out.raw(), type, n,
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace modnorm::detail
