// Newton-Schulz on the GPU (the device-free part, with the step formula, is in
// src/orthogonalize.cpp; the CPU twin is src/cpu/newton_schulz.cpp). Per step, on a wide X:
//   A = X X^T;  B = a I + b A + c A A;  X <- B X
// and on a tall X the transposed problem A = X^T X, X <- X B (no transposed copies), as three
// cuBLAS products. With bf16 iterates every buffer is bf16, so each product reads bf16 on the
// tensor cores, accumulates in fp32 and rounds its output to bf16 (as GPU Muon implementations
// do). All buffers are allocated before the step loop; X and Y swap roles each step.
//
// Symmetry: A and A A = A A^T are symmetric. For one large matrix (k = min(rows, cols) >=
// 2 kPanel) both are computed as row panels of height kPanel, panel i only up to the diagonal
// (columns [0, end of panel i)), then the lower triangle is mirrored: with p panels that is
// (1 + 1/p) / 2 of the flops of a full product, in p large GEMMs (p = 4 for k = 4096: 62.5%).
// Below that, and for batches, each product is one (strided batched) GEMM: a batch is
// [batch, rows, cols], every matrix its own problem.
#include <algorithm>
#include <utility>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "modnorm/ops.hpp"

namespace modnorm::detail {
namespace {

constexpr std::int64_t kPanel = 1024;

// Panel boundaries 0 = r_0 < r_1 < ... < r_p = k; a single panel when k < 2 kPanel.
std::vector<std::int64_t> panels(std::int64_t k, std::int64_t batch) {
  std::vector<std::int64_t> bounds{0};
  if (batch == 1 && k >= 2 * kPanel)
    for (std::int64_t r = kPanel; r < k; r += kPanel) bounds.push_back(r);
  bounds.push_back(k);
  return bounds;
}

}  // namespace

void CudaBackend::newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                                bool bf16_iterates) {
  const bool batched = x.rank() == 3;
  const std::int64_t batch = batched ? x.dim(0) : 1;
  const std::int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const bool tall = rows > cols;  // then A = X^T X and X <- X B: the Gram matrix is the small one
  const std::int64_t k = std::min(rows, cols), n = std::max(rows, cols);
  const DType work = bf16_iterates ? DType::bf16 : x.dtype();
  const Shape gram_shape = batched ? Shape{batch, k, k} : Shape{k, k};
  Tensor X = x.to(work);  // x itself unless the iterates are bf16
  Tensor Y = Tensor::empty(x.shape(), work, Device::cuda);
  Tensor A = Tensor::empty(gram_shape, work, Device::cuda);
  Tensor B = Tensor::empty(gram_shape, work, Device::cuda);
  const Tensor I = batched ? add(Tensor::zeros(gram_shape, work, Device::cuda),
                                 Tensor::eye(k, work, Device::cuda))
                           : Tensor::eye(k, work, Device::cuda);
  const std::vector<std::int64_t> bounds = panels(k, batch);
  const std::size_t item = itemsize(work);
  auto at = [item](const void* base, std::int64_t elements) {
    return static_cast<void*>(static_cast<char*>(const_cast<void*>(base)) + elements * item);
  };

  // out = alpha S S^T + beta out, k x k, where S is X (wide), X^T (tall) or A (symmetric,
  // `source_tall` false, inner k): panel i computes rows [r_i, r_i+1), columns [0, r_i+1).
  auto gram = [&](const Tensor& source, bool source_tall, std::int64_t inner, double alpha,
                  double beta, Tensor& out) {
    const std::int64_t ld = source_tall ? k : inner;  // the source's row length
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
      const std::int64_t r0 = bounds[i], r1 = bounds[i + 1];
      RawGemm g;
      g.m = r1 - r0;
      g.n = r1;
      g.k = inner;
      // S rows [r0, r1): rows of X, or columns of a tall X (its transpose).
      g.a = at(source.raw(), source_tall ? r0 : r0 * ld);
      g.lda = ld;
      g.transpose_a = source_tall;
      g.stride_a = k * inner;
      // S^T columns [0, r1): S rows [0, r1) again, transposed.
      g.b = source.raw();
      g.ldb = ld;
      g.transpose_b = !source_tall;
      g.stride_b = k * inner;
      g.c = at(out.raw(), r0 * k);
      g.ldc = k;
      g.stride_c = k * k;
      g.batch = batch;
      gemm_raw(work, alpha, beta, g);
    }
    if (bounds.size() > 2) cuda::launch_mirror_lower(out, stream_);
  };

  for (const auto& [a, b, c] : steps) {
    gram(X, tall, n, 1.0, 0.0, A);  // A = X X^T (wide) or X^T X (tall)
    convert(I, B);
    axpy(b, A, a, B);                            // B = b A + a I
    if (c != 0.0) gram(A, false, k, c, 1.0, B);  // B += c A A^T = c A A
    RawGemm g;                                   // Y = B X (wide) or X B (tall)
    g.m = rows;
    g.n = cols;
    g.k = k;
    g.a = tall ? X.raw() : B.raw();
    g.lda = tall ? cols : k;
    g.stride_a = tall ? rows * cols : k * k;
    g.b = tall ? B.raw() : X.raw();
    g.ldb = tall ? k : cols;
    g.stride_b = tall ? k * k : rows * cols;
    g.c = Y.raw();
    g.ldc = cols;
    g.stride_c = rows * cols;
    g.batch = batch;
    gemm_raw(work, 1.0, 0.0, g);
    std::swap(X, Y);
  }
  if (!X.same_storage(x)) convert(X, x);  // back into the caller's tensor (and dtype)
}

}  // namespace modnorm::detail
