// Newton-Schulz on the GPU (the device-free part, with the step formula, is in
// src/orthogonalize.cpp; the CPU twin is src/cpu/newton_schulz.cpp). Per step, on a wide X:
//   A = X X^T;  B = a I + b A + c A A;  X <- B X
// and on a tall X the transposed problem A = X^T X, X <- X B (no transposed copies).
// as three cuBLAS GEMMs. With bf16 iterates every buffer is bf16, so each GEMM reads bf16 on the
// tensor cores, accumulates in fp32 and rounds its output to bf16 (as GPU Muon implementations
// do). All buffers are allocated before the step loop; X and Y swap roles each step.
#include <utility>

#include "cuda/cuda_backend.hpp"

namespace modnorm::detail {

void CudaBackend::newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                                bool bf16_iterates) {
  const std::int64_t m = x.dim(0), n = x.dim(1);
  const bool tall = m > n;  // then A = X^T X and X <- X B: the Gram matrix is the small one
  const std::int64_t k = tall ? n : m;
  const DType work = bf16_iterates ? DType::bf16 : x.dtype();
  Tensor X = x.to(work);  // x itself unless the iterates are bf16
  Tensor Y = Tensor::empty({m, n}, work, Device::cuda);
  Tensor A = Tensor::empty({k, k}, work, Device::cuda);
  Tensor B = Tensor::empty({k, k}, work, Device::cuda);
  const Tensor I = Tensor::eye(k, work, Device::cuda);
  for (const auto& [a, b, c] : steps) {
    gemm(1.0, X, tall, X, !tall, 0.0, A);  // A = X X^T (wide) or X^T X (tall)
    convert(I, B);
    axpy(b, A, a, B);                                   // B = b A + a I
    if (c != 0.0) gemm(c, A, false, A, false, 1.0, B);  // B += c A A
    if (tall)
      gemm(1.0, X, false, B, false, 0.0, Y);  // Y = X B
    else
      gemm(1.0, B, false, X, false, 0.0, Y);  // Y = B X
    std::swap(X, Y);
  }
  if (!X.same_storage(x)) convert(X, x);  // back into the caller's tensor (and dtype)
}

}  // namespace modnorm::detail
