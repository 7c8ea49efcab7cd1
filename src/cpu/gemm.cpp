// The one host GEMM (one call per matrix of a batch: f32 and bf16 on the build's GEMM provider,
// cpu/sgemm.hpp; f64 on Eigen's own OpenMP-parallel kernels) and the Frobenius inner product.
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"
#include "cpu/sgemm.hpp"

namespace modnorm::detail {
namespace {

// out = alpha * A * B + beta * out for any Eigen expressions A, B (transposes included).
template <class OutMap, class A, class B>
void gemm_into(OutMap& out, double alpha, const A& a, const B& b, double beta) {
  using T = typename OutMap::Scalar;
  if (beta == 0.0)
    out.noalias() = static_cast<T>(alpha) * a * b;
  else {
    if (beta != 1.0) out *= static_cast<T>(beta);
    out.noalias() += static_cast<T>(alpha) * a * b;
  }
}

}  // namespace

// A batch [..., M, K] x [..., K, N] is one GEMM per matrix: f32 (and bf16, widened) on the
// provider, f64 through gemm_into.
void CpuBackend::gemm(double alpha, const Tensor& a_in, bool transpose_a, const Tensor& b_in,
                      bool transpose_b, double beta, Tensor& out_in) {
  const std::int64_t a_rows = a_in.dim(-2), a_cols = a_in.dim(-1);
  const std::int64_t b_rows = b_in.dim(-2), b_cols = b_in.dim(-1);
  const std::int64_t m = out_in.dim(-2), n = out_in.dim(-1);
  if (out_in.numel() == 0) return;
  const std::int64_t batch = out_in.numel() / (m * n);
  const Tensor a = widen(a_in), b = widen(b_in);
  cpu::WideOut out(out_in);
  if (a.dtype() != DType::f64) {
    const std::int64_t k = transpose_a ? a_rows : a_cols;
    for (std::int64_t i = 0; i < batch; ++i)
      cpu::sgemm(transpose_a, transpose_b, m, n, k, static_cast<float>(alpha),
                 static_cast<const float*>(a.raw()) + i * a_rows * a_cols, a_cols,
                 static_cast<const float*>(b.raw()) + i * b_rows * b_cols, b_cols,
                 static_cast<float>(beta), static_cast<float*>(out.get().raw()) + i * m * n, n);
  } else {
    for (std::int64_t i = 0; i < batch; ++i) {
      const cpu::ConstMatrixMap<double> A(static_cast<const double*>(a.raw()) + i * a_rows * a_cols,
                                          a_rows, a_cols);
      const cpu::ConstMatrixMap<double> B(static_cast<const double*>(b.raw()) + i * b_rows * b_cols,
                                          b_rows, b_cols);
      cpu::MatrixMap<double> C(static_cast<double*>(out.get().raw()) + i * m * n, m, n);
      if (!transpose_a && !transpose_b) gemm_into(C, alpha, A, B, beta);
      if (!transpose_a && transpose_b) gemm_into(C, alpha, A, B.transpose(), beta);
      if (transpose_a && !transpose_b) gemm_into(C, alpha, A.transpose(), B, beta);
      if (transpose_a && transpose_b) gemm_into(C, alpha, A.transpose(), B.transpose(), beta);
    }
  }
  out.commit();
}

double CpuBackend::dot(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = widen(a_in), b = widen(b_in);
  double result = 0;
  cpu::visit_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    result =
        (cpu::array<T>(a).template cast<double>() * cpu::array<T>(b).template cast<double>()).sum();
  });
  return result;
}

}  // namespace modnorm::detail
