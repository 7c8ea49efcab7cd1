// The f32 formulas that the CPU loops and the CUDA kernels share (src/math_f32.hpp) against the
// double formulas, within the error bounds their documentation states: on every f32 of the
// ranges where their arithmetic changes regime, on a sampled sweep of the rest, and on the hard
// inputs (0, subnormals, Infinities, NaN, large |x|). Then the CPU ops gelu, gelu_backward and
// softmax, which run these formulas vectorised: the same bits as the scalar formulas (the
// GPU's arithmetic), and softmax within its bound.
#include <boost/test/unit_test.hpp>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "math_f32.hpp"
#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;
using detail::exp_f32;
using detail::exp_shifted;
using detail::gelu_slope_f32;
using detail::gelu_value_f32;

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// The spacing of f32 values at |v| (the smallest subnormal below FLT_MIN).
double ulp(double v) {
  const double a = std::fabs(v);
  if (a < FLT_MIN) return std::ldexp(1.0, -149);
  int e = 0;
  std::frexp(a, &e);
  return std::ldexp(1.0, e - 24);
}

// f32 values in increasing order as consecutive unsigned keys.
std::uint32_t key_of(float x) {
  std::uint32_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return (b & 0x80000000u) ? ~b : b | 0x80000000u;
}
float float_of_key(std::uint32_t k) {
  const std::uint32_t b = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
  float x = 0;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Calls fn(x) for every `stride`-th f32 x in [lo, hi].
template <class Fn>
void for_floats(float lo, float hi, std::uint32_t stride, Fn&& fn) {
  for (std::uint64_t k = key_of(lo); k <= key_of(hi); k += stride)
    fn(float_of_key(static_cast<std::uint32_t>(k)));
}

// The largest error seen, in units, and where.
struct Worst {
  double units = 0;
  float at = 0;
  void see(double error, double unit, float x) {
    if (error / unit > units) units = error / unit, at = x;
  }
};

double phi_cdf(double x) {
  return 0.5 * std::erfc(-x * kInvSqrt2);
}

// gelu and gelu' of f32 x against the double formulas: gelu in ulps of the value (in smallest
// subnormals where it is subnormal), gelu' in ulps of Phi(x) + |x| phi(x), the size of its terms.
struct GeluErrors {
  Worst value, subnormal, slope;
  void check(float x) {
    const double xd = x, cdf = phi_cdf(xd), pdf = kInvSqrt2Pi * std::exp(-0.5 * xd * xd);
    const double value_error = std::fabs(gelu_value_f32(x) - xd * cdf);
    if (std::fabs(xd * cdf) >= FLT_MIN)
      value.see(value_error, ulp(xd * cdf), x);
    else
      subnormal.see(value_error, std::ldexp(1.0, -149), x);
    slope.see(std::fabs(gelu_slope_f32(x) - (cdf + xd * pdf)), ulp(cdf + std::fabs(xd) * pdf), x);
  }
  void require_bounds() const {
    BOOST_TEST_MESSAGE("gelu " << value.units << " ulp, " << subnormal.units
                               << " subnormal units; gelu' " << slope.units << " ulp");
    // The bounds stated in math_f32.hpp and ops.hpp.
    BOOST_TEST(value.units <= 7.0, "gelu: " << value.units << " ulp at x = " << value.at);
    BOOST_TEST(subnormal.units <= 3.0,
               "gelu: " << subnormal.units << " subnormal units at x = " << subnormal.at);
    BOOST_TEST(slope.units <= 8.0, "gelu': " << slope.units << " ulp at x = " << slope.at);
  }
};

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(math_f32)

// Every 127th f32 from -104 (exp underflows to 0) to 88, and every f32 whose exp is
// subnormal (x in [-103.3, -87.3]): within 1.1 ulp; the Infinities, NaN and overflow exactly.
BOOST_AUTO_TEST_CASE(exp_f32_is_within_1_1_ulp_everywhere) {
  Worst worst;
  auto check = [&](float x) {
    const double e = std::exp(double(x));
    worst.see(std::fabs(exp_f32(x) - e), ulp(e), x);
  };
  for_floats(-104.0f, 88.0f, 127, check);
  for_floats(-104.0f, -87.0f, 1, check);
  BOOST_TEST_MESSAGE("exp: " << worst.units << " ulp at x = " << worst.at);
  BOOST_TEST(worst.units <= 1.1, "exp: " << worst.units << " ulp at x = " << worst.at);
  BOOST_TEST(exp_f32(-INFINITY) == 0.0f);
  BOOST_TEST(exp_f32(-200.0f) == 0.0f);
  BOOST_TEST(exp_f32(0.0f) == 1.0f);
  BOOST_TEST(std::isinf(exp_f32(89.0f)));
  BOOST_TEST(std::isinf(exp_f32(INFINITY)));
  BOOST_TEST(std::isnan(exp_f32(NAN)));
}

// exp(x - shift) for shift >= x of every size (softmax's terms) against the exact difference:
// within 2 ulp, where an f32 difference alone would be tens of ulp off for large gaps.
BOOST_AUTO_TEST_CASE(exp_shifted_takes_the_difference_exactly) {
  MODNORM_FRESH_GENERATOR(gen);
  Worst worst;
  for (double spread : {1e-3, 1.0, 10.0, 100.0, 1e4}) {
    const std::vector<float> a = scale(Tensor::randn({20000}, gen), spread).to_vector();
    const std::vector<float> b = scale(Tensor::randn({20000}, gen), spread).to_vector();
    for (std::size_t i = 0; i < a.size(); ++i) {
      const float x = std::min(a[i], b[i]), shift = std::max(a[i], b[i]);
      const double e = std::exp(double(x) - double(shift));
      worst.see(std::fabs(exp_shifted(x, shift) - e), ulp(e), x);
    }
  }
  BOOST_TEST_MESSAGE("exp(x - shift): " << worst.units << " ulp");
  BOOST_TEST(worst.units <= 2.0, "exp(x - shift): " << worst.units << " ulp");
  BOOST_TEST(exp_shifted(-INFINITY, 3.0f) == 0.0f);
  BOOST_TEST(exp_shifted(2.5f, 2.5f) == 1.0f);
  BOOST_TEST(std::isnan(exp_shifted(NAN, 1.0f)));
  BOOST_TEST(std::isnan(exp_shifted(INFINITY, INFINITY)));
}

// Every f32 in [-16, -8] (the deep tail: subnormal results from -13.1, the clamp at 16), in
// [-1, -0.5] and [0.5, 1] (gelu' crosses 0 at -0.75, where its terms cancel) and within 2^20
// values of 0 (the subnormals, x = 0 itself); every 257th f32 in [-17, 17].
BOOST_AUTO_TEST_CASE(gelu_f32_is_within_its_bounds_of_the_double_formula) {
  GeluErrors errors;
  auto check = [&](float x) { errors.check(x); };
  for_floats(-16.0f, -8.0f, 1, check);
  for_floats(-1.0f, -0.5f, 1, check);
  for_floats(0.5f, 1.0f, 1, check);
  for_floats(-std::ldexp(1.0f, -130), std::ldexp(1.0f, -130), 1, check);
  for_floats(-17.0f, 17.0f, 257, check);
  errors.require_bounds();
}

// The limits where the double formula has none to give (-Inf * 0 = NaN) and the signs of zero.
BOOST_AUTO_TEST_CASE(gelu_f32_gives_the_limits_at_the_infinities) {
  BOOST_TEST(gelu_value_f32(INFINITY) == INFINITY);
  BOOST_TEST(gelu_value_f32(-INFINITY) == 0.0f);
  BOOST_TEST(std::signbit(gelu_value_f32(-INFINITY)));
  BOOST_TEST(gelu_value_f32(-100.0f) == 0.0f);
  BOOST_TEST(gelu_value_f32(3e38f) == 3e38f);
  BOOST_TEST(gelu_slope_f32(INFINITY) == 1.0f);
  BOOST_TEST(gelu_slope_f32(-INFINITY) == 0.0f);
  BOOST_TEST(gelu_slope_f32(3e38f) == 1.0f);
  BOOST_TEST(gelu_slope_f32(0.0f) == 0.5f);
  BOOST_TEST(gelu_value_f32(0.0f) == 0.0f);
  BOOST_TEST(std::signbit(gelu_value_f32(-0.0f)));
  BOOST_TEST(std::isnan(gelu_value_f32(NAN)));
  BOOST_TEST(std::isnan(gelu_slope_f32(NAN)));
}

// The CPU ops run the scalar formulas in vectorised loops: the same bits, on wide activations,
// on lengths that leave a remainder after the vector loop, and on the hard inputs.
BOOST_AUTO_TEST_CASE(cpu_gelu_ops_give_the_scalar_formulas_bits) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<std::vector<float>> inputs;
  for (double spread : {0.5, 3.0, 12.0})
    for (std::int64_t n : {1, 17, 100003})
      inputs.push_back(scale(Tensor::randn({n}, gen), spread).to_vector());
  inputs.push_back({0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, -1e-45f, FLT_MIN, -FLT_MIN,
                    3e38f, -3e38f, 16.0f, -16.0f, 16.000002f, -16.000002f, -13.5f, -0.7518f});
  for (const std::vector<float>& xs : inputs) {
    const auto n = static_cast<std::int64_t>(xs.size());
    const Tensor x = Tensor::from_vector(xs, {n});
    const std::vector<float> dys = Tensor::randn({n}, gen).to_vector();
    const std::vector<float> y = gelu(x).to_vector();
    const std::vector<float> dx = gelu_backward(x, Tensor::from_vector(dys, {n})).to_vector();
    std::int64_t wrong = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float want_y = gelu_value_f32(xs[i]), want_dx = dys[i] * gelu_slope_f32(xs[i]);
      if (!(same_bits(y[i], want_y) && same_bits(dx[i], want_dx)) && wrong++ < 5)
        BOOST_ERROR("x = " << xs[i] << ": gelu " << y[i] << " vs " << want_y << ", dx " << dx[i]
                           << " vs " << want_dx);
    }
    BOOST_TEST(wrong == 0);
  }
}

// f32 softmax against the double formula: every probability within 4 ulp of its exact value,
// on rows of every length whose entries spread from 0.01 to 100 (most terms far from the max).
BOOST_AUTO_TEST_CASE(cpu_softmax_f32_is_within_4_ulp) {
  MODNORM_FRESH_GENERATOR(gen);
  Worst worst;
  for (double spread : {0.01, 1.0, 10.0, 100.0})
    for (std::int64_t n : {1, 5, 64, 1000}) {
      const Tensor x = scale(Tensor::randn({7, n}, gen), spread);
      const std::vector<double> xs = x.to_vector_f64();
      const std::vector<float> y = softmax(x).to_vector();
      for (std::int64_t r = 0; r < 7; ++r) {
        double m = -INFINITY, total = 0;
        for (std::int64_t j = 0; j < n; ++j) m = std::max(m, xs[r * n + j]);
        for (std::int64_t j = 0; j < n; ++j) total += std::exp(xs[r * n + j] - m);
        for (std::int64_t j = 0; j < n; ++j) {
          const double p = std::exp(xs[r * n + j] - m) / total;
          if (p >= FLT_MIN) worst.see(std::fabs(y[r * n + j] - p), ulp(p), y[r * n + j]);
        }
      }
    }
  BOOST_TEST_MESSAGE("softmax: " << worst.units << " ulp");
  BOOST_TEST(worst.units <= 4.0, "softmax: " << worst.units << " ulp at p = " << worst.at);
}

BOOST_AUTO_TEST_SUITE_END()
