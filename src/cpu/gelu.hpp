#pragma once
// GELU on the CPU: the scalar double formulas (f64 tensors), and for f32 tensors loops over the
// f32 formulas of math_f32.hpp, which the CUDA kernels run too.

#include <cmath>
#include <cstdint>

namespace modnorm::detail::cpu {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

/// gelu(x) = x Phi(x) = 0.5 x erfc(-x / sqrt 2) (the erfc form keeps precision for x < 0).
inline double gelu_value(double x) {
  return 0.5 * x * std::erfc(-x * kInvSqrt2);
}

/// gelu'(x) = Phi(x) + x phi(x).
inline double gelu_slope(double x) {
  const double cdf = 0.5 * std::erfc(-x * kInvSqrt2);  // no cancellation for x < 0
  const double pdf = kInvSqrt2Pi * std::exp(-0.5 * x * x);
  return cdf + x * pdf;
}

/// out[i] = gelu_value_f32(x[i]) for i < n (math_f32.hpp: within 7 ulp of the exact value).
/// Example: gelu_f32(x.data<float>(), y.data<float>(), x.numel());
void gelu_f32(const float* x, float* out, std::int64_t n);

/// out[i] = dy[i] * gelu_slope_f32(x[i]) for i < n (math_f32.hpp).
/// Example: gelu_backward_f32(x.data<float>(), dy.data<float>(), dx.data<float>(), x.numel());
void gelu_backward_f32(const float* x, const float* dy, float* out, std::int64_t n);

}  // namespace modnorm::detail::cpu
