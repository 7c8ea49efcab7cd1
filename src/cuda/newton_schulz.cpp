// Newton-Schulz on the GPU (the device-free part, with the step formula, is in
// src/orthogonalize.cpp; the CPU twin is src/cpu/newton_schulz.cpp). Per step, on a wide X:
//   A = X X^T;  B = a I + b A + c A A;  X <- B X
// as three cuBLAS GEMMs. With bf16 iterates every buffer is bf16, so each GEMM reads bf16 on the
// tensor cores, accumulates in fp32 and rounds its output to bf16 (as GPU Muon implementations
// do). All buffers are allocated before the step loop; X and Y swap roles each step.
#include <utility>

#include "cuda/cuda_backend.hpp"

namespace modnorm::detail {

void CudaBackend::newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                                bool bf16_iterates) {
  const std::int64_t m = x.dim(0), n = x.dim(1);
  const DType work = bf16_iterates ? DType::bf16 : x.dtype();
  Tensor X = x.to(work);  // x itself unless the iterates are bf16
  Tensor Y = Tensor::empty({m, n}, work, Device::cuda);
  Tensor A = Tensor::empty({m, m}, work, Device::cuda);
  Tensor B = Tensor::empty({m, m}, work, Device::cuda);
  const Tensor I = Tensor::eye(m, work, Device::cuda);
  for (const auto& [a, b, c] : steps) {
    gemm(1.0, X, false, X, true, 0.0, A);  // A = X X^T
    convert(I, B);
    axpy(b, A, a, B);                                   // B = b A + a I
    if (c != 0.0) gemm(c, A, false, A, false, 1.0, B);  // B += c A A
    gemm(1.0, B, false, X, false, 0.0, Y);              // Y = B X
    std::swap(X, Y);
  }
  if (!X.same_storage(x)) convert(X, x);  // back into the caller's tensor (and dtype)
}

}  // namespace modnorm::detail
