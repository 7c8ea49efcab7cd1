#pragma once
// The CUDA backend: one stream and one cuBLAS handle for the process; GEMM through cuBLAS,
// elementwise work, reductions and indexing in small kernels (kernels.cu, compute.cu).
// Memory is stream-ordered (cudaMallocAsync / cudaFreeAsync on the one stream) from the
// device's memory pool, which keeps freed blocks cached (release threshold: unlimited): a
// tensor freed and a new one of the same size cost no driver allocation and no synchronisation,
// and every kernel that still reads a freed block runs before the block is handed out again.
// When an allocation fails, the unused cached blocks go back to the driver and it is retried
// once (as PyTorch's caching allocator does) before the error is raised.
// Primitives not overridden here throw "not implemented on the cuda backend yet" (backend.cpp)
// instead of falling back to the CPU.

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
  void synchronize() override;
  void copy_from_host(const void* host, void* dst, std::size_t nbytes) override;
  void copy_to_host(const void* src, void* host, std::size_t nbytes) override;
  void copy(const void* src, void* dst, std::size_t nbytes) override;
  void fill(Tensor& out, double value) override;
  void convert(const Tensor& in, Tensor& out) override;
  std::int64_t first_non_i32(const Tensor& x) override;
  void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b,
            double beta, Tensor& out) override;
  void axpy(double alpha, const Tensor& x, double beta, Tensor& y) override;
  double dot(const Tensor& a, const Tensor& b) override;
  void unary(Unary op, const Tensor& x, Tensor& out) override;
  void unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& out) override;
  void tanh(const Tensor& x, Tensor& out) override;
  void tanh_backward(const Tensor& x, const Tensor& dy, Tensor& out) override;
  void binary(Binary op, const Tensor& a, const Tensor& b, Tensor& out) override;
  bool all_finite(const std::vector<Tensor>& xs) override;
  void reduce(Reduce op, const Tensor& x, int axis, Tensor& out) override;
  void transpose(const Tensor& x, Tensor& out) override;
  void permute(const Tensor& x, const std::vector<int>& axes, Tensor& out) override;
  void softmax(const Tensor& x, Tensor& out) override;
  void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& out) override;
  void tril(const Tensor& x, double fill, Tensor& out) override;
  void im2col(const Tensor& x, const WindowGeometry& g, Tensor& out) override;
  void col2im(const Tensor& cols, const WindowGeometry& g, Tensor& out) override;
  std::int64_t gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& out) override;
  std::int64_t scatter_add(Tensor& dst, const Tensor& ids, bool rows, const Tensor& src) override;
  std::int64_t cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                             double& loss) override;
  void newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                     bool bf16_iterates) override;

  cudaStream_t stream() const { return stream_; }

  /// One row-major product C = alpha op(A) op(B) + beta C (op = transpose where asked) of
  /// M x K by K x N on raw device pointers, each matrix with its own row length (leading
  /// dimension), so that sub-matrices can be addressed; `batch` > 1 repeats it over matrices
  /// `stride_*` elements apart (cublasGemmStridedBatchedEx). All three share `dtype`; bf16 and
  /// f32 accumulate in fp32 (tf32 off), f64 in fp64.
  struct RawGemm {
    std::int64_t m = 0, n = 0, k = 0;
    const void* a = nullptr;
    std::int64_t lda = 0, stride_a = 0;
    bool transpose_a = false;
    const void* b = nullptr;
    std::int64_t ldb = 0, stride_b = 0;
    bool transpose_b = false;
    void* c = nullptr;
    std::int64_t ldc = 0, stride_c = 0;
    std::int64_t batch = 1;
  };
  void gemm_raw(DType dtype, double alpha, double beta, const RawGemm& g);

 private:
  cudaStream_t stream_ = nullptr;
  cudaMemPool_t pool_ = nullptr;  // the device's default pool, which allocate() draws from
  cublasHandle_t blas_ = nullptr;
};

namespace cuda {
// Launchers in kernels.cu and compute.cu, enqueued on `stream`; those returning a value
// synchronise the stream.
void launch_fill(Tensor& out, double value, cudaStream_t stream);
void launch_convert(const Tensor& in, Tensor& out, cudaStream_t stream);
std::int64_t first_non_i32_on_device(const Tensor& x, cudaStream_t stream);
void launch_axpy(double alpha, const Tensor& x, double beta, Tensor& y, cudaStream_t stream);
void launch_unary(Unary op, const Tensor& x, Tensor& y, cudaStream_t stream);
void launch_unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& y,
                           cudaStream_t stream);
/// y = tanh(x) and y = dy / cosh(x)^2 (Backend::tanh, Backend::tanh_backward; tanh.cu).
void launch_tanh(const Tensor& x, Tensor& y, cudaStream_t stream);
void launch_tanh_backward(const Tensor& x, const Tensor& dy, Tensor& y, cudaStream_t stream);
/// y = a op b; a and b broadcast to y's shape (Backend::binary).
void launch_binary(Binary op, const Tensor& a, const Tensor& b, Tensor& y, cudaStream_t stream);
double dot_on_device(const Tensor& a, const Tensor& b, cudaStream_t stream);
bool all_finite_on_device(const std::vector<Tensor>& xs, cudaStream_t stream);
void launch_reduce(Reduce op, const Tensor& x, int axis, Tensor& y, cudaStream_t stream);
void launch_transpose(const Tensor& x, Tensor& y, cudaStream_t stream);
void launch_permute(const Tensor& x, const std::vector<int>& axes, Tensor& y, cudaStream_t stream);
void launch_softmax(const Tensor& x, Tensor& y, cudaStream_t stream);
void launch_softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, cudaStream_t stream);
void launch_tril(const Tensor& x, double fill, Tensor& y, cudaStream_t stream);
/// c[i, j] = c[j, i] for j > i on a k x k matrix: the upper triangle from the lower one.
void launch_mirror_lower(Tensor& c, cudaStream_t stream);
/// out = im2col(x) and out = col2im(cols) (Backend::im2col, Backend::col2im; conv.cu).
void launch_im2col(const Tensor& x, const WindowGeometry& g, Tensor& out, cudaStream_t stream);
void launch_col2im(const Tensor& cols, const WindowGeometry& g, Tensor& out, cudaStream_t stream);
/// Backend::gather, scatter_add and cross_entropy: the ids are checked by a kernel first, whose
/// first offending position is the one value read back; the op's kernel runs only when none is.
std::int64_t launch_gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& y,
                           cudaStream_t stream);
std::int64_t launch_scatter_add(Tensor& dst, const Tensor& ids, bool rows, const Tensor& src,
                                cudaStream_t stream);
std::int64_t launch_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                                  double& loss, cudaStream_t stream);
}  // namespace cuda

}  // namespace modnorm::detail
