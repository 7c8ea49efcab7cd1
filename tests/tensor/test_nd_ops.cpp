// The operations a transformer needs beyond the matrix ones: exp and log, softmax along the last
// axis (with -Inf entries from a causal mask), tril, permute and batched products, each against
// a float64 reference written here with plain loops, and the backward maps against central
// finite differences in float64.
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::batched;
using modnorm::test::max_abs_diff;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// What a bf16 result may be off by relative to the exact value of its (already bf16) inputs:
// one rounding of the f32 result (2^-9) plus f32 arithmetic.
double tolerance(DType dt) {
  return dt == DType::f32 ? 1e-6 : dt == DType::bf16 ? 4e-3 : 1e-14;
}

// max_i |a_i - b_i| / max(1, |b_i|), treating equal infinities as equal.
double scaled_error(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  }
  return worst;
}

// Softmax of each row of length n of a flat row-major array, in double, max-subtracted; a row of
// -Inf only gives zeros (the documented convention).
std::vector<double> ref_softmax(const std::vector<double>& x, std::int64_t n) {
  std::vector<double> y(x.size());
  for (std::size_t r = 0; n > 0 && r < x.size() / static_cast<std::size_t>(n); ++r) {
    const double* xr = x.data() + r * n;
    double* yr = y.data() + r * n;
    double m = -kInf;
    for (std::int64_t j = 0; j < n; ++j) m = std::max(m, xr[j]);
    if (m == -kInf) continue;
    double total = 0;
    for (std::int64_t j = 0; j < n; ++j) total += std::exp(xr[j] - m);
    for (std::int64_t j = 0; j < n; ++j) yr[j] = std::exp(xr[j] - m) / total;
  }
  return y;
}

// Central differences of L(x) = sum_i dy_i f(x)_i in every coordinate of x.
std::vector<double> finite_difference_vjp(
    const std::function<std::vector<double>(const std::vector<double>&)>& f, std::vector<double> x,
    const std::vector<double>& dy, double h = 1e-6) {
  std::vector<double> grad(x.size());
  auto loss = [&](const std::vector<double>& at) {
    const auto y = f(at);
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += dy[i] * y[i];
    return l;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double up = loss(x);
    x[i] = x0 - h;
    const double down = loss(x);
    x[i] = x0;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

// Row-major double reference of op(a) op(b) for each matrix of two batches [..., M, K] x
// [..., K, N] (or two matrices).
std::vector<double> ref_batched_matmul(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  const auto av = a.to_vector_f64(), bv = b.to_vector_f64();
  const std::int64_t ar = a.dim(-2), ac = a.dim(-1), br = b.dim(-2), bc = b.dim(-1);
  const std::int64_t m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  std::int64_t batch = 1;
  for (int i = 0; i + 2 < a.rank(); ++i) batch *= a.dim(i);
  std::vector<double> c(static_cast<std::size_t>(batch * m * n), 0.0);
  for (std::int64_t q = 0; q < batch; ++q) {
    const double* A = av.data() + q * ar * ac;
    const double* B = bv.data() + q * br * bc;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t p = 0; p < k; ++p)
          c[(q * m + i) * n + j] +=
              (ta ? A[p * ac + i] : A[i * ac + p]) * (tb ? B[j * bc + p] : B[p * bc + j]);
  }
  return c;
}

// Row-major double reference of NumPy's transpose(x, axes), with explicit index loops.
std::vector<double> ref_permute(const Tensor& x, const std::vector<int>& axes) {
  const auto xv = x.to_vector_f64();
  Shape padded = x.shape();
  while (padded.size() < 4) padded.insert(padded.begin(), 1);
  const int pad = 4 - x.rank();
  std::vector<int> full = {0, 1, 2, 3};
  for (int i = 0; i < x.rank(); ++i)
    full[pad + i] = pad + (axes[i] < 0 ? axes[i] + x.rank() : axes[i]);
  std::vector<double> out;
  std::int64_t idx[4];
  std::int64_t out_dims[4];
  for (int i = 0; i < 4; ++i) out_dims[i] = padded[full[i]];
  for (idx[0] = 0; idx[0] < out_dims[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < out_dims[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < out_dims[2]; ++idx[2])
        for (idx[3] = 0; idx[3] < out_dims[3]; ++idx[3]) {
          std::int64_t src[4];
          for (int i = 0; i < 4; ++i) src[full[i]] = idx[i];
          out.push_back(
              xv[((src[0] * padded[1] + src[1]) * padded[2] + src[2]) * padded[3] + src[3]]);
        }
  return out;
}

const std::vector<Shape> kAnyRank = {{}, {0}, {1}, {17}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}};

}  // namespace

BOOST_AUTO_TEST_SUITE(nd_ops)

BOOST_AUTO_TEST_CASE(exp_and_log_match_std_in_every_dtype) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& shape : kAnyRank) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        const auto x = Tensor::randn(shape, gen, dt);
        const auto positive = add(abs(x), Tensor::full({}, 0.125, dt));
        std::vector<double> e = x.to_vector_f64(), l = positive.to_vector_f64();
        for (auto& v : e) v = std::exp(v);
        for (auto& v : l) v = std::log(v);
        const auto ex = exp(x), lx = log(positive);
        BOOST_TEST((ex.shape() == shape && ex.dtype() == dt && lx.shape() == shape));
        BOOST_TEST(scaled_error(ex.to_vector_f64(), e) <= tolerance(dt) * 8);
        BOOST_TEST(scaled_error(lx.to_vector_f64(), l) <= tolerance(dt));
      }
    }
}

BOOST_AUTO_TEST_CASE(log_and_exp_follow_ieee_at_zero_negatives_and_infinities) {
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      const auto x = Tensor::from_vector_f64({0.0, -1.0, kInf, 1.0, -kInf}, {5}).to(dt);
      const auto l = log(x).to_vector_f64();
      BOOST_TEST(l[0] == -kInf);
      BOOST_TEST(std::isnan(l[1]));
      BOOST_TEST(l[2] == kInf);
      BOOST_TEST(l[3] == 0.0);
      BOOST_TEST(std::isnan(l[4]));
      const auto e = exp(x).to_vector_f64();
      BOOST_TEST(e[0] == 1.0);
      BOOST_TEST(e[2] == kInf);
      BOOST_TEST(e[4] == 0.0);
      BOOST_TEST(exp(Tensor::full({1}, 1000.0, dt)).item() == kInf);  // overflow, no error
    }
  }
}

BOOST_AUTO_TEST_CASE(exp_and_log_backward_match_central_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const auto x = Tensor::randn({3, 4, 5}, gen, DType::f64);
  const auto positive = add(abs(x), Tensor::full({}, 0.5, DType::f64));
  const auto dy = Tensor::randn({3, 4, 5}, gen, DType::f64);
  auto elementwise = [](double (*f)(double)) {
    return [f](const std::vector<double>& v) {
      std::vector<double> out(v);
      for (auto& e : out) e = f(e);
      return out;
    };
  };
  const auto fd_exp = finite_difference_vjp(elementwise([](double v) { return std::exp(v); }),
                                            x.to_vector_f64(), dy.to_vector_f64());
  const auto fd_log = finite_difference_vjp(elementwise([](double v) { return std::log(v); }),
                                            positive.to_vector_f64(), dy.to_vector_f64());
  BOOST_TEST(scaled_error(exp_backward(x, dy).to_vector_f64(), fd_exp) <= 1e-7);
  BOOST_TEST(scaled_error(log_backward(positive, dy).to_vector_f64(), fd_log) <= 1e-7);
  // The narrower dtypes compute the same formula (dy e^x, dy / x) in f32.
  for (DType dt : {DType::f32, DType::bf16}) {
    const auto xd = x.to(dt), pd = positive.to(dt), dyd = dy.to(dt);
    auto e = xd.to_vector_f64(), l = pd.to_vector_f64();
    const auto dv = dyd.to_vector_f64();
    for (std::size_t i = 0; i < e.size(); ++i) {
      e[i] = dv[i] * std::exp(e[i]);
      l[i] = dv[i] / l[i];
    }
    BOOST_TEST(scaled_error(exp_backward(xd, dyd).to_vector_f64(), e) <= tolerance(dt) * 8);
    BOOST_TEST(scaled_error(log_backward(pd, dyd).to_vector_f64(), l) <= tolerance(dt) * 4);
  }
}

BOOST_AUTO_TEST_CASE(softmax_matches_reference_on_every_rank) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<Shape> shapes = {{1},       {6},       {1, 1},       {3, 7},
                                     {2, 3, 4}, {1, 5, 1}, {2, 2, 3, 5}, {1, 1, 1, 9},
                                     {4, 0},    {0, 3},    {2, 0, 4}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& shape : shapes) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        // Scaled so that rows have dominant entries, shifted so that exp(x) alone would overflow.
        const auto x = add(scale(Tensor::randn(shape, gen, dt), 4.0), Tensor::full({}, 500.0, dt));
        const auto y = softmax(x);
        BOOST_TEST((y.shape() == shape && y.dtype() == dt));
        const auto ref = ref_softmax(x.to_vector_f64(), shape.back());
        BOOST_TEST(max_abs_diff(y.to_vector_f64(), ref) <= tolerance(dt));
        if (x.numel() > 0) {
          const auto rows = sum(y.to(DType::f64), -1).to_vector_f64();
          for (double r : rows) BOOST_TEST(std::abs(r - 1.0) <= tolerance(dt) * shape.back());
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(softmax_gives_masked_entries_zero_and_a_fully_masked_row_zeros) {
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      const auto x = Tensor::from_vector_f64({0.0, -kInf, 0.0, -kInf,       // two live entries
                                              -kInf, -kInf, -kInf, -kInf,   // nothing left
                                              1.0, 2.0, std::nan(""), 0.0,  // a NaN
                                              3.0, kInf, 0.0, 0.0},         // +Inf
                                             {4, 4})
                         .to(dt);
      const auto y = softmax(x).to_vector_f64();
      const std::vector<double> masked = {0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0};
      BOOST_TEST(max_abs_diff(std::vector<double>(y.begin(), y.begin() + 8), masked) == 0.0);
      for (int j = 8; j < 16; ++j) BOOST_TEST(std::isnan(y[j]), "entry " << j << " is " << y[j]);
      // The fully masked row has a zero gradient; the others keep theirs on live entries only.
      const auto dy = Tensor::full({4, 4}, 1.0, dt);
      const auto dx = softmax_backward(softmax(x), dy).to_vector_f64();
      for (int j = 0; j < 8; ++j) BOOST_TEST(dx[j] == 0.0);  // softmax is shift-invariant
    }
  }
}

BOOST_AUTO_TEST_CASE(softmax_backward_matches_central_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Shape& shape :
       std::vector<Shape>{{7}, {3, 5}, {2, 3, 4}, {2, 2, 3, 3}, {2, 1, 1, 1}}) {
    BOOST_TEST_CONTEXT(to_string(shape)) {
      const std::int64_t n = shape.back();
      // Scores under a causal mask where there are two axes to mask: masked entries stay -Inf.
      auto x = Tensor::randn(shape, gen, DType::f64);
      if (shape.size() >= 2) x = tril(x, -kInf);
      const auto dy = Tensor::randn(shape, gen, DType::f64);
      const auto y = softmax(x);
      const auto dx = softmax_backward(y, dy).to_vector_f64();
      const auto xv = x.to_vector_f64();
      const auto fd = finite_difference_vjp(
          [n](const std::vector<double>& v) { return ref_softmax(v, n); }, xv, dy.to_vector_f64());
      for (std::size_t i = 0; i < xv.size(); ++i)
        if (xv[i] == -kInf) BOOST_TEST(dx[i] == 0.0);
      std::vector<double> live_dx, live_fd;
      for (std::size_t i = 0; i < xv.size(); ++i)
        if (xv[i] != -kInf) {
          live_dx.push_back(dx[i]);
          live_fd.push_back(fd[i]);
        }
      BOOST_TEST(max_abs_diff(live_dx, live_fd) <= 1e-8);
      // f32 and bf16 compute y * (dy - <dy, y>) from their own y and dy.
      for (DType dt : {DType::f32, DType::bf16}) {
        const auto yd = y.to(dt), dyd = dy.to(dt);
        const auto yv = yd.to_vector_f64(), dv = dyd.to_vector_f64();
        std::vector<double> ref(yv.size());
        for (std::size_t r = 0; r < yv.size() / n; ++r) {
          double inner = 0;
          for (std::int64_t j = 0; j < n; ++j) inner += yv[r * n + j] * dv[r * n + j];
          for (std::int64_t j = 0; j < n; ++j)
            ref[r * n + j] = yv[r * n + j] * (dv[r * n + j] - inner);
        }
        BOOST_TEST(max_abs_diff(softmax_backward(yd, dyd).to_vector_f64(), ref) <=
                   tolerance(dt) * 8);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(tril_keeps_the_lower_triangle_and_fills_the_rest) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<Shape> shapes = {{1, 1},       {3, 3},       {3, 5},       {5, 3}, {2, 4, 4},
                                     {2, 3, 4, 4}, {2, 1, 1, 1}, {1, 1, 2, 6}, {0, 3}, {2, 0, 3}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& shape : shapes)
      for (double fill : {-kInf, 0.0, 2.5}) {
        BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape) << " fill " << fill) {
          const auto x = Tensor::randn(shape, gen, dt);
          const auto y = tril(x, fill);
          BOOST_TEST((y.shape() == shape && y.dtype() == dt && !y.same_storage(x)));
          auto ref = x.to_vector_f64();
          const std::int64_t t = shape[shape.size() - 2], s = shape.back();
          for (std::size_t idx = 0; idx < ref.size(); ++idx) {
            const std::int64_t j = static_cast<std::int64_t>(idx) % s;
            const std::int64_t i = (static_cast<std::int64_t>(idx) / s) % t;
            if (j > i) ref[idx] = fill;
          }
          BOOST_TEST((y.to_vector_f64() == ref));
        }
      }
}

BOOST_AUTO_TEST_CASE(causal_attention_weights_put_no_mass_on_the_future) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::int64_t T = 6;
  const auto p = softmax(tril(Tensor::randn({2, 3, T, T}, gen), -kInf)).to_vector_f64();
  for (std::int64_t m = 0; m < 6; ++m)
    for (std::int64_t i = 0; i < T; ++i) {
      double row = 0;
      for (std::int64_t j = 0; j < T; ++j) {
        const double v = p[(m * T + i) * T + j];
        if (j > i) BOOST_TEST(v == 0.0);
        row += v;
      }
      BOOST_TEST(std::abs(row - 1.0) <= 1e-6);
    }
  // First row: the only visible position gets everything.
  BOOST_TEST(p[0] == 1.0);
}

BOOST_AUTO_TEST_CASE(batched_matmul_and_gemm_match_reference_for_all_transposes) {
  MODNORM_FRESH_GENERATOR(gen);
  // Batch shape, then M, K, N.
  const std::vector<std::pair<Shape, std::array<std::int64_t, 3>>> cases = {
      {{1}, {3, 4, 5}},    {{3}, {1, 1, 1}},    {{2}, {1, 7, 3}},    {{4}, {5, 2, 1}},
      {{2, 3}, {4, 8, 4}}, {{1, 1}, {6, 3, 2}}, {{2, 2}, {1, 5, 1}}, {{3}, {4, 0, 2}},
      {{0}, {2, 3, 4}},    {{2, 0}, {2, 3, 4}}, {{2}, {0, 3, 4}}};
  for (const auto& [batch, mkn] : cases) {
    const auto [m, k, n] = mkn;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
          BOOST_TEST_CONTEXT(to_string(batch) << " m=" << m << " k=" << k << " n=" << n << " ta="
                                              << ta << " tb=" << tb << " " << to_string(dt)) {
            auto with = [&](std::int64_t r, std::int64_t c) { return batched(batch, r, c); };
            const auto a = Tensor::randn(ta ? with(k, m) : with(m, k), gen, dt);
            const auto b = Tensor::randn(tb ? with(n, k) : with(k, n), gen, dt);
            const auto ref = ref_batched_matmul(a, ta, b, tb);
            const auto c = matmul(a, b, ta, tb);
            BOOST_TEST((c.shape() == with(m, n) && c.dtype() == dt));
            const double tol = (dt == DType::bf16 ? 1e-2 : tolerance(dt)) * (1 + k);
            BOOST_TEST(scaled_error(c.to_vector_f64(), ref) <= tol);
            // alpha/beta form: out = 0.5 op(a) op(b) - 2 out
            auto out = Tensor::randn(with(m, n), gen, dt);
            auto expect = out.to_vector_f64();
            for (std::size_t i = 0; i < expect.size(); ++i)
              expect[i] = 0.5 * ref[i] - 2 * expect[i];
            gemm(0.5, a, ta, b, tb, -2.0, out);
            BOOST_TEST(scaled_error(out.to_vector_f64(), expect) <= 3 * tol);
          }
        }
  }
}

BOOST_AUTO_TEST_CASE(batched_matmul_is_the_matmul_of_each_matrix) {
  MODNORM_FRESH_GENERATOR(gen);
  const auto q = Tensor::randn({2, 3, 5, 4}, gen), k = Tensor::randn({2, 3, 5, 4}, gen);
  const auto scores = matmul(q, k, false, true).to_vector_f64();  // [2, 3, 5, 5]
  const auto qv = q.to_vector_f64(), kv = k.to_vector_f64();
  for (std::int64_t h = 0; h < 6; ++h) {
    const auto qh =
        Tensor::from_vector_f64({qv.begin() + h * 20, qv.begin() + (h + 1) * 20}, {5, 4});
    const auto kh =
        Tensor::from_vector_f64({kv.begin() + h * 20, kv.begin() + (h + 1) * 20}, {5, 4});
    const auto one = matmul(qh, kh, false, true).to_vector_f64();
    const std::vector<double> part(scores.begin() + h * 25, scores.begin() + (h + 1) * 25);
    BOOST_TEST(max_abs_diff(part, one) <= 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(gemm_with_zero_beta_ignores_nan_in_a_batched_output) {
  const auto a = add(Tensor::zeros({3, 2, 2}), Tensor::eye(2));
  auto out = Tensor::full({3, 2, 2}, std::nan(""));
  gemm(1.0, a, false, a, true, 0.0, out);
  BOOST_TEST(all_finite(out));
  BOOST_TEST((out.to_vector_f64() == a.to_vector_f64()));
}

BOOST_AUTO_TEST_CASE(permute_matches_numpy_transpose_on_every_rank) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{}, {}},
      {{5}, {0}},
      {{3, 4}, {1, 0}},
      {{3, 4}, {0, 1}},
      {{1, 6}, {-1, -2}},
      {{2, 3, 4}, {0, 2, 1}},
      {{2, 3, 4}, {2, 0, 1}},
      {{2, 3, 4}, {1, 2, 0}},
      {{2, 3, 4, 5}, {0, 2, 1, 3}},  // [B, T, H, d] -> [B, H, T, d]
      {{2, 3, 4, 5}, {3, 2, 1, 0}},
      {{2, 3, 4, 5}, {1, 3, 0, 2}},
      {{1, 1, 7, 1}, {3, 2, 1, 0}},
      {{2, 0, 3, 1}, {2, 1, 3, 0}}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& [shape, axes] : cases) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape) << " axes " << axes.size()) {
        const auto x = Tensor::randn(shape, gen, dt);
        const auto y = permute(x, axes);
        Shape expected(axes.size());
        for (std::size_t i = 0; i < axes.size(); ++i) expected[i] = x.dim(axes[i]);
        BOOST_TEST((y.shape() == expected && y.dtype() == dt && !y.same_storage(x)));
        BOOST_TEST((y.to_vector_f64() == ref_permute(x, axes)));  // bits copied, exact
      }
    }
  // The inverse permutation gives x back; [B, H, T, d] <-> [B, T, H, d] is its own inverse.
  const auto x = Tensor::randn({2, 3, 4, 5}, gen);
  BOOST_TEST(
      (permute(permute(x, {1, 3, 0, 2}), {2, 0, 3, 1}).to_vector_f64() == x.to_vector_f64()));
}

BOOST_AUTO_TEST_CASE(reshape_handles_rank_4_views) {
  MODNORM_FRESH_GENERATOR(gen);
  const auto x = Tensor::randn({2, 6, 8}, gen);
  const auto heads = x.reshape({2, 6, 2, 4});
  BOOST_TEST((heads.shape() == Shape{2, 6, 2, 4}));
  BOOST_TEST(heads.same_storage(x));
  BOOST_TEST((heads.reshape({12, 8}).to_vector_f64() == x.to_vector_f64()));
}

BOOST_AUTO_TEST_SUITE_END()
