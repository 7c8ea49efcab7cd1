#pragma once
// The exact GELU on the CPU: the scalar double formulas (every dtype), and for f32 tensors a
// vectorised evaluation that returns the same f32 values bit for bit, several times faster.

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

/// out[i] = f32(gelu_value(x[i])) for i < n, the same bits as the scalar formula gives.
/// Example: gelu_f32(x.data<float>(), y.data<float>(), x.numel());
void gelu_f32(const float* x, float* out, std::int64_t n);

/// out[i] = dy[i] * f32(gelu_slope(x[i])) for i < n, the same bits as the scalar formula gives.
/// Example: gelu_backward_f32(x.data<float>(), dy.data<float>(), dx.data<float>(), x.numel());
void gelu_backward_f32(const float* x, const float* dy, float* out, std::int64_t n);

}  // namespace modnorm::detail::cpu
