// tanh and its vector-Jacobian product: every dtype against the float64 formula, rounded once,
// on random values and on hard ones (zero, tiny, huge, infinite), and the refusals.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::expect_error;

namespace {

// Values where a careless formula fails: 0 and -0, tiny (1 - 2 / (exp(2x) + 1) cancels to 0),
// around where tanh rounds to 1 in f32 (~9) and f64 (~19), huge (exp and cosh overflow), +-Inf.
std::vector<double> hard_values() {
  const double inf = std::numeric_limits<double>::infinity();
  return {0.0,  -0.0, 1e-30, -1e-30, 1e-8,  -1e-8, 0.5,    -0.5, 3.0,   -3.0, 9.0,
          -9.0, 19.0, -19.0, 50.0,   -50.0, 400.0, -400.0, 3e38, -3e38, inf,  -inf};
}

double sech_squared(double x) {
  const double s = 1.0 / std::cosh(x);
  return s * s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tanh_op)

BOOST_AUTO_TEST_CASE(tanh_and_its_derivative_round_the_float64_formula_once) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<double> values = hard_values();
  for (double v : Tensor::randn({64}, gen, DType::f64).to_vector_f64()) values.push_back(4 * v);
  const std::int64_t n = static_cast<std::int64_t>(values.size());
  const std::vector<double> ones(values.size(), 1.0);
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    // The inputs as the dtype holds them; the reference from those, rounded once to the dtype.
    const Tensor x = Tensor::from_vector_f64(values, {n}).to(dt);
    const Tensor dy = Tensor::from_vector_f64(ones, {n}).to(dt);
    const std::vector<double> xs = x.to_vector_f64();
    std::vector<double> value(xs.size()), slope(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      value[i] = std::tanh(xs[i]);
      slope[i] = sech_squared(xs[i]);
    }
    const std::vector<double> want_value =
        Tensor::from_vector_f64(value, {n}).to(dt).to_vector_f64();
    const std::vector<double> want_slope =
        Tensor::from_vector_f64(slope, {n}).to(dt).to_vector_f64();
    const std::vector<double> got_value = modnorm::tanh(x).to_vector_f64();
    const std::vector<double> got_slope = tanh_backward(x, dy).to_vector_f64();
    // bf16 is computed in f32 and rounded again: one bf16 unit of slack there.
    const double tol = dt == DType::bf16 ? 1.0 / 128 : 0.0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      BOOST_TEST_INFO("dtype " << to_string(dt) << ", x = " << xs[i]);
      BOOST_TEST(std::abs(got_value[i] - want_value[i]) <= tol * std::abs(want_value[i]));
      BOOST_TEST(std::abs(got_slope[i] - want_slope[i]) <= tol * std::abs(want_slope[i]));
      BOOST_TEST(std::isfinite(got_slope[i]));
    }
  }
}

BOOST_AUTO_TEST_CASE(tiny_inputs_keep_their_relative_precision_and_huge_ones_saturate) {
  const Tensor x = Tensor::from_vector_f64({1e-30, -1e-20, 40.0, -1e30}, {4});
  const std::vector<double> y = modnorm::tanh(x).to_vector_f64();
  BOOST_TEST(y[0] == 1e-30, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y[1] == -1e-20, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y[2] == 1.0);
  BOOST_TEST(y[3] == -1.0);
  const std::vector<double> d =
      tanh_backward(x, Tensor::full({4}, 3.0, DType::f64)).to_vector_f64();
  BOOST_TEST(d[0] == 3.0);
  BOOST_TEST(d[2] > 0.0);  // 12 e^-80, not the 0 that 1 - tanh^2 gives
  BOOST_TEST(d[2] == 12.0 * std::exp(-80.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(d[3] == 0.0);
}

BOOST_AUTO_TEST_CASE(derivative_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor x = scale(Tensor::randn({5, 7}, gen, DType::f64), 2.0);
  const Tensor dy = Tensor::randn({5, 7}, gen, DType::f64);
  const std::vector<double> xs = x.to_vector_f64(), dys = dy.to_vector_f64(),
                            got = tanh_backward(x, dy).to_vector_f64();
  const double h = 1e-6;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double fd = dys[i] * (std::tanh(xs[i] + h) - std::tanh(xs[i] - h)) / (2 * h);
    BOOST_TEST(std::abs(got[i] - fd) <= 1e-8 * (1 + std::abs(fd)));
  }
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_refused_naming_the_op) {
  expect_error([] { modnorm::tanh(Tensor::from_vector_i32({1, 2}, {2})); }, {"[tanh]", "i32"});
  expect_error(
      [] {
        tanh_backward(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));
      },
      {"[tanh_backward]", "[2x3]", "[3x2]"});
}

BOOST_AUTO_TEST_SUITE_END()
