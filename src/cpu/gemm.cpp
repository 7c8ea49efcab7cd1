// The one host GEMM (one call per matrix of a batch: f32 and bf16 on the build's GEMM provider,
// cpu/sgemm.hpp; f64 on Eigen's own OpenMP-parallel kernels) and the Frobenius inner product.
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"
#include "cpu/eigen_gemm.hpp"
#include "cpu/sgemm.hpp"

namespace modnorm::detail {

// A batch [..., M, K] x [..., K, N] is one GEMM per matrix: f32 (and bf16, widened) on the
// provider, f64 on Eigen's kernels.
void CpuBackend::gemm(double alpha, const Tensor& a_in, bool transpose_a, const Tensor& b_in,
                      bool transpose_b, double beta, Tensor& out_in) {
  const std::int64_t a_rows = a_in.dim(-2), a_cols = a_in.dim(-1);
  const std::int64_t b_rows = b_in.dim(-2), b_cols = b_in.dim(-1);
  const std::int64_t m = out_in.dim(-2), n = out_in.dim(-1);
  if (out_in.numel() == 0) return;
  const std::int64_t batch = out_in.numel() / (m * n);
  const Tensor a = widen(a_in), b = widen(b_in);
  cpu::WideOut out(out_in);
  const std::int64_t k = transpose_a ? a_rows : a_cols;
  if (a.dtype() != DType::f64) {
    for (std::int64_t i = 0; i < batch; ++i)
      cpu::sgemm(transpose_a, transpose_b, m, n, k, static_cast<float>(alpha),
                 static_cast<const float*>(a.raw()) + i * a_rows * a_cols, a_cols,
                 static_cast<const float*>(b.raw()) + i * b_rows * b_cols, b_cols,
                 static_cast<float>(beta), static_cast<float*>(out.get().raw()) + i * m * n, n);
  } else {
    for (std::int64_t i = 0; i < batch; ++i)
      cpu::eigen_gemm(transpose_a, transpose_b, m, n, k, alpha,
                      static_cast<const double*>(a.raw()) + i * a_rows * a_cols, a_cols,
                      static_cast<const double*>(b.raw()) + i * b_rows * b_cols, b_cols, beta,
                      static_cast<double*>(out.get().raw()) + i * m * n, n);
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
