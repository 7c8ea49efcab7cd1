// Softmax along the last axis and its vector-Jacobian product, row by row with the sums in
// double. Max-subtracted: exp(x - max) never overflows, and -Inf entries (a causal mask) give 0.
// Large tensors run their rows in parallel (OpenMP).
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {

// softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m), m = max_k x_k (the shift cancels). NaN wins
// the max, so a NaN anywhere makes its whole row NaN (as does +Inf, through Inf - Inf); a row of
// -Inf only has no mass at all and is written as zeros (documented in ops.hpp).
void CpuBackend::softmax(const Tensor& x_in, Tensor& out_in) {
  const std::int64_t n = x_in.dim(-1);
  if (x_in.numel() == 0) return;
  const std::int64_t rows = x_in.numel() / n;
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
#pragma omp parallel for schedule(static) if (rows * n >= cpu::kParallelCostly)
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* xr = static_cast<const T*>(x.raw()) + r * n;
      T* yr = static_cast<T*>(out.get().raw()) + r * n;
      double shift = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < n; ++j) {
        const double v = xr[j];
        shift = (std::isnan(v) || v > shift) ? v : shift;
      }
      if (shift == -std::numeric_limits<double>::infinity()) {
        for (std::int64_t j = 0; j < n; ++j) yr[j] = T(0);
        continue;
      }
      double total = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double e = std::exp(double(xr[j]) - shift);
        yr[j] = static_cast<T>(e);
        total += e;
      }
      for (std::int64_t j = 0; j < n; ++j) yr[j] = static_cast<T>(double(yr[j]) / total);
    }
  });
  out.commit();
}

// dx = y * (dy - <dy, y>) per row: the Jacobian of softmax is diag(y) - y y^T.
void CpuBackend::softmax_backward(const Tensor& y_in, const Tensor& dy_in, Tensor& out_in) {
  const std::int64_t n = y_in.dim(-1);
  if (y_in.numel() == 0) return;
  const std::int64_t rows = y_in.numel() / n;
  const Tensor y = widen(y_in), dy = widen(dy_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
#pragma omp parallel for schedule(static) if (rows * n >= cpu::kParallelCostly)
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* yr = static_cast<const T*>(y.raw()) + r * n;
      const T* dyr = static_cast<const T*>(dy.raw()) + r * n;
      T* dxr = static_cast<T*>(out.get().raw()) + r * n;
      double inner = 0;
      for (std::int64_t j = 0; j < n; ++j) inner += double(dyr[j]) * double(yr[j]);
      for (std::int64_t j = 0; j < n; ++j)
        dxr[j] = static_cast<T>(double(yr[j]) * (double(dyr[j]) - inner));
    }
  });
  out.commit();
}

}  // namespace modnorm::detail
