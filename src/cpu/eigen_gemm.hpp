#pragma once
// Row-major C = alpha op(A) op(B) + beta C on Eigen's own kernels (compiled for the build
// machine, OpenMP-parallel when large): the CPU backend's f64 products (cpu/gemm.cpp) and its f32
// products of the eigen provider or of small size (cpu/sgemm.cpp). Strides as in cpu/sgemm.hpp.
// beta = 0 ignores C's content (NaN included).
#include <Eigen/Core>
#include <cstdint>

namespace modnorm::detail::cpu {

template <class T>
void eigen_gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
                T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                std::int64_t ldc) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  const Eigen::Map<const Matrix, Eigen::Unaligned, Stride> A(a, transpose_a ? k : m,
                                                             transpose_a ? m : k, Stride(lda));
  const Eigen::Map<const Matrix, Eigen::Unaligned, Stride> B(b, transpose_b ? n : k,
                                                             transpose_b ? k : n, Stride(ldb));
  Eigen::Map<Matrix, Eigen::Unaligned, Stride> C(c, m, n, Stride(ldc));
  // C = alpha x y + beta C for the operands as they are stored (transposes are views).
  const auto product = [&](const auto& x, const auto& y) {
    if (beta == T(0)) {
      C.noalias() = alpha * x * y;
      return;
    }
    if (beta != T(1)) C *= beta;
    C.noalias() += alpha * x * y;
  };
  if (!transpose_a && !transpose_b) product(A, B);
  if (!transpose_a && transpose_b) product(A, B.transpose());
  if (transpose_a && !transpose_b) product(A.transpose(), B);
  if (transpose_a && transpose_b) product(A.transpose(), B.transpose());
}

}  // namespace modnorm::detail::cpu
