// Softmax along the last axis and its vector-Jacobian product, row by row with the sums in
// double. Max-subtracted: exp(x - max) never overflows, and -Inf entries (a causal mask) give 0.
// f32 rows take math_f32.hpp's vectorised exp of the exact difference (within 2 ulp; the CUDA
// kernel runs the same), f64 rows libm's. Large tensors run their rows in parallel (OpenMP).
#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"
#include "math_f32.hpp"

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
      T shift = -std::numeric_limits<T>::infinity();
      for (std::int64_t j = 0; j < n; ++j)
        shift = (std::isnan(xr[j]) || xr[j] > shift) ? xr[j] : shift;
      if (shift == -std::numeric_limits<T>::infinity()) {
        for (std::int64_t j = 0; j < n; ++j) yr[j] = T(0);
        continue;
      }
      double total = 0;
#pragma omp simd reduction(+ : total)
      for (std::int64_t j = 0; j < n; ++j) {
        const T e = exp_shifted(xr[j], shift);
        yr[j] = e;
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
