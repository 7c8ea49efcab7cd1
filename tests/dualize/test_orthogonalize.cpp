// orthogonalize(): the Newton-Schulz family against the SVD (bands, exact scalar maps), the
// exact SVD reference against Eigen's JacobiSVD, shapes and dtypes, and bad options.
#include <omp.h>

#include <boost/test/unit_test.hpp>

#include "dualize/dualize_support.hpp"

namespace mt = modnorm::test;
using modnorm::DType;
using modnorm::OrthogonalizeMethod;
using modnorm::OrthogonalizeOptions;
using modnorm::Tensor;

namespace {

// The scalar map f = p_T o ... o p_1 of a method, applied to x = sigma / ||G||_F.
double scalar_map(OrthogonalizeMethod method, double x) {
  const auto schedule = modnorm::orthogonalize_schedule(method);
  const int steps = method == OrthogonalizeMethod::modula  ? 6
                    : method == OrthogonalizeMethod::cubic ? 15
                                                           : 5;
  if (method == OrthogonalizeMethod::polar_express) x /= 1.01;
  for (int k = 0; k < steps; ++k) {
    const auto& c = schedule[std::min<std::size_t>(k, schedule.size() - 1)];
    x = x * (c.a + x * x * (c.b + c.c * x * x));
  }
  return x;
}

// Runs orthogonalize on s (in `dtype`) and checks the documented band: the projections
// u_i^T Y v_i (= f(x_i) in exact arithmetic) for x_i >= threshold, and every singular value of Y.
void check_band(const mt::Spectral& s, const OrthogonalizeOptions& options, bool transpose,
                DType dtype = DType::f32) {
  mt::MatD g = s.matrix();
  if (transpose) g.transposeInPlace();
  mt::MatD y = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g, dtype), options));
  if (transpose) y.transposeInPlace();
  const mt::Band band = mt::documented_band(options.method, options.compute_dtype);
  const double frobenius = s.s.norm();
  for (Eigen::Index i = 0; i < s.s.size(); ++i) {
    if (s.s(i) / frobenius < mt::kBandThreshold) continue;
    const double f = s.u.col(i).dot(y * s.v.col(i));
    BOOST_TEST_INFO("method " << to_string(options.method) << " compute "
                              << to_string(options.compute_dtype) << " x = " << s.s(i) / frobenius);
    BOOST_TEST(f >= band.lo);
    BOOST_TEST(f <= band.hi);
  }
  BOOST_TEST(mt::singular_values(y)(0) <= band.max);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(orthogonalize)

BOOST_AUTO_TEST_CASE(newton_schulz_bands_hold_on_probed_spectra) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const DType compute : {DType::f32, DType::bf16})
    for (const OrthogonalizeMethod method : mt::newton_schulz_methods()) {
      const auto options = mt::with_method(method, compute);
      // A probe singular value x swept over [1e-2, 1] (the others share the rest of the
      // Frobenius norm), in both orientations.
      for (int k = 0; k <= 24; ++k) {
        const double x = std::pow(10.0, -2.0 + 2.0 * (k + gen.uniform()) / 25.0);
        Eigen::VectorXd s(16);
        s(0) = x;
        for (Eigen::Index i = 1; i < s.size(); ++i) s(i) = 0.5 + gen.uniform();
        s.tail(15) *= std::sqrt(std::max(0.0, 1 - x * x)) / s.tail(15).norm();
        check_band(mt::with_spectrum(20, 31, s, gen), options, k % 2 == 1);
      }
      // Condition number 1e6 (only the large singular values are in the band).
      check_band(mt::with_spectrum(64, 96, mt::log_spaced(64, 6), gen), options, false);
      // A flat spectrum at the threshold's other end: 100 values near 0.1.
      check_band(mt::with_spectrum(100, 150, Eigen::VectorXd::Constant(100, 1.0), gen), options,
                 true);
    }
}

BOOST_AUTO_TEST_CASE(newton_schulz_bands_hold_on_hard_cases) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& hard : mt::hard_cases(gen))
    for (const DType compute : {DType::f32, DType::bf16})
      for (const OrthogonalizeMethod method : mt::newton_schulz_methods()) {
        BOOST_TEST_CONTEXT(hard.name << ", " << to_string(method) << ", " << to_string(compute)) {
          const auto options = mt::with_method(method, compute);
          const mt::MatD y = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(hard.g), options));
          const mt::Band band = mt::documented_band(method, compute);
          // Y = U f(S) V^T, so each singular value x_i >= threshold of G gives a singular
          // value f(x_i) of Y inside the band: at least that many must be there.
          const Eigen::VectorXd sg = mt::singular_values(hard.g);
          const Eigen::VectorXd sy = mt::singular_values(y);
          BOOST_TEST(sy(0) <= band.max);
          const double frobenius = sg.norm();
          Eigen::Index above = 0, inside = 0;
          for (Eigen::Index i = 0; i < sg.size(); ++i) {
            above += sg(i) / frobenius >= mt::kBandThreshold;
            inside += sy(i) >= band.lo && sy(i) <= band.hi;
          }
          BOOST_TEST(above >= 1);
          BOOST_TEST(inside >= above,
                     "singular values of G / ||G||_F: " << (sg / frobenius).transpose()
                                                        << "; of Y: " << sy.transpose());
        }
      }
}

BOOST_AUTO_TEST_CASE(f64_iteration_matches_the_scalar_map) {
  // In double the iteration is the scalar map on each singular value to ~1e-12: this checks
  // the kernel (symmetric half products, row blocks, buffer swaps) against plain arithmetic.
  MODNORM_FRESH_GENERATOR(gen);
  for (const OrthogonalizeMethod method : mt::newton_schulz_methods())
    for (const auto& [rows, cols] : {std::pair{150, 300}, std::pair{301, 160}}) {
      const auto r = std::min(rows, cols);
      const mt::Spectral s = mt::with_spectrum(rows, cols, mt::log_spaced(r, 4), gen);
      const mt::MatD y = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(s.matrix(), DType::f64),
                                                             mt::with_method(method, DType::f64)));
      const double frobenius = s.s.norm();
      double worst = 0;
      for (Eigen::Index i = 0; i < r; ++i)
        worst = std::max(worst, std::abs(s.u.col(i).dot(y * s.v.col(i)) -
                                         scalar_map(method, s.s(i) / frobenius)));
      BOOST_TEST_INFO(to_string(method) << " " << rows << "x" << cols);
      BOOST_TEST(worst < 1e-10);
      // Nothing leaks between singular directions.
      const mt::MatD off = s.u.transpose() * y * s.v;
      BOOST_TEST((off - mt::MatD(off.diagonal().asDiagonal())).cwiseAbs().maxCoeff() < 1e-10);
    }
}

BOOST_AUTO_TEST_CASE(f32_iteration_matches_f64_at_sizes_of_several_tiles) {
  // f32 runs the symmetric products on the GEMM provider (?syrk, or one GEMM per lower tile),
  // f64 on Eigen's tiles: at sizes of several tiles, ragged edges included, both give the same
  // iterate up to f32 rounding, for wide, tall and square inputs.
  MODNORM_FRESH_GENERATOR(gen);
  for (const OrthogonalizeMethod method : mt::newton_schulz_methods())
    for (const auto& [rows, cols] :
         {std::pair{300, 610}, std::pair{610, 300}, std::pair{520, 520}}) {
      const mt::MatD g = mt::gaussian(rows, cols, gen);
      const mt::MatD y32 = mt::to_eigen(
          modnorm::orthogonalize(mt::from_eigen(g, DType::f32), mt::with_method(method)));
      const mt::MatD y64 = mt::to_eigen(modnorm::orthogonalize(
          mt::from_eigen(g, DType::f64), mt::with_method(method, DType::f64)));
      BOOST_TEST_INFO(to_string(method) << " " << rows << "x" << cols);
      BOOST_TEST((y32 - y64).cwiseAbs().maxCoeff() < 1e-4);
      BOOST_TEST(y64.cwiseAbs().maxCoeff() > 1e-2);  // not two zero results
    }
}

BOOST_AUTO_TEST_CASE(every_thread_count_matches_f64_and_keeps_the_band) {
  // Below 2^28 multiply-adds per Gram product the f32 iteration runs every step of every matrix
  // in one parallel region, the threads claiming chunks of rows (cpu/newton_schulz.cpp); with one
  // thread it runs the threaded path. Either gives f64's iterate up to f32 rounding and keeps the
  // bf16 band: chunks that are empty (fewer rows than chunks), ragged or even, wide, tall and
  // square, a single matrix and a batch. (Up to 3 threads: with 5, LLVM's libomp, the runtime
  // of the sanitizer build, left 4 KB of its own thread bookkeeping unfreed at exit, which the
  // leak checker reports.)
  MODNORM_FRESH_GENERATOR(gen);
  const int threads = omp_get_max_threads();
  for (const int t : {1, 2, 3}) {
    omp_set_num_threads(t);
    for (const modnorm::Shape& shape : std::vector<modnorm::Shape>{
             {1, 40}, {40, 1}, {2, 3}, {64, 96}, {97, 63}, {200, 200}, {3, 40, 70}, {2, 70, 40}}) {
      BOOST_TEST_CONTEXT(t << " threads, shape " << modnorm::to_string(shape)) {
        const Tensor g = Tensor::randn(shape, gen, DType::f64);
        const std::vector<double> y32 =
            modnorm::orthogonalize(g.to(DType::f32), mt::with_method(OrthogonalizeMethod::quintic))
                .to_vector_f64();
        const std::vector<double> y64 =
            modnorm::orthogonalize(g, mt::with_method(OrthogonalizeMethod::quintic, DType::f64))
                .to_vector_f64();
        double worst = 0, largest = 0;
        for (std::size_t i = 0; i < y64.size(); ++i) {
          worst = std::max(worst, std::abs(y32[i] - y64[i]));
          largest = std::max(largest, std::abs(y64[i]));
        }
        BOOST_TEST(worst < 1e-4);
        BOOST_TEST(largest > 1e-2);  // not two zero results
      }
    }
    BOOST_TEST_CONTEXT(t << " threads, bf16 iterates") {
      const auto options = mt::with_method(OrthogonalizeMethod::quintic, DType::bf16);
      check_band(mt::with_spectrum(64, 96, mt::log_spaced(64, 3), gen), options, false);
      check_band(mt::with_spectrum(50, 75, mt::log_spaced(50, 2), gen), options, true);
    }
  }
  omp_set_num_threads(threads);
}

BOOST_AUTO_TEST_CASE(svd_method_matches_jacobi_svd) {
  MODNORM_FRESH_GENERATOR(gen);
  OrthogonalizeOptions options;
  options.method = OrthogonalizeMethod::svd;
  for (const auto& hard : mt::hard_cases(gen)) {
    BOOST_TEST_INFO(hard.name);
    // The reference sees the same f32-rounded input.
    const Tensor g = mt::from_eigen(hard.g);
    const mt::MatD input = mt::to_eigen(g);
    Eigen::JacobiSVD<mt::MatD> svd(input, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const mt::MatD expected = svd.matrixU() * svd.matrixV().transpose();
    const mt::MatD got = mt::to_eigen(modnorm::orthogonalize(g, options));
    BOOST_TEST((got - expected).norm() / expected.norm() < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(svd_method_keeps_exact_zeros_zero) {
  // Exactly rank 2 (zero rows and columns): U_r V_r^T, as Newton-Schulz converges to.
  mt::MatD g = mt::MatD::Zero(5, 4);
  g(0, 0) = 3;
  g(2, 1) = -0.5;
  OrthogonalizeOptions options;
  options.method = OrthogonalizeMethod::svd;
  mt::MatD expected = mt::MatD::Zero(5, 4);
  expected(0, 0) = 1;
  expected(2, 1) = -1;
  BOOST_TEST((mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g), options)) - expected)
                 .cwiseAbs()
                 .maxCoeff() < 1e-7);
  BOOST_TEST((mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g),
                                                  mt::with_method(OrthogonalizeMethod::cubic))) -
              expected)
                 .cwiseAbs()
                 .maxCoeff() < 1e-4);
}

BOOST_AUTO_TEST_CASE(zero_matrix_gives_zero_for_every_method) {
  std::vector<OrthogonalizeMethod> methods = mt::newton_schulz_methods();
  methods.push_back(OrthogonalizeMethod::svd);
  for (const OrthogonalizeMethod method : methods)
    for (const DType dtype : {DType::f32, DType::bf16, DType::f64}) {
      const Tensor y =
          modnorm::orthogonalize(Tensor::zeros({6, 9}, dtype), mt::with_method(method));
      BOOST_TEST(y.dtype() == dtype);
      BOOST_TEST(modnorm::all_finite(y));
      BOOST_TEST(modnorm::max_abs(y) == 0.0);
    }
}

BOOST_AUTO_TEST_CASE(result_keeps_shape_dtype_and_is_scale_invariant) {
  MODNORM_FRESH_GENERATOR(gen);
  const mt::MatD g = mt::gaussian(12, 20, gen);
  const mt::MatD base = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g)));
  for (const double factor : {1e-30, 1e-10, 1e10, 1e30}) {
    BOOST_TEST_INFO("factor " << factor);
    const mt::MatD scaled = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(factor * g)));
    BOOST_TEST((scaled - base).norm() / base.norm() < 1e-5);
  }
  for (const DType dtype : {DType::f32, DType::bf16, DType::f64}) {
    const Tensor y = modnorm::orthogonalize(mt::from_eigen(g, dtype));
    BOOST_TEST(y.dtype() == dtype);
    BOOST_TEST(y.shape() == (modnorm::Shape{12, 20}));
  }
}

BOOST_AUTO_TEST_CASE(a_batch_is_each_matrix_on_its_own) {
  // [batch, rows, cols]: every matrix is orthogonalized with its own norm, exactly as if alone.
  // The batch mixes scales 1e4 apart, an ill-conditioned, a rank-1, a tiny and a zero matrix,
  // so a shared norm or a leak between matrices would show.
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<OrthogonalizeMethod> methods = mt::newton_schulz_methods();
  methods.push_back(OrthogonalizeMethod::svd);
  for (const auto& [rows, cols] : {std::pair{9, 14}, std::pair{14, 9}}) {
    const std::vector<mt::MatD> slices = {
        mt::gaussian(rows, cols, gen),
        1e4 * mt::with_spectrum(rows, cols, mt::log_spaced(std::min(rows, cols), 5), gen).matrix(),
        mt::gaussian(rows, 1, gen) * mt::gaussian(1, cols, gen),
        1e-20 * mt::gaussian(rows, cols, gen), mt::MatD::Zero(rows, cols)};
    std::vector<double> values;
    for (const auto& s : slices) values.insert(values.end(), s.data(), s.data() + s.size());
    const auto batch = static_cast<std::int64_t>(slices.size());
    for (const DType dtype : {DType::f32, DType::f64})
      for (const OrthogonalizeMethod method : methods) {
        BOOST_TEST_CONTEXT(to_string(method)
                           << " " << to_string(dtype) << " " << rows << "x" << cols) {
          const OrthogonalizeOptions options = mt::with_method(method, dtype);
          const Tensor g = Tensor::from_vector_f64(values, {batch, rows, cols}).to(dtype);
          const Tensor y = modnorm::orthogonalize(g, options);
          BOOST_TEST(y.shape() == g.shape());
          BOOST_TEST(y.dtype() == dtype);
          const std::vector<double> got = y.to_vector_f64();
          for (std::size_t i = 0; i < slices.size(); ++i) {
            const std::vector<double> alone =
                modnorm::orthogonalize(mt::from_eigen(slices[i], dtype), options).to_vector_f64();
            double worst = 0;
            for (std::size_t e = 0; e < alone.size(); ++e)
              worst = std::max(worst, std::abs(got[i * alone.size() + e] - alone[e]));
            BOOST_TEST_INFO("matrix " << i);
            // Rounding only (the batch's norms are summed in another order), amplified by the
            // polynomials' slope at the ill-conditioned matrix's small singular values.
            BOOST_TEST(worst < (dtype == DType::f64 ? 1e-9 : 1e-4));
          }
        }
      }
  }
}

BOOST_AUTO_TEST_CASE(tall_input_is_the_transpose_of_the_wide_one) {
  MODNORM_FRESH_GENERATOR(gen);
  const mt::MatD g = mt::gaussian(70, 25, gen);
  for (const OrthogonalizeMethod method : mt::newton_schulz_methods()) {
    const mt::MatD tall =
        mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g), mt::with_method(method)));
    const mt::MatD wide = mt::to_eigen(
        modnorm::orthogonalize(mt::from_eigen(mt::MatD(g.transpose())), mt::with_method(method)));
    BOOST_TEST((tall - wide.transpose()).cwiseAbs().maxCoeff() < 1e-5);  // rounding only
  }
}

BOOST_AUTO_TEST_CASE(custom_schedules_and_step_counts) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor g = mt::from_eigen(mt::gaussian(16, 24, gen));
  auto max_diff = [](const Tensor& a, const Tensor& b) {
    return (mt::to_eigen(a) - mt::to_eigen(b)).cwiseAbs().maxCoeff();
  };

  // A custom list equal to a built-in one reproduces it exactly.
  OrthogonalizeOptions custom;
  custom.method = OrthogonalizeMethod::custom;
  custom.coefficients = modnorm::orthogonalize_schedule(OrthogonalizeMethod::modula);
  BOOST_TEST(max_diff(modnorm::orthogonalize(g, custom),
                      modnorm::orthogonalize(g, mt::with_method(OrthogonalizeMethod::modula))) ==
             0.0);

  // A schedule shorter than `steps` repeats its last entry.
  const modnorm::QuinticCoefficients first{3.0, -3.2, 1.2}, last{1.875, -1.25, 0.375};
  custom.coefficients = {first, last};
  custom.steps = 5;
  OrthogonalizeOptions spelled_out;
  spelled_out.method = OrthogonalizeMethod::custom;
  spelled_out.coefficients = {first, last, last, last, last};
  BOOST_TEST(max_diff(modnorm::orthogonalize(g, custom), modnorm::orthogonalize(g, spelled_out)) ==
             0.0);

  // ... and a longer one is cut after `steps`.
  OrthogonalizeOptions two = spelled_out;
  two.steps = 2;
  OrthogonalizeOptions cut;
  cut.method = OrthogonalizeMethod::custom;
  cut.coefficients = {first, last};
  BOOST_TEST(max_diff(modnorm::orthogonalize(g, two), modnorm::orthogonalize(g, cut)) == 0.0);

  // The quintic with more steps keeps its band down to smaller singular values.
  OrthogonalizeOptions ten = mt::with_method(OrthogonalizeMethod::quintic);
  ten.steps = 10;
  const auto s = mt::with_spectrum(30, 40, mt::log_spaced(30, 2.5), gen);
  const mt::MatD y = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(s.matrix()), ten));
  for (Eigen::Index i = 0; i < 30; ++i) {
    if (s.s(i) / s.s.norm() < 1e-3) continue;
    const double f = s.u.col(i).dot(y * s.v.col(i));
    BOOST_TEST(f >= 0.68);
    BOOST_TEST(f <= 1.14);
  }
}

BOOST_AUTO_TEST_CASE(bf16_iterates_are_bf16_values) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor g = mt::from_eigen(mt::gaussian(20, 30, gen));
  const std::vector<float> y =
      modnorm::orthogonalize(g, mt::with_method(OrthogonalizeMethod::quintic, DType::bf16))
          .to_vector();
  for (const float v : y) BOOST_TEST(modnorm::bf16_to_float(modnorm::float_to_bf16(v)) == v);
  // and they differ from the f32 iterates by bf16 rounding, not more
  const std::vector<float> f32 = modnorm::orthogonalize(g).to_vector();
  double worst = 0;
  for (std::size_t k = 0; k < y.size(); ++k)
    worst = std::max(worst, std::abs(static_cast<double>(y[k]) - f32[k]));
  BOOST_TEST(worst < 0.05);
}

BOOST_AUTO_TEST_CASE(published_coefficient_tables) {
  const auto pe = modnorm::orthogonalize_schedule(OrthogonalizeMethod::polar_express);
  BOOST_TEST_REQUIRE(pe.size() == 8u);
  // Safety factor 1.01 on all but the last entry (Amsel et al. 2025, Algorithm 1).
  BOOST_TEST(pe[0].a == 8.28721201814563 / 1.01, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(pe[0].c == 17.300387312530933 / std::pow(1.01, 5),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(pe[7].a == 1.875);
  BOOST_TEST(pe[7].b == -1.25);
  BOOST_TEST(pe[7].c == 0.375);
  const auto q = modnorm::orthogonalize_schedule(OrthogonalizeMethod::quintic);
  BOOST_TEST_REQUIRE(q.size() == 1u);
  BOOST_TEST(q[0].a == 3.4445);
  BOOST_TEST(modnorm::orthogonalize_schedule(OrthogonalizeMethod::modula).size() == 6u);
  BOOST_TEST(modnorm::orthogonalize_schedule(OrthogonalizeMethod::seed_tuned).size() == 5u);
  BOOST_TEST(modnorm::orthogonalize_schedule(OrthogonalizeMethod::custom).empty());
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_with_a_clear_error) {
  auto throws_with = [](auto&& fn, const std::string& needle) {
    try {
      fn();
    } catch (const modnorm::Error& e) {
      BOOST_TEST_INFO("message: " << e.what());
      BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos);
      BOOST_TEST(std::string(e.what()).rfind("[orthogonalize]", 0) == 0);
      return;
    }
    BOOST_ERROR("no modnorm::Error thrown; expected one mentioning '" << needle << "'");
  };
  const Tensor g = Tensor::full({3, 4}, 1.0);

  throws_with([] { modnorm::orthogonalize(Tensor::full({4}, 1.0)); }, "rank 2");
  throws_with([] { modnorm::orthogonalize(Tensor::full({2, 2, 3, 4}, 1.0)); }, "[2x2x3x4]");
  throws_with([] { modnorm::orthogonalize(Tensor::zeros({0, 4})); }, "non-empty");
  throws_with([] { modnorm::orthogonalize(Tensor::zeros({0, 3, 4})); }, "non-empty");

  std::vector<float> values(12, 1.0f);
  values[6] = std::nanf("");
  throws_with(
      [&] {
        modnorm::orthogonalize(Tensor::from_vector(values, {3, 4}));
      },
      "NaN at [1, 2]");
  values[6] = -INFINITY;
  throws_with(
      [&] {
        modnorm::orthogonalize(Tensor::from_vector(values, {3, 4}));
      },
      "-Inf at [1, 2]");

  OrthogonalizeOptions zero_steps;
  zero_steps.steps = 0;
  throws_with([&] { modnorm::orthogonalize(g, zero_steps); }, "steps must be >= 1");
  OrthogonalizeOptions empty_list;
  empty_list.method = OrthogonalizeMethod::custom;
  throws_with([&] { modnorm::orthogonalize(g, empty_list); }, "non-empty coefficient list");
  OrthogonalizeOptions misplaced;
  misplaced.coefficients = {{1.5, -0.5, 0.0}};
  throws_with([&] { modnorm::orthogonalize(g, misplaced); }, "method is quintic");
  OrthogonalizeOptions small_safety;
  small_safety.norm_safety = 0.5;
  throws_with([&] { modnorm::orthogonalize(g, small_safety); }, "norm_safety");
}

// ---- OrthogonalizeOptions::epsilon (the convention of optax and the reference PyTorch code)

BOOST_AUTO_TEST_CASE(epsilon_is_added_to_the_frobenius_norm) {
  MODNORM_FRESH_GENERATOR(gen);
  const mt::MatD g = mt::gaussian(9, 14, gen);
  OrthogonalizeOptions f64;
  f64.compute_dtype = DType::f64;
  // epsilon 0 is the default, bit for bit.
  OrthogonalizeOptions zero = f64;
  zero.epsilon = 0.0;
  BOOST_TEST((mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g, DType::f64), zero)) ==
              mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g, DType::f64), f64))));
  for (const double scale : {1.0, 1e-3, 1e-7}) {
    const mt::MatD gs = scale * g;
    const double n = gs.norm();
    OrthogonalizeOptions eps = f64;
    eps.epsilon = 1e-7;
    const mt::MatD got = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(gs, DType::f64), eps));
    // The reference quintic of optax and Jordan's PyTorch code: X_0 = G / (||G||_F + eps).
    mt::MatD x = gs / (n + 1e-7);
    for (int k = 0; k < 5; ++k) {
      const mt::MatD a = x * x.transpose();
      x = 3.4445 * x + (-4.7750 * a + 2.0315 * a * a) * x;
    }
    BOOST_TEST_INFO("scale " << scale);
    BOOST_TEST((got - x).norm() / x.norm() < 1e-12);
    // The same as a norm safety factor (n + eps) / n.
    OrthogonalizeOptions safety = f64;
    safety.norm_safety = (n + 1e-7) / n;
    const mt::MatD via_safety =
        mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(gs, DType::f64), safety));
    BOOST_TEST((got - via_safety).norm() / x.norm() < 1e-12);
  }
  // epsilon breaks scale invariance where ||G||_F is not large against it: at ||G||_F ~ 1e-7
  // the iterate starts at half the size and the result differs from the default's.
  OrthogonalizeOptions eps = f64;
  eps.epsilon = 1e-7;
  const mt::MatD tiny = (1e-7 / g.norm()) * g;
  const mt::MatD with = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(tiny, DType::f64), eps));
  const mt::MatD without =
      mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(tiny, DType::f64), f64));
  BOOST_TEST((with - without).norm() / without.norm() > 1e-2);
}

BOOST_AUTO_TEST_CASE(epsilon_keeps_zero_zero_and_f32_close_to_f64) {
  MODNORM_FRESH_GENERATOR(gen);
  OrthogonalizeOptions eps;
  eps.epsilon = 1e-8;
  BOOST_TEST(modnorm::max_abs(modnorm::orthogonalize(Tensor::zeros({5, 7}), eps)) == 0.0);
  const mt::MatD g = mt::gaussian(30, 20, gen);
  OrthogonalizeOptions eps64 = eps;
  eps64.compute_dtype = DType::f64;
  const mt::MatD f32 = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g), eps));
  const mt::MatD f64 = mt::to_eigen(modnorm::orthogonalize(mt::from_eigen(g, DType::f64), eps64));
  BOOST_TEST((f32 - f64).cwiseAbs().maxCoeff() / f64.cwiseAbs().maxCoeff() < 1e-4);
}

BOOST_AUTO_TEST_CASE(bad_epsilon_is_rejected) {
  const Tensor g = Tensor::full({3, 4}, 1.0);
  for (const double bad : {-1e-8, std::nan(""), HUGE_VAL}) {
    OrthogonalizeOptions o;
    o.epsilon = bad;
    try {
      modnorm::orthogonalize(g, o);
      BOOST_ERROR("no modnorm::Error for epsilon " << bad);
    } catch (const modnorm::Error& e) {
      BOOST_TEST_INFO("message: " << e.what());
      BOOST_TEST(std::string(e.what()).find(
                     "[orthogonalize] epsilon must be a finite number >= 0") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
