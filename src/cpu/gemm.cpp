// The one host GEMM (Eigen, OpenMP-parallel) and the Frobenius inner product.
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

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

void CpuBackend::gemm(double alpha, const Tensor& a_in, bool transpose_a, const Tensor& b_in,
                      bool transpose_b, double beta, Tensor& out_in) {
  const Tensor a = widen(a_in), b = widen(b_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto A = cpu::matrix<T>(a);
    auto B = cpu::matrix<T>(b);
    auto C = cpu::matrix<T>(out.get());
    if (!transpose_a && !transpose_b) gemm_into(C, alpha, A, B, beta);
    if (!transpose_a && transpose_b) gemm_into(C, alpha, A, B.transpose(), beta);
    if (transpose_a && !transpose_b) gemm_into(C, alpha, A.transpose(), B, beta);
    if (transpose_a && transpose_b) gemm_into(C, alpha, A.transpose(), B.transpose(), beta);
  });
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
