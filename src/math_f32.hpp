#pragma once
// f32 maps shared by the CPU and the CUDA kernels: exp, the pieces of the normal distribution,
// GELU and its slope. Plain arithmetic with no branches and no library calls besides
// fmaf, so that a CPU loop over them vectorises (`#pragma omp simd`) and a GPU thread runs the
// same operations. Error bounds are in ulps (the spacing of f32 values at the exact result),
// the largest errors against the double formulas over every f32 input, rounded up
// (tests/cpu/test_math_f32.cpp checks them).

#include <math.h>

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define MODNORM_HOST_DEVICE __host__ __device__
#else
#define MODNORM_HOST_DEVICE
#endif

namespace modnorm::detail {

/// The bits of an f32, and the f32 of given bits.
MODNORM_HOST_DEVICE inline std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

MODNORM_HOST_DEVICE inline float float_of(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

/// exp(x) in f32 within 1.1 ulp of the exact value for every x (Cody-Waite reduction x = n ln 2 +
/// r, |r| <= ln 2 / 2, and a degree-6 minimax polynomial for exp(r), relative error 3e-9), down to
/// the subnormals (2^n applied as two factors, so the one rounding is the last product's):
/// exp(-Inf) = 0, exp(x) = +Inf from x > 88.73, NaN stays NaN.
/// Example: const float e = exp_f32(x - max);
MODNORM_HOST_DEVICE inline float exp_f32(float x) {
  // Clamped where exp is 0 or Inf in f32 anyway, so that n fits the exponent arithmetic below;
  // the comparisons are false for NaN, which passes through.
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  constexpr float kShifter = 12582912.0f;  // 1.5 * 2^23: x / ln 2 + kShifter rounds to an integer
  const float k = fmaf(x, 1.44269504f, kShifter);
  const float n = k - kShifter;
  float r = fmaf(n, -0.693359375f, x);  // ln 2 = 0.693359375 - 2.12194440e-4 (+ 1e-12); the
  r = fmaf(n, 2.12194440e-4f, r);       // first difference is exact (Sterbenz)
  // exp(r) = 1 + r + r^2 S(r), S the minimax fit on [-ln 2 / 2, ln 2 / 2].
  float s = fmaf(1.381459762e-3f, r, 8.368716575e-3f);
  s = fmaf(s, r, 4.166838899e-2f);
  s = fmaf(s, r, 1.666652113e-1f);
  s = fmaf(s, r, 4.999999404e-1f);
  const float p = fmaf(s, r * r, r) + 1.0f;
  // m = n as an integer (k's low mantissa bits); 2^m = 2^h 2^(m - h), both factors normal f32
  // for m in [-150, 128].
  const std::int32_t m = static_cast<std::int32_t>(bits_of(k) - bits_of(kShifter));
  const std::int32_t h = m / 2;
  const float lo = float_of(static_cast<std::uint32_t>(h + 127) << 23);
  const float hi = float_of(static_cast<std::uint32_t>(m - h + 127) << 23);
  return p * lo * hi;
}

/// exp(x - shift) in f32 with x - shift taken exactly, as the sum d + e of its rounded value and
/// the rounding error (Knuth's TwoSum): exp(d) (1 + e). Within 2 ulp of the exact value, where the
/// f32 difference alone would lose up to |x - shift| 2^-24 relative. -Inf - shift gives 0, a NaN
/// gives NaN. Softmax's terms, x - shift <= 0 (shift the row's maximum).
/// Example: const float term = exp_shifted(x[j], row_max);
MODNORM_HOST_DEVICE inline float exp_shifted(float x, float shift) {
  const float d = x - shift;
  const float x_part = d + shift, shift_part = x_part - d;
  const float error = (x - x_part) + (shift_part - shift);
  const float e = exp_f32(d);
  return d > -104.0f ? fmaf(e, error, e) : e;  // exp(d) is 0 below -104; -Inf makes error NaN
}

/// exp(x - shift) in f64 (the f64 kernels' counterpart, for code templated on the compute type).
MODNORM_HOST_DEVICE inline double exp_shifted(double x, double shift) {
  return exp(x - shift);
}

/// The pieces of the normal distribution at x in f32, from one exp: for t = min(|x|, 16),
/// Phi(-t) = gauss * ratio with gauss = exp(-t^2 / 2) and ratio = erfcx(t / sqrt 2) / 2, the
/// latter a rational minimax fit of degree 4/5 on [0, 16] (relative error 7e-9). t^2 is kept as
/// the exact sum t*t + fma(t, t, -t*t), so that the large exponents of the tail lose nothing.
/// Beyond 16 both Phi(-t) and phi(t) are below the smallest f32: the clamp costs nothing and
/// keeps the Infinities' limits.
struct NormalPieces {
  float t;      ///< min(|x|, 16), NaN for NaN
  float gauss;  ///< exp(-t^2 / 2)
  float ratio;  ///< Phi(-t) / exp(-t^2 / 2)
};

MODNORM_HOST_DEVICE inline NormalPieces normal_pieces_f32(float x) {
  float t = x < 0.0f ? -x : x;
  t = t > 16.0f ? 16.0f : t;  // NaN passes through
  const float t2 = t * t;
  const float t2_error = fmaf(t, t, -t2);
  const float gauss = exp_f32(-0.5f * t2);  // exp(-t2 / 2) (1 - t2_error / 2)
  float p = fmaf(4.222203977e-3f, t, 4.134218022e-2f);
  p = fmaf(p, t, 1.853305548e-1f);
  p = fmaf(p, t, 4.411104023e-1f);
  p = fmaf(p, t, 0.5f);
  float q = fmaf(1.058339793e-2f, t, 1.036350131e-1f);
  q = fmaf(q, t, 4.750042260e-1f);
  q = fmaf(q, t, 1.211186051f);
  q = fmaf(q, t, 1.680105925f);
  q = fmaf(q, t, 1.0f);
  return {t, fmaf(gauss, -0.5f * t2_error, gauss), p / q};
}

constexpr float kInvSqrt2PiF = 0.398942280f;  // 1 / sqrt(2 pi)

/// gelu(x) = x Phi(x) in f32: within 7 ulp of the exact value where it is a normal f32, within 3
/// units of the smallest subnormal where it is subnormal (x in about [-14.2, -13.1]);
/// gelu(+Inf) = +Inf, gelu(-Inf) = -0 (the limit; the double formula's -Inf * 0 is NaN).
/// For x < 0 the tiny factor exp(-x^2 / 2) comes last, so that only the result can be subnormal.
/// Example: out[i] = gelu_value_f32(x[i]);
MODNORM_HOST_DEVICE inline float gelu_value_f32(float x) {
  const NormalPieces n = normal_pieces_f32(x);
  return x < 0.0f ? n.gauss * (-n.t * n.ratio) : x * fmaf(-n.gauss, n.ratio, 1.0f);
}

/// gelu'(x) = Phi(x) + x phi(x) in f32: within 8 ulp of Phi(x) + |x| phi(x) (an absolute bound
/// where the two terms cancel, near x = -0.75); gelu'(+Inf) = 1, gelu'(-Inf) = 0.
/// Example: dx[i] = dy[i] * gelu_slope_f32(x[i]);
MODNORM_HOST_DEVICE inline float gelu_slope_f32(float x) {
  const NormalPieces n = normal_pieces_f32(x);
  // x < 0: exp(-t^2/2) (ratio - t / sqrt(2 pi)); x >= 0: 1 - exp(-t^2/2) (ratio - t / sqrt(2 pi)).
  const float d = fmaf(-n.t, kInvSqrt2PiF, n.ratio);
  return x < 0.0f ? n.gauss * d : fmaf(-n.gauss, d, 1.0f);
}

}  // namespace modnorm::detail
