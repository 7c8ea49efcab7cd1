#include "cuda/cuda_backend.hpp"

#include <cstdint>
#include <string>

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
    case DType::i32:  // never multiplied: ops.cpp refuses i32
      return CUDA_R_32I;
  }
  return CUDA_R_32F;
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  // Any error counts as "no device": on machines without a driver the runtime answers
  // cudaErrorInsufficientDriver, not cudaErrorNoDevice.
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
  int device = 0, pools = 0;
  MODNORM_CUDA_CHECK(cudaGetDevice(&device));
  MODNORM_CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
  if (pools == 0)
    throw Error("[cuda] device " + std::to_string(device) +
                " does not support stream-ordered memory pools (cudaMallocAsync), which the "
                "CUDA backend allocates from");
  MODNORM_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, device));
  std::uint64_t keep_everything = UINT64_MAX;  // freed blocks stay cached in the pool
  MODNORM_CUDA_CHECK(
      cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  MODNORM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  MODNORM_CUDA_CHECK(cublasCreate(&blas_));
  MODNORM_CUDA_CHECK(cublasSetStream(blas_, stream_));
  // Full fp32 GEMMs unless a caller asks otherwise: tf32 stays off (exact f32 products, as the CPU
  // computes).
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
  cudaError_t status = cudaMallocAsync(&p, nbytes, stream_);
  if (status == cudaErrorMemoryAllocation) {
    // The cache may hold the memory in blocks of other sizes: wait until every free queued so
    // far has happened, give all unused blocks back to the driver, and try once more.
    (void)cudaGetLastError();
    MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream_));
    MODNORM_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
    status = cudaMallocAsync(&p, nbytes, stream_);
  }
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    (void)cudaMemGetInfo(&free_bytes, &total_bytes);
    (void)cudaGetLastError();
    throw Error("[allocate] cudaMallocAsync of " + std::to_string(nbytes) +
                " bytes failed: " + cudaGetErrorName(status) + " (device memory free " +
                std::to_string(free_bytes) + " of " + std::to_string(total_bytes) + " bytes)");
  }
  return p;
}

void CudaBackend::deallocate(void* ptr) noexcept {
  // Stream-ordered: the block returns to the pool after the work queued so far, so kernels
  // still reading ptr finish first, without blocking the host. Errors are ignored: at process
  // exit the driver may already be gone.
  if (cudaFreeAsync(ptr, stream_) != cudaSuccess) (void)cudaGetLastError();
}

void CudaBackend::synchronize() {
  MODNORM_CUDA_CHECK(cudaStreamSynchronize(stream_));
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

void CudaBackend::copy(const void* src, void* dst, std::size_t nbytes) {
  if (nbytes == 0) return;
  MODNORM_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::fill(Tensor& out, double value) {
  cuda::launch_fill(out, value, stream_);
}

void CudaBackend::convert(const Tensor& in, Tensor& out) {
  cuda::launch_convert(in, out, stream_);
}

std::int64_t CudaBackend::first_non_i32(const Tensor& x) {
  return cuda::first_non_i32_on_device(x, stream_);
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
void CudaBackend::tanh(const Tensor& x, Tensor& out) {
  cuda::launch_tanh(x, out, stream_);
}
void CudaBackend::tanh_backward(const Tensor& x, const Tensor& dy, Tensor& out) {
  cuda::launch_tanh_backward(x, dy, out, stream_);
}
void CudaBackend::binary(Binary op, const Tensor& a, const Tensor& b, Tensor& out) {
  cuda::launch_binary(op, a, b, out, stream_);
}
bool CudaBackend::all_finite(const std::vector<Tensor>& xs) {
  return cuda::all_finite_on_device(xs, stream_);
}
void CudaBackend::reduce(Reduce op, const Tensor& x, int axis, Tensor& out) {
  cuda::launch_reduce(op, x, axis, out, stream_);
}
void CudaBackend::transpose(const Tensor& x, Tensor& out) {
  cuda::launch_transpose(x, out, stream_);
}
void CudaBackend::permute(const Tensor& x, const std::vector<int>& axes, Tensor& out) {
  cuda::launch_permute(x, axes, out, stream_);
}
void CudaBackend::softmax(const Tensor& x, Tensor& out) {
  cuda::launch_softmax(x, out, stream_);
}
void CudaBackend::softmax_backward(const Tensor& y, const Tensor& dy, Tensor& out) {
  cuda::launch_softmax_backward(y, dy, out, stream_);
}
void CudaBackend::tril(const Tensor& x, double fill, Tensor& out) {
  cuda::launch_tril(x, fill, out, stream_);
}
void CudaBackend::im2col(const Tensor& x, const WindowGeometry& g, Tensor& out) {
  cuda::launch_im2col(x, g, out, stream_);
}
void CudaBackend::col2im(const Tensor& cols, const WindowGeometry& g, Tensor& out) {
  cuda::launch_col2im(cols, g, out, stream_);
}
std::int64_t CudaBackend::gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& out) {
  return cuda::launch_gather(table, ids, rows, out, stream_);
}
std::int64_t CudaBackend::scatter_add(Tensor& dst, const Tensor& ids, bool rows,
                                      const Tensor& src) {
  return cuda::launch_scatter_add(dst, ids, rows, src, stream_);
}
std::int64_t CudaBackend::cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                                        double& loss) {
  return cuda::launch_cross_entropy(logits, labels, grad, loss, stream_);
}

// A batch [..., M, K] x [..., K, N] is one strided-batched product (matrices stored back to back).
void CudaBackend::gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b,
                       bool transpose_b, double beta, Tensor& out) {
  RawGemm g;
  g.m = out.dim(-2);
  g.n = out.dim(-1);
  g.k = transpose_a ? a.dim(-2) : a.dim(-1);
  if (out.numel() == 0) return;
  if (g.k == 0) {  // empty product: out = beta * out (beta == 0 ignores out's old content)
    if (beta == 0.0)
      fill(out, 0.0);
    else
      axpy(beta, out, 0.0, out);
    return;
  }
  g.batch = out.numel() / (g.m * g.n);
  g.a = a.raw();
  g.lda = a.dim(-1);
  g.stride_a = a.dim(-2) * a.dim(-1);
  g.transpose_a = transpose_a;
  g.b = b.raw();
  g.ldb = b.dim(-1);
  g.stride_b = b.dim(-2) * b.dim(-1);
  g.transpose_b = transpose_b;
  g.c = out.raw();
  g.ldc = g.n;
  g.stride_c = g.m * g.n;
  gemm_raw(a.dtype(), alpha, beta, g);
}

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands and pass
// each matrix's stored row length as its leading dimension. cuBLAS takes int sizes: larger
// ones are refused here rather than truncated.
void CudaBackend::gemm_raw(DType dtype, double alpha, double beta, const RawGemm& g) {
  for (const std::int64_t v : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.batch})
    if (v > INT32_MAX)
      throw Error("[gemm] a dimension of " + std::to_string(v) +
                  " exceeds cuBLAS's 32-bit limit (M " + std::to_string(g.m) + ", N " +
                  std::to_string(g.n) + ", K " + std::to_string(g.k) + ")");
  const auto op_a = g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const auto op_b = g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
  const int lda = static_cast<int>(g.lda), ldb = static_cast<int>(g.ldb),
            ldc = static_cast<int>(g.ldc), batch = static_cast<int>(g.batch);
  const cudaDataType_t type = blas_type(dtype);
  const bool wide = dtype == DType::f64;
  const cublasComputeType_t compute = wide ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  const void* alpha_p = wide ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* beta_p = wide ? static_cast<const void*>(&beta) : &beta_f;
  if (batch == 1)
    MODNORM_CUDA_CHECK(cublasGemmEx(blas_, op_b, op_a, n, m, k, alpha_p, g.b, type, ldb, g.a, type,
                                    lda, beta_p, g.c, type, ldc, compute, CUBLAS_GEMM_DEFAULT));
  else
    MODNORM_CUDA_CHECK(cublasGemmStridedBatchedEx(
        blas_, op_b, op_a, n, m, k, alpha_p, g.b, type, ldb, g.stride_b, g.a, type, lda, g.stride_a,
        beta_p, g.c, type, ldc, g.stride_c, batch, compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace modnorm::detail
