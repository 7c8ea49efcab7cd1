// NumPy-style broadcasting of add, sub, mul and div, and the elementwise sqrt: results against a
// plain double-precision loop, IEEE behaviour at zero and below it, and the error for shapes
// that do not broadcast.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;

namespace {

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);

struct Op {
  const char* name;
  BinaryFn fn;
  double (*ref)(double, double);
};

const Op kOps[] = {
    {"add", modnorm::add, [](double x, double y) { return x + y; }},
    {"sub", modnorm::sub, [](double x, double y) { return x - y; }},
    {"mul", modnorm::mul, [](double x, double y) { return x * y; }},
    {"div", modnorm::div, [](double x, double y) { return x / y; }},
};

// Two operand shapes and the broadcast shape NumPy gives them.
struct Case {
  Shape a, b, out;
};

// The module layer's patterns (Bias, RMS normalisation, a Mean bond's backward) and the corners.
const std::vector<Case> kCases = {
    {{5, 7}, {5, 7}, {5, 7}},                 // equal shapes: the fast path
    {{5, 7}, {7}, {5, 7}},                    // Bias: [B x n] + [n]
    {{5, 7}, {5, 1}, {5, 7}},                 // RMS norm: [B x n] / [B x 1]
    {{5, 7}, {1, 7}, {5, 7}},                 // row vector as a matrix
    {{5, 3, 4}, {5, 1, 4}, {5, 3, 4}},        // Mean bond backward: [B x T x d] from [B x 1 x d]
    {{2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}},  // missing leading axis and a stretched middle one
    {{2, 1, 4, 1}, {3, 1, 5}, {2, 3, 4, 5}},  // both operands stretch
    {{5, 1}, {1, 7}, {5, 7}},                 // outer-product shape
    {{5, 7}, {1}, {5, 7}},                    // scalar-like [1]
    {{5, 7}, {}, {5, 7}},                     // rank 0
    {{2, 3, 4, 5}, {}, {2, 3, 4, 5}},         // rank 0 against rank 4
    {{}, {}, {}},                             // two scalars
    {{1}, {}, {1}},                           // [1] and rank 0
    {{1, 1, 1, 1}, {3}, {1, 1, 1, 3}},        // rank 4 of ones
    {{0, 7}, {7}, {0, 7}},                    // empty result
    {{0, 7}, {1, 1}, {0, 7}},
};

std::int64_t count(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// out[i] = f(a[.], b[.]) with the indices worked out from the definition: the multi-index of
// out, aligned at the trailing axis, with index 0 on an operand axis of size 1.
std::vector<double> reference(double (*f)(double, double), const Tensor& a, const Tensor& b,
                              const Shape& out) {
  const auto av = a.to_vector_f64(), bv = b.to_vector_f64();
  const std::int64_t n = count(out);
  std::vector<double> result(static_cast<std::size_t>(n));
  std::vector<std::int64_t> index(out.size());
  auto offset = [&](const Shape& shape) {
    const std::size_t lead = out.size() - shape.size();
    std::int64_t o = 0;
    for (std::size_t j = 0; j < shape.size(); ++j)
      o = o * shape[j] + (shape[j] == 1 ? 0 : index[lead + j]);
    return static_cast<std::size_t>(o);
  };
  for (std::int64_t flat = 0; flat < n; ++flat) {
    std::int64_t rest = flat;
    for (std::size_t k = out.size(); k-- > 0;) {
      index[k] = rest % out[k];
      rest /= out[k];
    }
    result[static_cast<std::size_t>(flat)] = f(av[offset(a.shape())], bv[offset(b.shape())]);
  }
  return result;
}

// The reference as the dtype would hold it: bf16 results are compared after rounding the
// double reference to bf16 (nearest-even), as the CPU rounds its f32 result.
std::vector<double> rounded_to(DType dtype, const std::vector<double>& values) {
  return Tensor::from_vector_f64(values, {static_cast<std::int64_t>(values.size())})
      .to(dtype)
      .to_vector_f64();
}

// Per-element relative bound: +, -, *, / and sqrt are correctly rounded (bf16: in f32, then to
// bf16, which agrees with rounding the exact value once), so a result lies within an ulp of the
// reference rounded to its dtype.
double tolerance(DType dtype) {
  return dtype == DType::f64 ? 1e-15 : 1e-6;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - want[i]) <= tol * std::abs(want[i]),
               "element " << i << ": " << got[i] << " vs " << want[i]);
}

// Runs fn, requires a modnorm::Error, and returns its message.
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  BOOST_FAIL("no modnorm::Error thrown");
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broadcast)

BOOST_AUTO_TEST_CASE(bias_and_row_scaling_give_the_textbook_numbers) {
  auto x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  auto y = add(x, Tensor::from_vector({10, 20, 30}, {3}));
  BOOST_TEST((y.shape() == Shape{2, 3}));
  BOOST_TEST((y.to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36}));
  auto r = div(x, Tensor::from_vector({1, 2}, {2, 1}));
  BOOST_TEST((r.to_vector() == std::vector<float>{1, 2, 3, 2, 2.5f, 3}));
  auto s = sub(Tensor::from_vector({1, 2}, {2, 1}), x);  // broadcast on the left
  BOOST_TEST((s.to_vector() == std::vector<float>{0, -1, -2, -2, -3, -4}));
  BOOST_TEST(!s.same_storage(x));
}

BOOST_AUTO_TEST_CASE(binary_ops_match_a_double_reference_for_every_pattern) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::f64, DType::bf16})
    for (const Case& c : kCases)
      for (bool swapped : {false, true}) {
        const Shape& sa = swapped ? c.b : c.a;
        const Shape& sb = swapped ? c.a : c.b;
        auto a = Tensor::randn(sa, gen, dt), b = Tensor::randn(sb, gen, dt);
        for (const Op& op : kOps) {
          BOOST_TEST_CONTEXT(op.name << " " << to_string(dt) << " " << to_string(sa) << " and "
                                     << to_string(sb)) {
            const Tensor y = op.fn(a, b);
            BOOST_TEST(y.dtype() == dt);
            BOOST_TEST(y.device() == Device::cpu);
            BOOST_TEST((y.shape() == c.out), "shape " << to_string(y.shape()));
            auto want = reference(op.ref, a, b, c.out);
            if (dt == DType::bf16) want = rounded_to(dt, want);
            check_close(y.to_vector_f64(), want, tolerance(dt));
          }
        }
      }
}

BOOST_AUTO_TEST_CASE(inputs_are_left_unchanged) {
  MODNORM_FRESH_GENERATOR(gen);
  auto x = Tensor::randn({4, 6}, gen), b = Tensor::randn({6}, gen);
  const auto xv = x.to_vector(), bv = b.to_vector();
  for (const Op& op : kOps) {
    (void)op.fn(x, b);
    (void)op.fn(b, x);
  }
  BOOST_TEST((x.to_vector() == xv));
  BOOST_TEST((b.to_vector() == bv));
}

BOOST_AUTO_TEST_CASE(div_by_zero_gives_inf_and_nan_not_an_error) {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      auto x = Tensor::from_vector({1, -1, 2, 0}, {4}).to(dt);
      // A rank-0 zero divisor, broadcast over x.
      const auto q = div(x, Tensor::zeros({}, dt)).to_vector_f64();
      BOOST_TEST(q[0] == inf);
      BOOST_TEST(q[1] == -inf);
      BOOST_TEST(q[2] == inf);
      BOOST_TEST(std::isnan(q[3]));  // 0 / 0
      // Some zeros in a [2 x 1] divisor: only their rows blow up; -0 flips the sign.
      auto m = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).to(dt);
      const auto r = div(m, Tensor::from_vector({-0.0f, 2}, {2, 1}).to(dt)).to_vector_f64();
      BOOST_TEST((r == std::vector<double>{-inf, -inf, -inf, 2, 2.5, 3}));
      BOOST_TEST(!all_finite(div(m, Tensor::zeros({3}, dt))));
    }
  }
}

BOOST_AUTO_TEST_CASE(sqrt_matches_std_sqrt) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::f64, DType::bf16})
    for (const Shape& shape : std::vector<Shape>{{}, {0}, {1}, {17}, {5, 7}, {2, 3, 4, 5}}) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        auto x = scale(abs(Tensor::randn(shape, gen, dt)), 3.0);
        const Tensor y = modnorm::sqrt(x);
        BOOST_TEST((y.shape() == shape));
        BOOST_TEST(y.dtype() == dt);
        std::vector<double> want;
        for (double v : x.to_vector_f64()) want.push_back(std::sqrt(v));
        if (dt == DType::bf16) want = rounded_to(dt, want);
        check_close(y.to_vector_f64(), want, tolerance(dt));
      }
    }
}

BOOST_AUTO_TEST_CASE(sqrt_is_ieee_at_zero_negative_and_infinity) {
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      const auto y = modnorm::sqrt(Tensor::from_vector({0, 4, -1, INFINITY, 0.25f}, {5}).to(dt))
                         .to_vector_f64();
      BOOST_TEST(y[0] == 0.0);
      BOOST_TEST(y[1] == 2.0);
      BOOST_TEST(std::isnan(y[2]));  // negative -> NaN, no throw
      BOOST_TEST(y[3] == inf);
      BOOST_TEST(y[4] == 0.5);
    }
  }
}

BOOST_AUTO_TEST_CASE(incompatible_shapes_throw_naming_the_op_and_both_shapes) {
  const std::vector<std::pair<Shape, Shape>> bad = {
      {{3, 4}, {5}}, {{2, 3}, {3, 2}}, {{2, 2}, {2, 3}}, {{2, 3, 4, 5}, {2, 5}}, {{0, 3}, {2, 3}}};
  for (const Op& op : kOps)
    for (const auto& [sa, sb] : bad)
      for (bool swapped : {false, true}) {
        const Shape& first = swapped ? sb : sa;
        const Shape& second = swapped ? sa : sb;
        const std::string msg =
            error_of([&] { op.fn(Tensor::zeros(first), Tensor::zeros(second)); });
        const std::string expected = "[" + std::string(op.name) +
                                     "] shapes differ: " + to_string(first) + " and " +
                                     to_string(second) + " do not broadcast";
        BOOST_TEST(msg.find(expected) != std::string::npos,
                   "message '" << msg << "' lacks '" << expected << "'");
      }
  BOOST_TEST(error_of([] {
               add(Tensor::zeros({3, 4}), Tensor::zeros({5}));
             }) == "[add] shapes differ: [3x4] and [5] do not broadcast (4 vs 5 at axis -1)");
  // dtype and device checks still come first, as for equal shapes.
  BOOST_TEST(error_of([] {
               div(Tensor::zeros({3, 4}), Tensor::zeros({4}, DType::f64));
             }).find("[div] dtypes differ") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
