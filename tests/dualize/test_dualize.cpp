// dualize(), dual_norm(), norm(), spectral_norm(): the table of docs/theory.md as properties
// (unit norm, pairing, Hoelder, steepest descent) and against hand-computed references.
#include <boost/test/unit_test.hpp>

#include "dualize/dualize_support.hpp"

namespace mt = modnorm::test;
using modnorm::DType;
using modnorm::DualizeOptions;
using modnorm::Norm;
using modnorm::OrthogonalizeMethod;
using modnorm::Tensor;
namespace tt = boost::test_tools;

namespace {

const Norm kAllNorms[] = {Norm::spectral, Norm::column, Norm::sign, Norm::euclidean};

DualizeOptions exact_spectral() {
  DualizeOptions o;
  o.orthogonalize.method = OrthogonalizeMethod::svd;
  return o;
}

modnorm::SpectralNormOptions exact_norm() {
  modnorm::SpectralNormOptions o;
  o.exact = true;
  return o;
}

Tensor matrix(std::vector<float> values, std::int64_t rows, std::int64_t cols) {
  return Tensor::from_vector(std::move(values), {rows, cols});
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  const std::vector<double> got = t.to_vector_f64();
  BOOST_TEST_REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    BOOST_TEST_INFO("element " << k);
    BOOST_TEST(got[k] == expected[k], tt::tolerance(tol));
  }
}

// A random direction of unit norm in `kind`.
Tensor random_unit(const Tensor& like, Norm kind, modnorm::Generator& gen) {
  const Tensor t = Tensor::randn(like.shape(), gen);
  return modnorm::scale(t, 1.0 / modnorm::norm(t, kind, exact_norm()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dualize)

BOOST_AUTO_TEST_CASE(dualize_has_unit_norm_in_its_own_norm) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& hard : mt::hard_cases(gen)) {
    const Tensor g = mt::from_eigen(hard.g);
    for (const Norm& kind : kAllNorms) {
      BOOST_TEST_INFO(hard.name << ", " << to_string(kind));
      const Tensor d = modnorm::dualize(g, kind, exact_spectral());
      BOOST_TEST(modnorm::norm(d, kind, exact_norm()) == 1.0, tt::tolerance(1e-5));
    }
    // With the default quintic, the spectral norm lies in the quintic's band: sigma_max of
    // G has x = sigma_max / ||G||_F >= 1 / sqrt(rank) >= 1e-2 here.
    BOOST_TEST_INFO(hard.name << ", spectral with the default quintic");
    const double n =
        modnorm::norm(modnorm::dualize(g, Norm::spectral), Norm::spectral, exact_norm());
    const mt::Band band = mt::documented_band(OrthogonalizeMethod::quintic, DType::f32);
    BOOST_TEST(n >= band.lo);
    BOOST_TEST(n <= band.max);
  }
}

BOOST_AUTO_TEST_CASE(dual_pairing_is_the_pairing_with_the_map_in_use) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& hard : mt::hard_cases(gen)) {
    const Tensor g = mt::from_eigen(hard.g);
    for (const Norm& kind : kAllNorms)
      for (const auto& options : {DualizeOptions{}, exact_spectral()}) {
        BOOST_TEST_INFO(hard.name << ", " << to_string(kind) << ", "
                                  << to_string(options.orthogonalize.method));
        const double pairing = modnorm::dot(g, modnorm::dualize(g, kind, options));
        BOOST_TEST(pairing == modnorm::dual_pairing(g, kind, options), tt::tolerance(1e-5));
      }
    // With the exact polar factor the pairing is the dual norm.
    BOOST_TEST_INFO(hard.name);
    BOOST_TEST(modnorm::dual_pairing(g, Norm::spectral, exact_spectral()) ==
                   modnorm::dual_norm(g, Norm::spectral),
               tt::tolerance(1e-5));
  }
}

// The true dual norm sqrt(d_out/d_in) ||G||_* against Eigen's Jacobi SVD in double, on the
// shapes where <G, dualize(G)> with the default quintic was 13-30% low (and 7% high on 300x7),
// and on ill-conditioned, rank-deficient, tiny and huge inputs, in every dtype.
BOOST_AUTO_TEST_CASE(spectral_dual_norm_is_exact_on_any_shape_and_conditioning) {
  MODNORM_FRESH_GENERATOR(gen);
  auto expected = [](const Tensor& g) {
    const mt::MatD m = mt::to_eigen(g.to(DType::f64));
    return std::sqrt(static_cast<double>(m.rows()) / m.cols()) * mt::singular_values(m).sum();
  };
  std::vector<std::pair<std::string, Tensor>> inputs;
  for (const auto& [rows, cols] : {std::pair{64, 32}, std::pair{32, 64}, std::pair{100, 100},
                                   std::pair{1, 17}, std::pair{17, 1}, std::pair{300, 7}})
    inputs.emplace_back("Gaussian " + std::to_string(rows) + "x" + std::to_string(cols),
                        Tensor::randn({rows, cols}, gen));
  for (const auto& hard : mt::hard_cases(gen))
    inputs.emplace_back(hard.name, mt::from_eigen(hard.g));
  // Singular values 1 .. 1e-12 (condition 1e12), and rank 3 of 40x50.
  const mt::MatD u = mt::to_eigen(modnorm::orthogonalize(Tensor::randn({40, 40}, gen, DType::f64),
                                                         exact_spectral().orthogonalize));
  const mt::MatD v = mt::to_eigen(modnorm::orthogonalize(Tensor::randn({50, 40}, gen, DType::f64),
                                                         exact_spectral().orthogonalize));
  Eigen::VectorXd sigma(40), low_rank = Eigen::VectorXd::Zero(40);
  for (int i = 0; i < 40; ++i) sigma(i) = std::pow(10.0, -12.0 * i / 39);
  low_rank.head(3) << 5.0, 2.0, 0.5;
  inputs.emplace_back("condition 1e12", mt::from_eigen(u * sigma.asDiagonal() * v.transpose()));
  inputs.emplace_back("rank 3", mt::from_eigen(u * low_rank.asDiagonal() * v.transpose()));
  for (const auto& [name, g] : inputs)
    for (const DType dtype : {DType::f32, DType::bf16, DType::f64})
      for (const double factor : {1.0, 1e-36, 1e30}) {
        const Tensor x = modnorm::scale(g.to(DType::f64), factor).to(dtype);
        BOOST_TEST_INFO(name << " " << to_string(dtype) << " times " << factor);
        BOOST_TEST(modnorm::dual_norm(x, Norm::spectral) == expected(x), tt::tolerance(1e-6));
      }
}

BOOST_AUTO_TEST_CASE(spectral_svd_is_scaled_polar_factor_of_jacobi_svd) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& hard : mt::hard_cases(gen)) {
    BOOST_TEST_INFO(hard.name);
    const Tensor g = mt::from_eigen(hard.g);
    const mt::MatD input = mt::to_eigen(g);
    const mt::MatD expected = mt::jacobi_dualize_spectral(input);
    const mt::MatD got = mt::to_eigen(modnorm::dualize(g, Norm::spectral, exact_spectral()));
    BOOST_TEST((got - expected).norm() / expected.norm() < 1e-5);
    // dual norm = sqrt(d_out/d_in) * nuclear norm
    const double nuclear = mt::singular_values(input).sum();
    const double scale = std::sqrt(static_cast<double>(input.rows()) / input.cols());
    BOOST_TEST(modnorm::dual_norm(g, Norm::spectral) == scale * nuclear, tt::tolerance(1e-5));
    // norm = sqrt(d_in/d_out) * sigma_max
    BOOST_TEST(
        modnorm::norm(g, Norm::spectral, exact_norm()) == mt::singular_values(input)(0) / scale,
        tt::tolerance(1e-6));
  }
}

// A spectral batch [B, d_out, d_in] is B matrices under the max of their norms: its norm is the
// largest, its duality map each matrix's own (norm 1), its dual norm the sum, all against Jacobi
// SVDs; matrices 1e4 apart in scale, an ill-conditioned (1e6), a rank-1 and a zero one.
BOOST_AUTO_TEST_CASE(spectral_batch_is_the_max_of_its_matrices) {
  MODNORM_FRESH_GENERATOR(gen);
  const Eigen::Index rows = 5, cols = 3;
  std::vector<mt::MatD> slices = {
      1e2 * mt::gaussian(rows, cols, gen), 1e-2 * mt::gaussian(rows, cols, gen),
      mt::with_spectrum(rows, cols, mt::log_spaced(3, 6), gen).matrix(),
      mt::gaussian(rows, 1, gen) * mt::gaussian(1, cols, gen), mt::MatD::Zero(rows, cols)};
  std::vector<double> values;
  for (const mt::MatD& m : slices) values.insert(values.end(), m.data(), m.data() + m.size());
  const auto batch = static_cast<std::int64_t>(slices.size());
  const Tensor g = Tensor::from_vector_f64(values, {batch, rows, cols});
  const double shape = std::sqrt(static_cast<double>(rows) / static_cast<double>(cols));
  double largest = 0, sum = 0;
  for (const mt::MatD& m : slices) {
    largest = std::max(largest, mt::singular_values(m)(0) / shape);
    sum += shape * mt::singular_values(m).sum();
  }
  BOOST_TEST(modnorm::norm(g, Norm::spectral, exact_norm()) == largest, tt::tolerance(1e-12));
  BOOST_TEST(modnorm::norm(g, Norm::spectral) == largest, tt::tolerance(1e-4));
  BOOST_TEST(modnorm::dual_norm(g, Norm::spectral) == sum, tt::tolerance(1e-9));
  const Tensor d = modnorm::dualize(g, Norm::spectral, exact_spectral());
  BOOST_TEST((d.shape() == g.shape()));
  BOOST_TEST(modnorm::norm(d, Norm::spectral, exact_norm()) == 1.0, tt::tolerance(1e-12));
  BOOST_TEST(modnorm::dot(g, d) == sum, tt::tolerance(1e-9));
  const std::vector<double> got = d.to_vector_f64();
  for (std::size_t b = 0; b < slices.size(); ++b) {
    // sqrt(d_out/d_in) U_r V_r^T over the nonzero singular values (zero for the zero matrix).
    Eigen::JacobiSVD<mt::MatD> svd(slices[b], Eigen::ComputeThinU | Eigen::ComputeThinV);
    Eigen::Index r = 0;
    while (r < svd.singularValues().size() &&
           svd.singularValues()(r) > 1e-12 * svd.singularValues()(0))
      ++r;
    const mt::MatD expected =
        shape * svd.matrixU().leftCols(r) * svd.matrixV().leftCols(r).transpose();
    const mt::MatD slice = Eigen::Map<const mt::MatD>(
        got.data() + b * static_cast<std::size_t>(rows * cols), rows, cols);
    BOOST_TEST_INFO("matrix " << b);
    BOOST_TEST((slice - expected).norm() <= 1e-9);
  }
  // The Newton-Schulz map of the batch is each matrix's map alone.
  const Tensor f = g.to(DType::f32);
  const Tensor batched = modnorm::dualize(f, Norm::spectral);
  for (std::int64_t b = 0; b < batch; ++b) {
    const Tensor alone = modnorm::dualize(
        Tensor::from_vector_f64(std::vector<double>(values.begin() + b * rows * cols,
                                                    values.begin() + (b + 1) * rows * cols),
                                {rows, cols})
            .to(DType::f32),
        Norm::spectral);
    const std::vector<double> all = batched.to_vector_f64();
    BOOST_TEST_INFO("matrix " << b);
    BOOST_TEST(mt::max_abs_diff(std::vector<double>(all.begin() + b * rows * cols,
                                                    all.begin() + (b + 1) * rows * cols),
                                alone.to_vector_f64()) <= 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(spectral_matches_hand_computed_reference) {
  // G = [[2, 0, 0, 0], [0, -1, 0, 0]]: d_out = 2, d_in = 4, U V^T = [[1,0,0,0],[0,-1,0,0]].
  const Tensor g = matrix({2, 0, 0, 0, 0, -1, 0, 0}, 2, 4);
  const double s = std::sqrt(0.5);
  expect_values(modnorm::dualize(g, Norm::spectral, exact_spectral()), {s, 0, 0, 0, 0, -s, 0, 0});
  BOOST_TEST(modnorm::dual_norm(g, Norm::spectral) == 3 * s, tt::tolerance(1e-6));
  BOOST_TEST(modnorm::norm(g, Norm::spectral) == std::sqrt(2.0) * 2, tt::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(sign_matches_hand_computed_reference) {
  const Tensor g = matrix({1, -2, 0, 0.5f, 0, -3}, 2, 3);
  expect_values(modnorm::dualize(g, Norm::sign), {1, -1, 0, 1, 0, -1});
  BOOST_TEST(modnorm::dual_norm(g, Norm::sign) == 6.5, tt::tolerance(1e-7));
  BOOST_TEST(modnorm::norm(g, Norm::sign) == 3.0);
  // entrywise: any rank
  const Tensor v = Tensor::from_vector({-0.25f, 4}, {2});
  expect_values(modnorm::dualize(v, Norm::sign), {-1, 1});
}

BOOST_AUTO_TEST_CASE(column_matches_hand_computed_reference) {
  // d = 2 rows, 3 columns: norms 5, 0, sqrt 2; RMS = norm / sqrt 2.
  const Tensor g = matrix({3, 0, 1, 4, 0, -1}, 2, 3);
  const double r2 = std::sqrt(2.0);
  expect_values(modnorm::dualize(g, Norm::column), {3 * r2 / 5, 0, 1, 4 * r2 / 5, 0, -1});
  BOOST_TEST(modnorm::dual_norm(g, Norm::column) == r2 * (5 + r2), tt::tolerance(1e-6));
  BOOST_TEST(modnorm::norm(g, Norm::column) == 5 / r2, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(euclidean_matches_hand_computed_reference) {
  const Tensor g = Tensor::from_vector({3, 4}, {2});  // ||g||_2 = 5, RMS = 5 / sqrt 2
  const double r2 = std::sqrt(2.0);
  expect_values(modnorm::dualize(g, Norm::euclidean), {3 * r2 / 5, 4 * r2 / 5});
  BOOST_TEST(modnorm::dual_norm(g, Norm::euclidean) == 5 * r2, tt::tolerance(1e-6));
  BOOST_TEST(modnorm::norm(g, Norm::euclidean) == 5 / r2, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(zero_inputs_give_zeros_never_nan) {
  for (const Norm& kind : kAllNorms)
    for (const DType dtype : {DType::f32, DType::bf16, DType::f64}) {
      BOOST_TEST_INFO(to_string(kind) << " " << to_string(dtype));
      const Tensor zero = Tensor::zeros({4, 6}, dtype);
      DualizeOptions corrected;
      corrected.dual_norm_correction.enabled = true;
      for (const auto& options : {DualizeOptions{}, exact_spectral(), corrected}) {
        const Tensor d = modnorm::dualize(zero, kind, options);
        BOOST_TEST(d.dtype() == dtype);
        BOOST_TEST(modnorm::all_finite(d));
        BOOST_TEST(modnorm::max_abs(d) == 0.0);
        BOOST_TEST(modnorm::dual_pairing(zero, kind, options) == 0.0);
      }
      BOOST_TEST(modnorm::norm(zero, kind) == 0.0);
      BOOST_TEST(modnorm::dual_norm(zero, kind) == 0.0);
    }
  // A zero column stays zero, the others are normalised.
  const Tensor g = matrix({1, 0, 2, 0}, 2, 2);
  expect_values(modnorm::dualize(g, Norm::column),
                {1 * std::sqrt(2.0 / 5), 0, 2 * std::sqrt(2.0 / 5), 0});
}

// Subnormal and huge entries: every map divides by a max-abs first, so the result is the map
// of the same values seen at a normal scale (computed here in f64), never NaN or zero. Down to
// the smallest denormal of f32 (2^-149) and of bf16 (2^-133).
BOOST_AUTO_TEST_CASE(subnormal_and_huge_inputs_dualize_like_any_other) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor g = Tensor::randn({6, 9}, gen, DType::f64);
  struct Case {
    DType dtype;
    double factor;
  };
  for (const Case c : {Case{DType::f32, 1e-39}, Case{DType::f32, 1e-44}, Case{DType::f32, 1e37},
                       Case{DType::bf16, 1e-39}, Case{DType::bf16, 1e-38}, Case{DType::bf16, 1e37}})
    for (const Norm& kind : kAllNorms) {
      const Tensor x = modnorm::scale(g, c.factor).to(c.dtype);
      const double m = modnorm::max_abs(x);
      BOOST_TEST_REQUIRE(m > 0.0);
      const Tensor normal = modnorm::scale(x.to(DType::f64), 1.0 / m);
      DualizeOptions f64;
      f64.orthogonalize.compute_dtype = DType::f64;
      BOOST_TEST_INFO(to_string(kind) << " " << to_string(c.dtype) << " times " << c.factor);
      const Tensor got = modnorm::dualize(x, kind).to(DType::f64);
      BOOST_TEST(modnorm::all_finite(got));
      const Tensor want = modnorm::dualize(normal, kind, f64);
      BOOST_TEST(modnorm::max_abs(modnorm::sub(got, want)) <= 2e-2 * modnorm::max_abs(want));
      BOOST_TEST(modnorm::dual_norm(x, kind) == m * modnorm::dual_norm(normal, kind),
                 tt::tolerance(1e-6));
    }
  // The smallest denormals themselves, one per entry, with a zero column.
  for (const auto& [dtype, tiny] : {std::pair{DType::f32, std::ldexp(1.0, -149)},
                                    std::pair{DType::bf16, std::ldexp(1.0, -133)}}) {
    const Tensor x = Tensor::from_vector_f64({tiny, 0, -tiny, 0}, {2, 2}).to(dtype);
    BOOST_TEST_INFO(to_string(dtype));
    expect_values(modnorm::dualize(x, Norm::sign).to(DType::f32), {1, 0, -1, 0});
    expect_values(modnorm::dualize(x, Norm::column).to(DType::f32), {1, 0, -1, 0});
    const double r2 = std::sqrt(2.0);
    expect_values(modnorm::dualize(x, Norm::euclidean).to(DType::f32), {r2, 0, -r2, 0}, 4e-3);
    const Tensor o = modnorm::dualize(x, Norm::spectral).to(DType::f32);
    const mt::Band band = mt::documented_band(OrthogonalizeMethod::quintic, DType::f32);
    BOOST_TEST(modnorm::norm(o, Norm::spectral, exact_norm()) >= band.lo);
    BOOST_TEST(modnorm::norm(o, Norm::spectral, exact_norm()) <= band.max);
  }
}

BOOST_AUTO_TEST_CASE(hoelder_inequality_holds) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& [rows, cols] : {std::pair{7, 5}, std::pair{5, 7}, std::pair{1, 9}}) {
    const Tensor g = Tensor::randn({rows, cols}, gen);
    for (const Norm& kind : kAllNorms) {
      const double dual = modnorm::dual_norm(g, kind);
      for (int trial = 0; trial < 50; ++trial) {
        const Tensor t = Tensor::randn({rows, cols}, gen);
        BOOST_TEST_INFO(to_string(kind) << " " << rows << "x" << cols);
        BOOST_TEST(modnorm::dot(g, t) <= dual * modnorm::norm(t, kind, exact_norm()) * (1 + 1e-6));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(dualize_beats_random_unit_directions) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor g = Tensor::randn({6, 5}, gen);
  for (const Norm& kind : kAllNorms) {
    const double best = modnorm::dot(g, modnorm::dualize(g, kind, exact_spectral()));
    // The default (quintic) direction, rescaled to unit norm, also beats them.
    const Tensor quintic = modnorm::dualize(g, kind);
    const double quintic_best =
        modnorm::dot(g, quintic) / modnorm::norm(quintic, kind, exact_norm());
    double best_random = -1e300;
    for (int trial = 0; trial < 1000; ++trial)
      best_random = std::max(best_random, modnorm::dot(g, random_unit(g, kind, gen)));
    BOOST_TEST_INFO(to_string(kind) << ": dualize " << best << ", best random " << best_random);
    BOOST_TEST(best_random <= best * (1 + 1e-6));
    BOOST_TEST(best_random <= quintic_best * (1 + 1e-6));
  }
}

BOOST_AUTO_TEST_CASE(dual_norm_correction_scales_by_the_clamped_pairing) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor big = Tensor::randn({8, 12}, gen);  // dual norms well above 1
  const Tensor small = modnorm::scale(big, 1e-4);  // ... and below 1
  DualizeOptions on;
  on.dual_norm_correction.enabled = true;
  BOOST_TEST(DualizeOptions{}.dual_norm_correction.enabled == false);
  BOOST_TEST((on.dual_norm_correction.range == modnorm::CorrectionRange::symmetric));
  DualizeOptions nonnegative = on;
  nonnegative.dual_norm_correction.range = modnorm::CorrectionRange::nonnegative;
  for (const Norm& kind : kAllNorms)
    for (const auto& options : {on, nonnegative}) {
      BOOST_TEST_INFO(to_string(kind));
      const mt::MatD plain_big = mt::to_eigen(modnorm::dualize(big, kind));
      BOOST_TEST((mt::to_eigen(modnorm::dualize(big, kind, options)) - plain_big).norm() <=
                 1e-6 * plain_big.norm());  // clamp(dual, lo, 1) = 1
      const double dual = modnorm::dual_pairing(small, kind);
      BOOST_TEST_REQUIRE(dual < 1.0);
      const mt::MatD expected = dual * mt::to_eigen(modnorm::dualize(small, kind));
      BOOST_TEST((mt::to_eigen(modnorm::dualize(small, kind, options)) - expected).norm() <=
                 1e-5 * expected.norm());
    }
  // The published form pairs a spectral G with the unscaled O: the factor is <G, O> =
  // <G, dualize(G)> / sqrt(d_out/d_in) (8x12 here); other kinds are unchanged.
  DualizeOptions orthogonalized = on;
  orthogonalized.dual_norm_correction.pairing = modnorm::CorrectionPairing::orthogonalized;
  for (const Norm& kind : kAllNorms) {
    BOOST_TEST_INFO(to_string(kind));
    const double shape = kind == Norm::spectral ? std::sqrt(8.0 / 12.0) : 1.0;
    const mt::MatD expected =
        modnorm::dual_pairing(small, kind) / shape * mt::to_eigen(modnorm::dualize(small, kind));
    BOOST_TEST((mt::to_eigen(modnorm::dualize(small, kind, orthogonalized)) - expected).norm() <=
               1e-5 * expected.norm());
  }
}

BOOST_AUTO_TEST_CASE(spectral_norm_by_power_iteration) {
  MODNORM_FRESH_GENERATOR(gen);
  // A spectral gap of 0.8: converges to the tolerance.
  Eigen::VectorXd s = mt::log_spaced(20, 3);
  s(1) = 0.8;
  for (const auto& [rows, cols] : {std::pair{20, 50}, std::pair{50, 20}}) {
    mt::MatD g =
        mt::with_spectrum(std::min(rows, cols), std::max(rows, cols), 3.0 * s, gen).matrix();
    if (rows > cols) g.transposeInPlace();
    const double estimate = modnorm::spectral_norm(mt::from_eigen(g));
    BOOST_TEST(estimate == 3.0, tt::tolerance(1e-4));
  }
  // No gap at all (sigma_1 = sigma_2 = sigma_3) and Gaussian matrices, whose top singular values
  // can be arbitrarily close: a lower bound, and close. (A single power vector stopped 3% low on
  // Gaussian 64x48 matrices, seeds 1795445666423672964 and 1795445682277364595: the orthogonal
  // iteration's rate is set by sigma_5 / sigma_1 instead.)
  Eigen::VectorXd flat_top = mt::log_spaced(48, 2);
  flat_top(1) = flat_top(2) = 1.0;
  std::vector<Tensor> cases = {
      mt::from_eigen(4.0 * mt::with_spectrum(64, 48, flat_top, gen).matrix())};
  for (int trial = 0; trial < 10; ++trial) cases.push_back(Tensor::randn({64, 48}, gen));
  for (const Tensor& c : cases) {
    const double exact = modnorm::spectral_norm(c, exact_norm());
    const double estimate = modnorm::spectral_norm(c);
    BOOST_TEST(estimate <= exact * (1 + 1e-6));
    BOOST_TEST(estimate >= (1 - 1e-3) * exact);
  }
  const Tensor w = cases.back();
  const double exact = modnorm::spectral_norm(w, exact_norm());
  const double estimate = modnorm::spectral_norm(w);
  // deterministic for a seed; 1x1 and zero
  BOOST_TEST(modnorm::spectral_norm(w) == estimate);
  BOOST_TEST(modnorm::spectral_norm(matrix({-2.5f}, 1, 1)) == 2.5, tt::tolerance(1e-6));
  BOOST_TEST(modnorm::spectral_norm(Tensor::zeros({3, 3})) == 0.0);
  BOOST_TEST(modnorm::spectral_norm(w.to(DType::bf16)) == exact, tt::tolerance(3e-2));
}

BOOST_AUTO_TEST_CASE(works_for_bf16_and_f64_inputs) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor g32 = Tensor::randn({16, 24}, gen);
  for (const DType dtype : {DType::bf16, DType::f64})
    for (const Norm& kind : kAllNorms) {
      BOOST_TEST_INFO(to_string(kind) << " " << to_string(dtype));
      const Tensor g = g32.to(dtype);
      const Tensor d = modnorm::dualize(g, kind);
      BOOST_TEST(d.dtype() == dtype);
      BOOST_TEST(d.shape() == g.shape());
      const double tol = dtype == DType::bf16 ? 2e-2 : 1e-5;
      BOOST_TEST(modnorm::dot(g, d) == modnorm::dual_pairing(g, kind), tt::tolerance(tol));
      BOOST_TEST(modnorm::dual_norm(g, kind) == modnorm::dual_norm(g32, kind), tt::tolerance(tol));
    }
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected_with_a_clear_error) {
  auto throws_with = [](auto&& fn, const std::string& op, const std::string& needle) {
    try {
      fn();
    } catch (const modnorm::Error& e) {
      const std::string what = e.what();
      BOOST_TEST_INFO("message: " << what);
      BOOST_TEST(what.rfind("[" + op + "]", 0) == 0);
      BOOST_TEST(what.find(needle) != std::string::npos);
      return;
    }
    BOOST_ERROR("no modnorm::Error thrown by " << op << "; expected '" << needle << "'");
  };
  const Tensor vector = Tensor::full({5}, 1.0);
  const Tensor cube = Tensor::full({2, 2, 2}, 1.0);
  const Tensor hypercube = Tensor::full({2, 2, 2, 2}, 1.0);
  for (const Norm& kind : {Norm::spectral, Norm::column}) {
    throws_with([&] { modnorm::dualize(vector, kind); }, "dualize", "rank 2");
    throws_with([&] { modnorm::dual_norm(hypercube, kind); }, "dual_norm", "[2x2x2x2] f32 cpu");
    throws_with([&] { modnorm::norm(vector, kind); }, "norm", "rank 2");
  }
  // spectral takes a batch of matrices (rank 3), column does not.
  throws_with([&] { modnorm::dual_norm(cube, Norm::column); }, "dual_norm", "[2x2x2] f32 cpu");
  throws_with([&] { modnorm::spectral_norm(hypercube); }, "spectral_norm", "rank 3");
  // Entrywise kinds take any rank.
  for (const Norm& kind : {Norm::sign, Norm::euclidean}) {
    BOOST_TEST(modnorm::dualize(cube, kind).shape() == cube.shape());
    BOOST_TEST(modnorm::norm(vector, kind) == 1.0, tt::tolerance(1e-6));
  }
  for (const Norm& kind : kAllNorms)
    throws_with([&] { modnorm::dualize(Tensor::zeros({0, 3}), kind); }, "dualize", "non-empty");

  std::vector<float> values(6, 1.0f);
  values[4] = INFINITY;
  const Tensor inf = matrix(values, 2, 3);
  values[4] = std::nanf("");
  const Tensor nan = matrix(values, 2, 3);
  for (const Norm& kind : kAllNorms) {
    BOOST_TEST_INFO(to_string(kind));
    throws_with([&] { modnorm::dualize(nan, kind); }, "dualize", "NaN at [1, 1]");
    throws_with([&] { modnorm::dualize(inf, kind); }, "dualize", "+Inf at [1, 1]");
    throws_with([&] { modnorm::dual_norm(nan, kind); }, "dual_norm", "NaN");
    throws_with([&] { modnorm::norm(inf, kind); }, "norm", "Inf");
  }
  throws_with([&] { modnorm::spectral_norm(nan); }, "spectral_norm", "NaN");
  throws_with([&] { modnorm::spectral_norm(vector); }, "spectral_norm", "rank 2");
  modnorm::SpectralNormOptions bad;
  bad.max_iterations = 0;
  throws_with([&] { modnorm::spectral_norm(inf, bad); }, "spectral_norm", "max_iterations");
  bad = {};
  bad.tolerance = 0;
  throws_with([&] { modnorm::spectral_norm(inf, bad); }, "spectral_norm", "tolerance");

  DualizeOptions zero_steps;
  zero_steps.orthogonalize.steps = 0;
  throws_with(
      [&] {
        modnorm::dualize(matrix(std::vector<float>(6, 1.0f), 2, 3), Norm::spectral, zero_steps);
      },
      "dualize", "steps must be >= 1");
  DualizeOptions empty_list;
  empty_list.orthogonalize.method = OrthogonalizeMethod::custom;
  throws_with(
      [&] {
        modnorm::dual_pairing(matrix(std::vector<float>(6, 1.0f), 2, 3), Norm::spectral,
                              empty_list);
      },
      "dual_pairing", "non-empty coefficient list");
}

BOOST_AUTO_TEST_CASE(names_print) {
  BOOST_TEST(std::string(modnorm::to_string(Norm::spectral)) == "spectral");
  BOOST_TEST(std::string(modnorm::to_string(Norm::column)) == "column");
  BOOST_TEST(std::string(modnorm::to_string(Norm::sign)) == "sign");
  BOOST_TEST(std::string(modnorm::to_string(Norm::euclidean)) == "euclidean");
  BOOST_TEST(std::string(modnorm::to_string(OrthogonalizeMethod::polar_express)) ==
             "polar_express");
}

BOOST_AUTO_TEST_SUITE_END()
