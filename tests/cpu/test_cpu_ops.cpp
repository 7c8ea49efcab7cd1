// Every CPU op against a straightforward float64 reference written here with plain loops, on
// fresh random inputs of many shapes (1xN, Nx1, tall, wide, empty where legal).
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::max_abs_diff;
using modnorm::test::rel_error;

namespace {

const std::vector<Shape> kMatrixShapes = {{1, 1},  {1, 7},  {9, 1},   {5, 3}, {3, 5},
                                          {64, 4}, {4, 64}, {33, 17}, {0, 3}, {3, 0}};

// Row-major double reference of op(a) op(b).
std::vector<double> ref_matmul(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  const auto av = a.to_vector_f64(), bv = b.to_vector_f64();
  const auto m = a.dim(ta ? 1 : 0), k = a.dim(ta ? 0 : 1), n = b.dim(tb ? 0 : 1);
  auto A = [&](std::int64_t i, std::int64_t p) { return ta ? av[p * m + i] : av[i * k + p]; };
  auto B = [&](std::int64_t p, std::int64_t j) { return tb ? bv[j * k + p] : bv[p * n + j]; };
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t p = 0; p < k; ++p) c[i * n + j] += A(i, p) * B(p, j);
  return c;
}

std::vector<double> map_ref(const Tensor& x, const std::function<double(double)>& f) {
  auto v = x.to_vector_f64();
  for (auto& e : v) e = f(e);
  return v;
}

double gelu_ref(double x) {
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cpu_ops)

BOOST_AUTO_TEST_CASE(gemm_matches_float64_reference_for_all_transposes) {
  MODNORM_FRESH_GENERATOR(gen);
  // The last two reach the f32 GEMM provider's blocked kernels (larger than its register tiles).
  const std::vector<std::array<std::int64_t, 3>> sizes = {
      {1, 1, 1},  {1, 9, 1},  {7, 1, 5}, {1, 1, 8},       {13, 7, 21},
      {64, 3, 2}, {2, 3, 64}, {4, 0, 3}, {300, 517, 260}, {1, 700, 1}};
  for (auto [m, k, n] : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (DType dt : {DType::f32, DType::f64}) {
          BOOST_TEST_CONTEXT("m=" << m << " k=" << k << " n=" << n << " ta=" << ta << " tb=" << tb
                                  << " " << to_string(dt)) {
            auto a = Tensor::randn(ta ? Shape{k, m} : Shape{m, k}, gen, dt);
            auto b = Tensor::randn(tb ? Shape{n, k} : Shape{k, n}, gen, dt);
            auto c0 = Tensor::randn({m, n}, gen, dt);
            auto ab = ref_matmul(a, ta, b, tb);
            const double tol = dt == DType::f32 ? 1e-5 : 1e-13;
            auto c = matmul(a, b, ta, tb);
            BOOST_TEST((c.shape() == Shape{m, n}));
            if (m * n > 0) BOOST_TEST(max_abs_diff(c.to_vector_f64(), ab) <= tol * (1 + k));
            // alpha/beta form: c = 0.5 ab - 2 c0
            auto expect = c0.to_vector_f64();
            for (std::size_t i = 0; i < expect.size(); ++i) expect[i] = 0.5 * ab[i] - 2 * expect[i];
            gemm(0.5, a, ta, b, tb, -2.0, c0);
            if (m * n > 0) BOOST_TEST(max_abs_diff(c0.to_vector_f64(), expect) <= tol * (3 + k));
          }
        }
}

BOOST_AUTO_TEST_CASE(gemm_with_zero_beta_ignores_nan_in_output) {
  auto a = Tensor::eye(3);
  auto out = Tensor::full({3, 3}, std::nan(""));
  gemm(1.0, a, false, a, false, 0.0, out);
  BOOST_TEST(all_finite(out));
  BOOST_TEST(max_abs_diff(out.to_vector_f64(), Tensor::eye(3).to_vector_f64()) == 0.0);
}

// Products too small to pay for waking a second thread run on one (cpu/sgemm.cpp limits the
// OpenMP threads for them); the caller's thread count is the same afterwards.
BOOST_AUTO_TEST_CASE(small_products_leave_the_thread_count_as_it_was) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(3);
  Generator gen(5);
  const Tensor a = Tensor::randn({48, 40}, gen), b = Tensor::randn({40, 56}, gen);
  Tensor out = Tensor::zeros({48, 56});
  gemm(1.0, a, false, b, false, 0.0, out);  // small: one thread
  BOOST_TEST(omp_get_max_threads() == 3);
  (void)orthogonalize(Tensor::randn({64, 96}, gen));  // small symmetric products
  BOOST_TEST(omp_get_max_threads() == 3);
  omp_set_num_threads(threads);
}

BOOST_AUTO_TEST_CASE(elementwise_ops_match_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& shape :
       std::vector<Shape>{{}, {0}, {1}, {17}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}}) {
    BOOST_TEST_CONTEXT("shape " << to_string(shape)) {
      auto a = Tensor::randn(shape, gen), b = Tensor::randn(shape, gen);
      const auto av = a.to_vector_f64(), bv = b.to_vector_f64();
      std::vector<double> s(av.size()), d(av.size()), p(av.size()), ax(av.size()), sc(av.size());
      for (std::size_t i = 0; i < av.size(); ++i) {
        s[i] = av[i] + bv[i];
        d[i] = av[i] - bv[i];
        p[i] = av[i] * bv[i];
        sc[i] = -1.5 * av[i];
        ax[i] = 0.25 * av[i] + 0.75 * bv[i];
      }
      BOOST_TEST(max_abs_diff(add(a, b).to_vector_f64(), s) <= 1e-6);
      BOOST_TEST(max_abs_diff(sub(a, b).to_vector_f64(), d) <= 1e-6);
      BOOST_TEST(max_abs_diff(mul(a, b).to_vector_f64(), p) <= 1e-5);
      BOOST_TEST(max_abs_diff(scale(a, -1.5).to_vector_f64(), sc) <= 1e-6);
      Tensor y = b.clone();
      axpy(0.25, a, y, 0.75);
      BOOST_TEST(max_abs_diff(y.to_vector_f64(), ax) <= 1e-6);
      BOOST_TEST(max_abs_diff(b.to_vector_f64(), bv) == 0.0);  // clone did not alias
      double ref_dot = 0;
      for (std::size_t i = 0; i < av.size(); ++i) ref_dot += av[i] * bv[i];
      BOOST_TEST(std::abs(dot(a, b) - ref_dot) <= 1e-9 * (1 + av.size()));
    }
  }
}

BOOST_AUTO_TEST_CASE(activations_and_their_derivatives_match_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::f64}) {
    auto x = Tensor::randn({7, 9}, gen, dt);
    auto dy = Tensor::randn({7, 9}, gen, dt);
    const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
    BOOST_TEST(max_abs_diff(relu(x).to_vector_f64(),
                            map_ref(x, [](double v) { return v > 0 ? v : 0; })) <= tol);
    BOOST_TEST(max_abs_diff(gelu(x).to_vector_f64(), map_ref(x, gelu_ref)) <= tol);
    BOOST_TEST(max_abs_diff(abs(x).to_vector_f64(),
                            map_ref(x, [](double v) { return std::abs(v); })) <= tol);
    BOOST_TEST(max_abs_diff(sign(x).to_vector_f64(),
                            map_ref(x, [](double v) { return double((v > 0) - (v < 0)); })) == 0.0);
    // Derivatives against central finite differences of the float64 reference.
    const auto xv = x.to_vector_f64(), dyv = dy.to_vector_f64();
    auto fd = [&](const std::function<double(double)>& f) {
      std::vector<double> out(xv.size());
      const double h = 1e-6;
      for (std::size_t i = 0; i < xv.size(); ++i)
        out[i] = dyv[i] * (f(xv[i] + h) - f(xv[i] - h)) / (2 * h);
      return out;
    };
    const double fd_tol = dt == DType::f32 ? 1e-5 : 1e-7;
    BOOST_TEST(max_abs_diff(gelu_backward(x, dy).to_vector_f64(), fd(gelu_ref)) <= fd_tol);
    BOOST_TEST(max_abs_diff(relu_backward(x, dy).to_vector_f64(),
                            fd([](double v) { return v > 0 ? v : 0; })) <= fd_tol);
    BOOST_TEST(max_abs_diff(abs_backward(x, dy).to_vector_f64(),
                            fd([](double v) { return std::abs(v); })) <= fd_tol);
  }
  // At zero: sign 0, relu' 0, |.|' 0 (documented subgradients).
  auto z = Tensor::zeros({3});
  auto one = Tensor::full({3}, 1.0);
  BOOST_TEST(max_abs(sign(z)) == 0.0);
  BOOST_TEST(max_abs(relu_backward(z, one)) == 0.0);
  BOOST_TEST(max_abs(abs_backward(z, one)) == 0.0);
  BOOST_TEST(std::abs(gelu_backward(z, one).to_vector()[0] - 0.5) < 1e-7);
}

BOOST_AUTO_TEST_CASE(all_finite_detects_nan_and_inf) {
  auto x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  BOOST_TEST(all_finite(x));
  x.data<float>()[3] = std::nanf("");
  BOOST_TEST(!all_finite(x));
  x.data<float>()[3] = -INFINITY;
  BOOST_TEST(!all_finite(x));
  BOOST_TEST(all_finite(Tensor::zeros({0})));
}

// The fused check of a list: false as soon as any tensor (of any float dtype) holds a NaN or an
// Inf, wherever it is in the list and in the tensor; true for an empty list.
BOOST_AUTO_TEST_CASE(all_finite_of_a_list_finds_any_bad_entry) {
  MODNORM_FRESH_GENERATOR(gen);
  BOOST_TEST(all_finite(std::vector<Tensor>{}));
  std::vector<Tensor> list;
  for (const DType dt : {DType::f32, DType::bf16, DType::f64})
    list.push_back(Tensor::randn({37, 5}, gen, dt));
  list.push_back(Tensor::zeros({0}));
  BOOST_TEST(all_finite(list));
  for (std::size_t t = 0; t < 3; ++t)
    for (const double bad : {double(std::nanf("")), double(INFINITY), double(-INFINITY)})
      for (const std::int64_t k : {std::int64_t{0}, std::int64_t{92}, std::int64_t{184}}) {
        BOOST_TEST_INFO("tensor " << t << ", entry " << k << ", " << bad);
        std::vector<double> v = list[t].to_vector_f64();
        v[static_cast<std::size_t>(k)] = bad;
        std::vector<Tensor> spoiled = list;
        spoiled[t] = Tensor::from_vector_f64(v, list[t].shape()).to(list[t].dtype());
        BOOST_TEST(!all_finite(spoiled));
        BOOST_TEST(all_finite(list));  // the list itself was not touched
      }
  modnorm::test::expect_error(
      [&] {
        all_finite({list[0], Tensor::zeros({2}, DType::i32)});
      },
      {"[all_finite]", "i32"});
}

BOOST_AUTO_TEST_CASE(reductions_match_reference_along_every_axis) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& shape : std::vector<Shape>{
           {5}, {1, 6}, {6, 1}, {4, 7}, {2, 3, 4}, {3, 1, 2, 5}, {3, 37}, {2, 2, 100}}) {
    auto x = Tensor::randn(shape, gen);
    const auto xv = x.to_vector_f64();
    for (int axis = -static_cast<int>(shape.size()); axis < static_cast<int>(shape.size());
         ++axis) {
      BOOST_TEST_CONTEXT("shape " << to_string(shape) << " axis " << axis) {
        const int a = axis < 0 ? axis + static_cast<int>(shape.size()) : axis;
        std::int64_t outer = 1, inner = 1;
        for (int d = 0; d < a; ++d) outer *= shape[d];
        for (std::size_t d = a + 1; d < shape.size(); ++d) inner *= shape[d];
        const auto n = shape[a];
        std::vector<double> rs, rm, rx;
        for (std::int64_t o = 0; o < outer; ++o)
          for (std::int64_t i = 0; i < inner; ++i) {
            double s = 0, mx = -INFINITY;
            for (std::int64_t k = 0; k < n; ++k) {
              const double v = xv[(o * n + k) * inner + i];
              s += v;
              mx = std::max(mx, v);
            }
            rs.push_back(s);
            rm.push_back(s / n);
            rx.push_back(mx);
          }
        Shape expect = shape;
        expect.erase(expect.begin() + a);
        BOOST_TEST((sum(x, axis).shape() == expect));
        BOOST_TEST(max_abs_diff(sum(x, axis).to_vector_f64(), rs) <= 1e-5);
        BOOST_TEST(max_abs_diff(mean(x, axis).to_vector_f64(), rm) <= 1e-6);
        BOOST_TEST(max_abs_diff(max(x, axis).to_vector_f64(), rx) == 0.0);
      }
    }
    double s = 0, mx = -INFINITY, ma = 0, sq = 0;
    for (double v : xv) s += v, mx = std::max(mx, v), ma = std::max(ma, std::abs(v)), sq += v * v;
    BOOST_TEST(std::abs(sum(x) - s) <= 1e-5);
    BOOST_TEST(std::abs(mean(x) - s / xv.size()) <= 1e-6);
    BOOST_TEST(max(x) == mx);
    BOOST_TEST(max_abs(x) == ma);
    BOOST_TEST(std::abs(frobenius_norm(x) - std::sqrt(sq)) <= 1e-6 * std::sqrt(sq));
  }
  BOOST_TEST(sum(Tensor::zeros({0})) == 0.0);
  BOOST_TEST(max_abs(Tensor::zeros({0})) == 0.0);
  BOOST_TEST(std::isnan(max(Tensor::from_vector({1.0f, std::nanf(""), 3.0f}, {3}))));
  // Rows long enough for the partial accumulations along the last axis: NaN wins anywhere.
  for (std::size_t pos : {0, 5, 8, 20, 36}) {
    std::vector<float> row(37, -1.0f);
    row[pos] = std::nanf("");
    BOOST_TEST(std::isnan(max(Tensor::from_vector(row, {1, 37}), 1).to_vector()[0]));
    BOOST_TEST(std::isnan(max_abs(Tensor::from_vector(row, {37}))));
  }
  BOOST_TEST(max(Tensor::full({2, 20}, -INFINITY), 1).to_vector()[1] == -INFINITY);
}

BOOST_AUTO_TEST_CASE(row_and_column_norms_match_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& shape : kMatrixShapes) {
    BOOST_TEST_CONTEXT("shape " << to_string(shape)) {
      auto x = Tensor::randn(shape, gen);
      const auto v = x.to_vector_f64();
      const auto r = shape[0], c = shape[1];
      std::vector<double> rn(r, 0.0), cn(c, 0.0);
      for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < c; ++j)
          rn[i] += v[i * c + j] * v[i * c + j], cn[j] += v[i * c + j] * v[i * c + j];
      for (auto& e : rn) e = std::sqrt(e);
      for (auto& e : cn) e = std::sqrt(e);
      BOOST_TEST(max_abs_diff(row_norms(x).to_vector_f64(), rn) <= 1e-5);
      BOOST_TEST(max_abs_diff(col_norms(x).to_vector_f64(), cn) <= 1e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(transpose_gather_and_scatter_match_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& shape : kMatrixShapes) {
    BOOST_TEST_CONTEXT("shape " << to_string(shape)) {
      auto x = Tensor::randn(shape, gen);
      const auto v = x.to_vector_f64();
      const auto r = shape[0], c = shape[1];
      auto t = transpose(x);
      BOOST_TEST((t.shape() == Shape{c, r}));
      const auto tv = t.to_vector_f64();
      for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t j = 0; j < c; ++j) BOOST_TEST(tv[j * r + i] == v[i * c + j]);
      if (r == 0 || c == 0) continue;
      // Random ids with repeats.
      std::vector<std::int32_t> row_ids, col_ids;
      for (int k = 0; k < 6; ++k) {
        row_ids.push_back(static_cast<std::int32_t>(gen.below(r)));
        col_ids.push_back(static_cast<std::int32_t>(gen.below(c)));
      }
      const Tensor rows_i32 = Tensor::from_vector_i32(row_ids, {6});
      const Tensor cols_i32 = Tensor::from_vector_i32(col_ids, {2, 3});  // any shape of 6 ids
      auto gr = gather_rows(x, rows_i32).to_vector_f64();
      auto gc = gather_cols(x, cols_i32).to_vector_f64();
      for (int k = 0; k < 6; ++k) {
        for (std::int64_t j = 0; j < c; ++j) BOOST_TEST(gr[k * c + j] == v[row_ids[k] * c + j]);
        for (std::int64_t i = 0; i < r; ++i) BOOST_TEST(gc[i * 6 + k] == v[i * c + col_ids[k]]);
      }
      auto src_r = Tensor::randn({6, c}, gen), src_c = Tensor::randn({r, 6}, gen);
      auto dst_r = x.clone(), dst_c = x.clone();
      scatter_add_rows(dst_r, rows_i32, src_r);
      scatter_add_cols(dst_c, cols_i32, src_c);
      auto er = v, ec = v;
      const auto sr = src_r.to_vector_f64(), sc = src_c.to_vector_f64();
      for (int k = 0; k < 6; ++k) {
        for (std::int64_t j = 0; j < c; ++j) er[row_ids[k] * c + j] += sr[k * c + j];
        for (std::int64_t i = 0; i < r; ++i) ec[i * c + col_ids[k]] += sc[i * 6 + k];
      }
      BOOST_TEST(max_abs_diff(dst_r.to_vector_f64(), er) <= 1e-5);
      BOOST_TEST(max_abs_diff(dst_c.to_vector_f64(), ec) <= 1e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_matches_reference_and_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  for (auto [batch, classes] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {1, 10}, {8, 3}, {5, 10}}) {
    BOOST_TEST_CONTEXT("batch " << batch << " classes " << classes) {
      auto logits = scale(Tensor::randn({batch, classes}, gen, DType::f64), 3.0);
      std::vector<std::int32_t> labels;
      for (std::int64_t b = 0; b < batch; ++b)
        labels.push_back(static_cast<std::int32_t>(gen.below(classes)));
      const Tensor labels_i32 = Tensor::from_vector_i32(labels, {batch});
      auto loss_of = [&](const std::vector<double>& z) {
        double total = 0;
        for (std::int64_t b = 0; b < batch; ++b) {
          double denom = 0;
          for (std::int64_t c = 0; c < classes; ++c) denom += std::exp(z[b * classes + c]);
          total += std::log(denom) - z[b * classes + labels[b]];
        }
        return total / batch;
      };
      const auto z = logits.to_vector_f64();
      auto ce = softmax_cross_entropy(logits, labels_i32);
      BOOST_TEST(std::abs(ce.loss - loss_of(z)) <= 1e-12);
      std::vector<double> fd(z.size());
      for (std::size_t i = 0; i < z.size(); ++i) {
        auto zp = z, zm = z;
        zp[i] += 1e-6;
        zm[i] -= 1e-6;
        fd[i] = (loss_of(zp) - loss_of(zm)) / 2e-6;
      }
      BOOST_TEST(max_abs_diff(ce.grad.to_vector_f64(), fd) <= 1e-8);
      // f32 agrees with f64 to float rounding.
      auto ce32 = softmax_cross_entropy(logits.to(DType::f32), labels_i32);
      BOOST_TEST(std::abs(ce32.loss - ce.loss) <= 1e-5 * (1 + ce.loss));
    }
  }
  // Huge logits stay finite (max-shifted).
  auto big = Tensor::from_vector({1000.0f, -1000.0f, 0.0f}, {1, 3});
  auto ce = softmax_cross_entropy(big, Tensor::from_vector_i32({1}, {1}));
  BOOST_TEST(std::abs(ce.loss - 2000.0) < 1e-3);
  BOOST_TEST(all_finite(ce.grad));
}

BOOST_AUTO_TEST_SUITE_END()
