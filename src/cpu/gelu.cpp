// The f32 GELU maps (gelu.hpp). glibc's scalar erfc takes ~50 ns where |z| > 1.25, which trained
// networks' activations mostly are; here blocks of values go through W. J. Cody's rational
// approximations of erfc ("Rational Chebyshev approximations for the error function", Math.
// Comp. 23 (1969) 631-638; the coefficients of netlib's specfun CALERF) and Eigen's vectorised
// exp, accurate to a few units in the last place of a double. A result is kept only when every
// double within kMargin (relative, far above both evaluations' errors) of it rounds to the same
// f32: then the scalar formula's double, being that close, rounds to it too. The few others,
// and |z| > kMaxZ (erfc near underflow, or x not finite), take the scalar formula.
#include "cpu/gelu.hpp"

#include <Eigen/Core>
#include <cmath>
#include <initializer_list>

namespace modnorm::detail::cpu {
namespace {

constexpr int kBlock = 64;
using Block = Eigen::Array<double, kBlock, 1>;

constexpr double kMargin = 0x1p-42;  // ~2.3e-13; the evaluations' errors are below 1e-15
constexpr double kMaxZ = 26.0;       // erfc(26) ~ 6e-296: exp(-z^2) stays a normal double
constexpr double kInvSqrtPi = 0.56418958354775628695;

// c[0] t^(k-1) + c[1] t^(k-2) + ... + c[k-1], by Horner's rule.
Block horner(const Block& t, std::initializer_list<double> c) {
  auto it = c.begin();
  Block r = Block::Constant(*it);
  for (++it; it != c.end(); ++it) r = r * t + *it;
  return r;
}

// erfc(z) for |z| <= kMaxZ, Cody's three intervals of y = |z| with one division:
//   y <= 0.46875:  1 - erf(z) = (Q1(y^2) - z P1(y^2)) / Q1(y^2)
//   y <= 4:        erfc(y) = exp(-y^2) P2(y) / Q2(y)
//   y > 4:         erfc(y) = exp(-y^2) (1/sqrt(pi) - s P3(s) / Q3(s)) / y,  s = 1/y^2,
// the last with numerator and denominator times y^10 (polynomials in y^2, no 1/y^2 to divide);
// erfc(-y) = 2 - erfc(y).
Block erfc_block(const Block& z) {
  const Block y = z.abs();
  const Block y2 = y * y;
  const Block p1 =
      horner(y2, {1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
                  3.77485237685302021e02, 3.20937758913846947e03});
  const Block q1 = horner(y2, {1.0, 2.36012909523441209e01, 2.44024637934444173e02,
                               1.28261652607737228e03, 2.84423683343917062e03});
  const Block p2 =
      horner(y, {2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
                 6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
                 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03});
  const Block q2 =
      horner(y, {1.0, 1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03});
  // P3 and Q3 with their coefficients reversed: y^10 P3(1/y^2), y^10 Q3(1/y^2).
  const Block p3 =
      horner(y2, {6.58749161529837803e-4, 1.60837851487422766e-2, 1.25781726111229246e-1,
                  3.60344899949804439e-1, 3.05326634961232344e-1, 1.63153871373020978e-2});
  const Block q3 =
      y2 * horner(y2, {2.33520497626869185e-3, 6.05183413124413191e-2, 5.27905102951428412e-1,
                       1.87295284992346047e00, 2.56852019228982242e00, 1.0});
  const Block gauss = (-y2).exp();  // alone: Eigen 3.4 vectorises no expression with select()
  Block num, den;
  for (int i = 0; i < kBlock; ++i) {
    const bool near = y[i] <= 0.46875, middle = y[i] <= 4.0;
    num[i] = near ? q1[i] - z[i] * p1[i] : middle ? p2[i] : kInvSqrtPi * q3[i] - p3[i];
    den[i] = near ? q1[i] : middle ? q2[i] : q3[i] * y[i];
  }
  const Block r = num / den;
  Block out;
  for (int i = 0; i < kBlock; ++i) {
    // exp(-y^2) with the rounding error of y2 = y*y put back: exp(-y2) (1 - (y*y - y2)).
    const double tail = gauss[i] * (1.0 - std::fma(y[i], y[i], -y2[i])) * r[i];
    out[i] = y[i] <= 0.46875 ? r[i] : z[i] < 0.0 ? 2.0 - tail : tail;
  }
  return out;
}

// Whether every double within `slack` of v rounds to the same f32.
bool rounds_alike(double v, double slack) {
  return static_cast<float>(v - slack) == static_cast<float>(v + slack);
}

}  // namespace

void gelu_f32(const float* x, float* out, std::int64_t n) {
  std::int64_t begin = 0;
  for (; begin + kBlock <= n; begin += kBlock) {
    const Block xd = Eigen::Map<const Eigen::Array<float, kBlock, 1>>(x + begin).cast<double>();
    const Block z = -xd * kInvSqrt2;
    const Block v = 0.5 * xd * erfc_block(z);
    for (int i = 0; i < kBlock; ++i)
      out[begin + i] = std::abs(z[i]) <= kMaxZ && rounds_alike(v[i], std::abs(v[i]) * kMargin)
                           ? static_cast<float>(v[i])
                           : static_cast<float>(gelu_value(xd[i]));
  }
  for (; begin < n; ++begin) out[begin] = static_cast<float>(gelu_value(x[begin]));
}

void gelu_backward_f32(const float* x, const float* dy, float* out, std::int64_t n) {
  std::int64_t begin = 0;
  for (; begin + kBlock <= n; begin += kBlock) {
    const Block xd = Eigen::Map<const Eigen::Array<float, kBlock, 1>>(x + begin).cast<double>();
    const Block z = -xd * kInvSqrt2;
    const Block cdf = 0.5 * erfc_block(z);
    const Block slope_pdf = xd * (kInvSqrt2Pi * (-0.5 * xd * xd).exp());
    const Block d = cdf + slope_pdf;
    for (int i = 0; i < kBlock; ++i) {
      const bool fast = std::abs(z[i]) <= kMaxZ &&
                        rounds_alike(d[i], (std::abs(cdf[i]) + std::abs(slope_pdf[i])) * kMargin);
      out[begin + i] =
          dy[begin + i] * (fast ? static_cast<float>(d[i]) : static_cast<float>(gelu_slope(xd[i])));
    }
  }
  for (; begin < n; ++begin) out[begin] = dy[begin] * static_cast<float>(gelu_slope(x[begin]));
}

}  // namespace modnorm::detail::cpu
