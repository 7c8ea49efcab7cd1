// modnorm::Optimizer: every option against an independent float64 reference written
// here with Eigen, the modular shares of docs/modules.md, NorMuon's norm preservation, cautious
// decay's mask, bit-for-bit resume from state(), and the errors of bad input.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "dualize/dualize_support.hpp"
#include "modnorm/modnorm.hpp"
#include "modnorm/optim.hpp"

namespace mt = modnorm::test;
using modnorm::Algorithm;
using modnorm::AtomOptions;
using modnorm::CorrectionMode;
using modnorm::CorrectionPairing;
using modnorm::CorrectionRange;
using modnorm::DType;
using modnorm::Module;
using modnorm::Norm;
using modnorm::Optimizer;
using modnorm::OptimizerOptions;
using modnorm::OrthogonalizeMethod;
using modnorm::Parameter;
using modnorm::Tensor;
using modnorm::WeightDecay;
using mt::MatD;
namespace tt = boost::test_tools;

namespace {

// ---- nets and tensors
// ----------------------------------------------------------------------------

AtomOptions atom(DType dtype, double mass = 1.0, std::optional<Norm> norm = std::nullopt) {
  AtomOptions a;
  a.dtype = dtype;
  a.mass = mass;
  a.norm = norm;
  return a;
}

// A user-written bond of sensitivity 0 (y = 0): every atom before it has coefficient 0.
class Silent final : public modnorm::Cloneable<Silent, modnorm::BondImpl> {
 public:
  std::string describe() const override { return "Silent"; }
  double sensitivity() const override { return 0.0; }
  Tensor forward(const Tensor& x) override { return modnorm::scale(x, 0.0); }
  Tensor backward(const Tensor& dy, bool) override { return modnorm::scale(dy, 0.0); }
};

// Linear(5 -> 4, mass m1) >> ReLU >> Linear(4 -> 3, mass m2): parameters "0.weight" [4x5] and
// "2.weight" [3x4]; M = m1 + m2, c_0 = M / m1 (ReLU and Linear have sensitivity 1), c_2 = M / m2.
Module mlp(DType dtype = DType::f64, double m1 = 1.0, double m2 = 3.0) {
  return modnorm::Sequential{modnorm::Linear(5, 4, atom(dtype, m1)), modnorm::ReLU(),
                             modnorm::Linear(4, 3, atom(dtype, m2))};
}

// Linear(5 -> 4) >> Bias(4) >> ReLU >> Linear(4 -> 6): a wide, a vector and a tall atom
// ("0.weight" [4x5], "1.weight" [4], "3.weight" [6x4]); c = 3 for each.
Module mlp_with_bias(DType dtype = DType::f64) {
  return modnorm::Sequential{modnorm::Linear(5, 4, atom(dtype)), modnorm::Bias(4, atom(dtype)),
                             modnorm::ReLU(), modnorm::Linear(4, 6, atom(dtype))};
}

// Any tensor as a double matrix (a vector [n] becomes n x 1).
MatD mat(const Tensor& t) {
  const std::vector<double> v = t.to_vector_f64();
  const Eigen::Index cols = t.rank() == 2 ? t.dim(1) : 1;
  return Eigen::Map<const MatD>(v.data(), static_cast<Eigen::Index>(v.size()) / cols, cols);
}

std::vector<double> flat(const MatD& m) {
  return {m.data(), m.data() + m.size()};
}
std::vector<double> flat(const Tensor& t) {
  return t.to_vector_f64();
}

// Copies `g` into the parameter's gradient (converted to its dtype).
void set_grad(const Parameter& p, const MatD& g) {
  const Tensor src = Tensor::from_vector_f64(flat(g), p.grad.shape()).to(p.grad.dtype());
  Tensor dst = p.grad;
  modnorm::axpy(1.0, src, dst, 0.0);
}

// Fresh Gaussian gradients (times `scale`) for every parameter, set into the tree.
std::vector<MatD> random_grads(const Module& net, modnorm::Generator& gen, double scale = 1.0) {
  std::vector<MatD> grads;
  for (const Parameter& p : net.parameters()) {
    const Eigen::Index cols = p.grad.rank() == 2 ? p.grad.dim(1) : 1;
    grads.push_back(scale * mt::gaussian(p.grad.numel() / cols, cols, gen));
    set_grad(p, grads.back());
  }
  return grads;
}

std::vector<std::vector<float>> weights_f32(const Module& net) {
  std::vector<std::vector<float>> out;
  for (const Parameter& p : net.parameters()) out.push_back(p.weight.to_vector());
  return out;
}

// ---- the float64 reference
// -----------------------------------------------------------------------

double sign_of(double x) {
  return static_cast<double>((x > 0) - (x < 0));
}

// Muon's quintic (3.4445, -4.7750, 2.0315), 5 steps, on G / ||G||_F, tall inputs transposed.
MatD quintic_polar(const MatD& g) {
  const bool tall = g.rows() > g.cols();
  MatD x = tall ? MatD(g.transpose()) : g;
  x /= x.norm();
  for (int k = 0; k < 5; ++k) {
    const MatD a = x * x.transpose();
    const MatD b = -4.7750 * a + 2.0315 * a * a;
    x = 3.4445 * x + b * x;
  }
  if (tall) x.transposeInPlace();
  return x;
}

// The duality maps of docs/theory.md (spectral: exact JacobiSVD, or the quintic above).
MatD reference_dualize(const MatD& g, const Norm& kind, bool quintic) {
  const auto rows = static_cast<double>(g.rows()), cols = static_cast<double>(g.cols());
  if (kind == Norm::spectral)
    return quintic ? MatD(std::sqrt(rows / cols) * quintic_polar(g))
                   : mt::jacobi_dualize_spectral(g);
  if (kind == Norm::sign) return g.unaryExpr(&sign_of);
  if (kind == Norm::euclidean) {
    const double n = g.norm();
    return n == 0.0 ? MatD(MatD::Zero(g.rows(), g.cols()))
                    : MatD(g * std::sqrt(static_cast<double>(g.size())) / n);
  }
  BOOST_REQUIRE(kind == Norm::column);
  MatD out = g;
  for (Eigen::Index j = 0; j < g.cols(); ++j) {
    const double n = g.col(j).norm();
    out.col(j) = n == 0.0 ? Eigen::VectorXd::Zero(g.rows()).eval()
                          : Eigen::VectorXd(g.col(j) * std::sqrt(rows) / n);
  }
  return out;
}

// The optimizer of optim.hpp written out in double with Eigen, one atom at a time.
struct Reference {
  OptimizerOptions o;
  bool quintic = false;  // spectral via the quintic instead of the exact polar factor
  std::vector<double> c, multiplier;
  std::vector<Norm> norms;
  std::vector<bool> matrix;
  std::vector<MatD> w, m, v, row_v;
  std::int64_t t = 0;

  Reference(const OptimizerOptions& options, const std::vector<Parameter>& params) : o(options) {
    for (const Parameter& p : params) {
      c.push_back(p.coefficient);
      multiplier.push_back(1.0);
      norms.push_back(p.norm);
      for (const auto& ov : o.overrides)
        if (ov.name == p.name) multiplier.back() = ov.lr_multiplier;
      matrix.push_back(p.weight.rank() == 2);
      w.push_back(mat(p.weight));
      m.push_back(MatD::Zero(w.back().rows(), w.back().cols()));
      v.push_back(m.back());
      row_v.push_back(MatD::Zero(w.back().rows(), 1));
    }
  }

  // One step with gradients g and scheduled lr; returns Delta W per atom.
  std::vector<MatD> step(const std::vector<MatD>& g, double lr) {
    ++t;
    const double beta = o.beta;
    const double lo = o.correction.range == CorrectionRange::nonnegative ? 0.0 : -1.0;
    std::vector<MatD> direction(g.size()), delta(g.size());
    std::vector<double> scale(g.size(), 0.0);
    double dual_norm = 0.0;
    for (std::size_t l = 0; l < g.size(); ++l) {
      delta[l] = MatD::Zero(g[l].rows(), g[l].cols());
      if (std::isinf(c[l])) continue;
      m[l] = beta * m[l] + (1 - beta) * g[l];
      const MatD u = o.nesterov ? MatD((1 - beta) * g[l] + beta * m[l]) : m[l];
      switch (o.algorithm) {
        case Algorithm::modular: {
          MatD d = reference_dualize(u, norms[l], quintic);
          double pairing = u.cwiseProduct(d).sum();
          // The published form pairs u with the unscaled O = d / sqrt(d_out / d_in).
          if (o.correction.pairing == CorrectionPairing::orthogonalized &&
              norms[l] == Norm::spectral)
            pairing /= std::sqrt(static_cast<double>(u.rows()) / static_cast<double>(u.cols()));
          // The step is the tree's map dualize(u) / c_l, which NorMuon then normalises.
          d /= c[l];
          if (o.normuon.enabled && matrix[l]) {
            const double b2 = o.normuon.beta2;
            row_v[l] = b2 * row_v[l] + (1 - b2) * d.cwiseProduct(d).rowwise().mean();
            MatD normalized = d;
            for (Eigen::Index i = 0; i < d.rows(); ++i)
              normalized.row(i) /= std::sqrt(row_v[l](i, 0)) + o.normuon.eps;
            d = normalized * (d.norm() / normalized.norm());
          }
          double k = 1.0;
          if (o.correction.mode == CorrectionMode::per_layer) k = std::clamp(pairing, lo, 1.0);
          direction[l] = d;
          scale[l] = k;
          dual_norm += pairing / c[l];
          break;
        }
        case Algorithm::sgd:
          direction[l] = u;
          scale[l] = 1.0;
          break;
        case Algorithm::adamw:
        case Algorithm::adaptive_adam: {
          const double b2 = o.adam.beta2;
          v[l] = b2 * v[l] + (1 - b2) * g[l].cwiseProduct(g[l]);
          const MatD m_hat = m[l] / (1 - std::pow(beta, static_cast<double>(t)));
          const MatD v_hat = v[l] / (1 - std::pow(b2, static_cast<double>(t)));
          direction[l] = m_hat.array() / (v_hat.array().sqrt() + o.adam.eps);
          scale[l] = o.algorithm == Algorithm::adaptive_adam
                         ? std::clamp(m_hat.cwiseProduct(direction[l]).sum(), -1.0, 1.0)
                         : 1.0;
          break;
        }
      }
    }
    const double global =
        o.correction.mode == CorrectionMode::global ? std::clamp(dual_norm, lo, 1.0) : 1.0;
    for (std::size_t l = 0; l < g.size(); ++l) {
      if (std::isinf(c[l])) continue;
      const double atom_lr = lr * multiplier[l];
      delta[l] = -atom_lr * scale[l] * global * direction[l];
      const double decay = atom_lr * o.weight_decay.coefficient;
      if (o.weight_decay.mode == WeightDecay::decoupled) delta[l] -= decay * w[l];
      if (o.weight_decay.mode == WeightDecay::cautious) {
        // decay where the subtracted update -Delta W has the sign of W (or either is 0)
        const MatD mask = ((-delta[l]).cwiseProduct(w[l]).array() >= 0.0).cast<double>();
        delta[l] -= decay * mask.cwiseProduct(w[l]);
      }
      w[l] += delta[l];
    }
    return delta;
  }
};

// Runs the optimizer and the reference side by side for `steps` steps of random gradients;
// every Delta W and the final weights agree to `tol` (relative).
void expect_matches_reference(Module net, const OptimizerOptions& options, int steps, double tol,
                              modnorm::Generator& gen, double grad_scale = 1.0,
                              bool quintic = false) {
  net.initialize(gen);
  Reference reference(options, net.parameters());
  reference.quintic = quintic;
  Optimizer opt(net, options);
  for (int k = 0; k < steps; ++k) {
    const std::vector<MatD> g = random_grads(net, gen, grad_scale);
    const double lr = opt.lr();
    opt.step();
    const std::vector<MatD> expected = reference.step(g, lr);
    const auto params = net.parameters();
    for (std::size_t l = 0; l < expected.size(); ++l) {
      BOOST_TEST_INFO("step " << k << ", parameter '" << params[l].name << "'");
      BOOST_TEST(mt::rel_error(flat(opt.last_updates()[l]), flat(expected[l])) < tol);
    }
  }
  const auto params = net.parameters();
  for (std::size_t l = 0; l < params.size(); ++l) {
    BOOST_TEST_INFO("final weight '" << params[l].name << "'");
    BOOST_TEST(mt::rel_error(flat(params[l].weight), flat(reference.w[l])) < tol);
  }
}

OptimizerOptions exact(Algorithm algorithm = Algorithm::modular) {
  OptimizerOptions o;
  o.algorithm = algorithm;
  o.orthogonalize.method = OrthogonalizeMethod::svd;
  o.lr = 0.1;
  o.beta = 0.9;
  return o;
}

// BOOST_CHECK_EXCEPTION predicate: a modnorm::Error whose message holds every fragment.
std::function<bool(const modnorm::Error&)> says(std::vector<std::string> fragments) {
  return [fragments](const modnorm::Error& e) {
    const std::string what = e.what();
    for (const std::string& f : fragments)
      if (what.find(f) == std::string::npos) {
        BOOST_TEST_MESSAGE("message '" << what << "' lacks '" << f << "'");
        return false;
      }
    return true;
  };
}

constexpr double kTol = 1e-9;  // f64 against f64 with the exact polar factor

}  // namespace

BOOST_AUTO_TEST_SUITE(optimizer)

// ---- the modular step
// ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(modular_step_with_and_without_nesterov_matches_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const bool nesterov : {false, true}) {
    BOOST_TEST_INFO("nesterov " << nesterov);
    OptimizerOptions o = exact();
    o.nesterov = nesterov;
    expect_matches_reference(mlp(), o, 3, kTol, gen);
    expect_matches_reference(mlp_with_bias(), o, 3, kTol, gen);
  }
}

BOOST_AUTO_TEST_CASE(modular_step_without_momentum_is_the_dualized_gradient) {
  // beta = 0: Delta W_l = -lr * sqrt(d_out/d_in) U V^T / c_l, by hand for a diagonal gradient.
  Module net = modnorm::Linear(4, 2, atom(DType::f64));
  modnorm::Generator gen(1);
  net.initialize(gen);
  const Parameter p = net.parameters()[0];
  BOOST_TEST(p.coefficient == 1.0);
  MatD g = MatD::Zero(2, 4);
  g(0, 0) = 2.0;
  g(1, 1) = -1.0;
  set_grad(p, g);
  OptimizerOptions o = exact();
  o.beta = 0.0;
  o.lr = 0.5;
  Optimizer opt(net, o);
  opt.step();
  const double s = 0.5 * std::sqrt(0.5);
  const std::vector<double> expected = {-s, 0, 0, 0, 0, s, 0, 0};
  BOOST_TEST(mt::max_abs_diff(flat(opt.last_updates()[0]), expected) < 1e-12);
}

BOOST_AUTO_TEST_CASE(muon_quintic_step_matches_float64_newton_schulz) {
  MODNORM_FRESH_GENERATOR(gen);
  OptimizerOptions o;  // the default quintic, 5 steps
  o.orthogonalize.compute_dtype = DType::f64;
  o.beta = 0.95;
  o.nesterov = true;
  o.lr = 0.02;
  expect_matches_reference(mlp(DType::f64), o, 4, 1e-5, gen, 1.0, /*quintic=*/true);
  expect_matches_reference(mlp_with_bias(DType::f64), o, 4, 1e-5, gen, 1.0, true);
  // The f32 default path tracks the same float64 reference closely.
  OptimizerOptions f32 = o;
  f32.orthogonalize.compute_dtype = DType::f32;
  expect_matches_reference(mlp(DType::f32), f32, 4, 2e-3, gen, 1.0, true);
}

BOOST_AUTO_TEST_CASE(per_layer_correction_scales_by_clamped_own_dual_norm) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const CorrectionRange range : {CorrectionRange::symmetric, CorrectionRange::nonnegative})
    for (const CorrectionPairing pairing :
         {CorrectionPairing::dualized, CorrectionPairing::orthogonalized})
      for (const double grad_scale : {1e-2, 10.0}) {  // pairing below 1, and clamped at 1
        BOOST_TEST_INFO("range " << static_cast<int>(range) << ", pairing "
                                 << static_cast<int>(pairing) << ", gradient scale " << grad_scale);
        OptimizerOptions o = exact();
        o.correction = {CorrectionMode::per_layer, range, pairing};
        expect_matches_reference(mlp(), o, 3, kTol, gen, grad_scale);
        expect_matches_reference(mlp_with_bias(), o, 2, kTol, gen, grad_scale);
      }
}

// The published form on a non-square atom differs from the default by exactly the shape
// factor inside the clamp: with one 4x9 atom and a small gradient (no clamping), the
// orthogonalized pairing's step is the default's divided by sqrt(4/9).
BOOST_AUTO_TEST_CASE(orthogonalized_pairing_drops_the_shape_factor_from_the_correction) {
  MODNORM_FRESH_GENERATOR(gen);
  Module a = modnorm::Linear(9, 4, atom(DType::f64)), b = modnorm::Linear(9, 4, atom(DType::f64));
  a.initialize(gen);
  b.initialize(gen);
  const MatD g = 1e-3 * mt::gaussian(4, 9, gen);
  set_grad(a.parameters()[0], g);
  set_grad(b.parameters()[0], g);
  OptimizerOptions dualized = exact();
  dualized.correction.mode = CorrectionMode::per_layer;
  OptimizerOptions orthogonalized = dualized;
  orthogonalized.correction.pairing = CorrectionPairing::orthogonalized;
  Optimizer oa(a, dualized), ob(b, orthogonalized);
  oa.step();
  ob.step();
  const MatD ua = mat(oa.last_updates()[0]), ub = mat(ob.last_updates()[0]);
  BOOST_TEST((ub - ua / std::sqrt(4.0 / 9.0)).norm() <= 1e-12 * ub.norm());
}

BOOST_AUTO_TEST_CASE(global_correction_scales_by_clamped_modular_dual_norm) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const double grad_scale : {1e-2, 10.0}) {
    BOOST_TEST_INFO("gradient scale " << grad_scale);
    OptimizerOptions o = exact();
    o.correction.mode = CorrectionMode::global;
    expect_matches_reference(mlp(), o, 3, kTol, gen, grad_scale);
  }
  // By hand, one atom, beta = 0, g = diag(0.3, 0.1) in 2x2: U V^T = I, sqrt(d_out/d_in) = 1,
  // dual norm = nuclear norm = 0.4; c = 1 -> Delta W = -lr * 0.4 * I.
  Module net = modnorm::Linear(2, 2, atom(DType::f64));
  net.initialize(gen);
  MatD g = MatD::Zero(2, 2);
  g(0, 0) = 0.3;
  g(1, 1) = 0.1;
  set_grad(net.parameters()[0], g);
  OptimizerOptions o = exact();
  o.beta = 0.0;
  o.correction.mode = CorrectionMode::global;
  Optimizer opt(net, o);
  opt.step();
  BOOST_TEST(mt::max_abs_diff(flat(opt.last_updates()[0]), {-0.04, 0, 0, -0.04}) < 1e-12);
}

BOOST_AUTO_TEST_CASE(normuon_matches_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  OptimizerOptions o = exact();
  o.normuon.enabled = true;
  o.normuon.beta2 = 0.9;
  expect_matches_reference(mlp(), o, 4, kTol, gen);
  expect_matches_reference(mlp_with_bias(), o, 4, kTol, gen);  // the Bias is left as dualized
  o.nesterov = true;
  o.correction.mode = CorrectionMode::per_layer;
  expect_matches_reference(mlp_with_bias(), o, 3, kTol, gen, 0.05);
}

BOOST_AUTO_TEST_CASE(normuon_keeps_the_frobenius_norm_of_the_dualized_update) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const DType dtype : {DType::f32, DType::f64}) {
    Module net = mlp_with_bias(dtype);
    net.initialize(gen);
    OptimizerOptions o;  // default quintic
    o.beta = 0.0;        // so that u = g and dualize(g) is the reference
    o.normuon.enabled = true;
    Optimizer opt(net, o);
    for (int k = 0; k < 4; ++k) {
      random_grads(net, gen);
      const auto params = net.parameters();
      std::vector<double> expected;
      modnorm::DualizeOptions d;
      d.orthogonalize = o.orthogonalize;
      for (const Parameter& p : params)
        expected.push_back(modnorm::frobenius_norm(modnorm::dualize(p.grad, p.norm, d)) * o.lr /
                           p.coefficient);
      opt.step();
      for (std::size_t l = 0; l < params.size(); ++l) {
        BOOST_TEST_INFO(to_string(dtype) << ", step " << k << ", '" << params[l].name << "'");
        BOOST_TEST(modnorm::frobenius_norm(opt.last_updates()[l]) == expected[l],
                   tt::tolerance(dtype == DType::f32 ? 1e-5 : 1e-12));
      }
    }
  }
}

// ---- modular shares (docs/modules.md)
// ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(modular_shares_follow_mass_and_sensitivity) {
  MODNORM_FRESH_GENERATOR(gen);
  modnorm::SpectralNormOptions exact_norm;
  exact_norm.exact = true;
  struct Case {
    const char* name;
    Module net;
    double c0, c2;  // hand values of the coefficients
  };
  // Sequential{Linear m=1, ReLU (s=1), Linear m=3}: M = 4, c_0 = (4/1) * 1 * 1, c_2 = 4/3.
  // With Scale(0.5) instead of ReLU: c_0 = (4/1) * 0.5 * 1 = 2.
  std::vector<Case> cases = {
      {"ReLU", mlp(DType::f64, 1.0, 3.0), 4.0, 4.0 / 3.0},
      {"Scale(0.5)",
       modnorm::Sequential{modnorm::Linear(5, 4, atom(DType::f64, 1.0)), modnorm::Scale(0.5),
                           modnorm::Linear(4, 3, atom(DType::f64, 3.0))},
       2.0, 4.0 / 3.0}};
  for (Case& c : cases)
    for (const bool exact_polar : {true, false}) {
      BOOST_TEST_INFO(c.name << (exact_polar ? ", svd" : ", quintic"));
      c.net.initialize(gen);
      const auto params = c.net.parameters();
      BOOST_TEST(params[0].coefficient == c.c0, tt::tolerance(1e-12));
      BOOST_TEST(params[1].coefficient == c.c2, tt::tolerance(1e-12));
      OptimizerOptions o = exact_polar ? exact() : OptimizerOptions{};
      o.beta = 0.0;
      o.lr = 0.3;
      Optimizer opt(c.net, o);
      random_grads(c.net, gen);
      opt.step();
      // Each dualized update has unit norm in its own norm and is divided by c_l.
      const double n0 = modnorm::norm(opt.last_updates()[0], Norm::spectral, exact_norm);
      const double n2 = modnorm::norm(opt.last_updates()[1], Norm::spectral, exact_norm);
      if (exact_polar) {
        BOOST_TEST(n0 == o.lr / c.c0, tt::tolerance(1e-10));
        BOOST_TEST(n2 == o.lr / c.c2, tt::tolerance(1e-10));
        // so the update has modular norm lr: max_l c_l ||Delta W_l||_l
        BOOST_TEST(std::max(c.c0 * n0, c.c2 * n2) == o.lr, tt::tolerance(1e-10));
      } else {  // the quintic's documented band (dualize.hpp)
        const mt::Band band = mt::documented_band(OrthogonalizeMethod::quintic, DType::f32);
        BOOST_TEST(n0 * c.c0 / o.lr >= band.lo);
        BOOST_TEST(n0 * c.c0 / o.lr <= band.max);
        BOOST_TEST(n2 * c.c2 / o.lr >= band.lo);
        BOOST_TEST(n2 * c.c2 / o.lr <= band.max);
      }
    }
}

BOOST_AUTO_TEST_CASE(zero_mass_atoms_are_not_updated) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Algorithm algorithm :
       {Algorithm::modular, Algorithm::sgd, Algorithm::adamw, Algorithm::adaptive_adam}) {
    BOOST_TEST_INFO(to_string(algorithm));
    Module net = mlp(DType::f32, 0.0, 1.0);
    net.initialize(gen);
    const auto before = weights_f32(net);
    OptimizerOptions o;
    o.algorithm = algorithm;
    o.weight_decay.mode = WeightDecay::decoupled;
    Optimizer opt(net, o);
    random_grads(net, gen);
    opt.step();
    const auto after = weights_f32(net);
    BOOST_TEST((after[0] == before[0]));
    BOOST_TEST(modnorm::max_abs(opt.last_updates()[0]) == 0.0);
    BOOST_TEST((after[1] != before[1]));
  }
}

// ---- weight decay
// ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(decoupled_and_cautious_decay_match_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const WeightDecay mode : {WeightDecay::decoupled, WeightDecay::cautious})
    for (const Algorithm algorithm : {Algorithm::modular, Algorithm::sgd, Algorithm::adamw}) {
      BOOST_TEST_INFO(to_string(mode) << ", " << to_string(algorithm));
      OptimizerOptions o = exact(algorithm);
      o.weight_decay = {mode, 0.3};
      o.overrides.push_back({"2.weight", 0.5});  // decay uses lr * multiplier
      expect_matches_reference(mlp(), o, 3, kTol, gen);
    }
}

BOOST_AUTO_TEST_CASE(cautious_decay_touches_exactly_the_masked_entries) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const DType dtype : {DType::f32, DType::f64})
    for (const Algorithm algorithm : {Algorithm::sgd, Algorithm::modular}) {
      BOOST_TEST_INFO(to_string(dtype) << ", " << to_string(algorithm));
      // Two identical nets, one without decay; beta = 0, so sign(-Delta W) = sign(g) for sgd
      // and, with the sign norm, for modular too.
      // Modular: the sign norm, so that the step's sign is the gradient's entrywise (sgd ignores
      // the norm: Linear's own).
      const Norm sign = algorithm == Algorithm::modular ? Norm::sign : Norm::spectral;
      Module plain = modnorm::Linear(6, 5, atom(dtype, 1.0, sign));
      Module decayed = modnorm::Linear(6, 5, atom(dtype, 1.0, sign));
      plain.initialize(gen);
      const Parameter p = plain.parameters()[0], q = decayed.parameters()[0];
      MatD w = mat(p.weight);
      w(0, 0) = 0.0;  // W = 0: masked (0 >= 0) but nothing to decay
      w(1, 1) = 0.0;
      MatD g = mt::gaussian(5, 6, gen);
      g(2, 2) = 0.0;  // g = 0: masked, decayed
      g(1, 1) = 0.0;
      for (const Parameter& r : {p, q}) {
        Tensor dst = r.weight;
        modnorm::axpy(1.0, Tensor::from_vector_f64(flat(w), {5, 6}).to(dtype), dst, 0.0);
        set_grad(r, g);
      }
      OptimizerOptions o;
      o.algorithm = algorithm;
      o.beta = 0.0;
      o.lr = 0.1;
      OptimizerOptions oc = o;
      oc.weight_decay = {WeightDecay::cautious, 0.5};
      Optimizer(plain, o).step();
      Optimizer(decayed, oc).step();
      const std::vector<double> a = flat(p.weight), b = flat(q.weight), before = flat(w),
                                grad = flat(g);
      int masked = 0, unmasked = 0;
      for (std::size_t k = 0; k < a.size(); ++k) {
        BOOST_TEST_INFO("entry " << k << ": W " << before[k] << ", g " << grad[k]);
        // the subtracted update lr * dualize(g) has the sign of g
        const bool mask = grad[k] * before[k] >= 0.0;
        if (mask) {
          ++masked;
          const double expected = -o.lr * oc.weight_decay.coefficient * before[k];
          // b and a are each rounded once to the dtype, so their difference carries an
          // absolute error of a few ulps of |a| + |b| (a relative bound would fail when the
          // decay is small next to the weight).
          const double ulp = dtype == DType::f32 ? 1.2e-7 : 2.3e-16;
          BOOST_TEST(std::abs((b[k] - a[k]) - expected) <=
                     4 * ulp * (std::abs(a[k]) + std::abs(b[k]) + std::abs(before[k])));
        } else {
          ++unmasked;
          BOOST_TEST(b[k] == a[k]);  // untouched: bit for bit the undecayed step
        }
      }
      BOOST_TEST(masked > 2);
      BOOST_TEST(unmasked > 0);
    }
}

// ---- overrides and baselines
// ---------------------------------------------------------------------

// Multipliers by name; norms where the atoms are built (the tree's duality map uses them).
BOOST_AUTO_TEST_CASE(overrides_set_lr_multipliers_and_atoms_their_norms) {
  MODNORM_FRESH_GENERATOR(gen);
  OptimizerOptions o = exact();
  o.overrides.push_back({"0.weight", 2.0});
  o.overrides.push_back({"2.weight", 0.5});
  const Module signed_head =
      modnorm::Sequential{modnorm::Linear(5, 4, atom(DType::f64, 1.0)), modnorm::ReLU(),
                          modnorm::Linear(4, 3, atom(DType::f64, 3.0, Norm::sign))};
  expect_matches_reference(signed_head, o, 3, kTol, gen);
  OptimizerOptions b = exact();
  b.overrides.push_back({"1.weight", 0.0});  // multiplier 0 keeps the bias still
  const Module mixed = modnorm::Sequential{
      modnorm::Linear(5, 4, atom(DType::f64)), modnorm::Bias(4, atom(DType::f64, 1.0, Norm::sign)),
      modnorm::ReLU(), modnorm::Linear(4, 6, atom(DType::f64, 1.0, Norm::column))};
  expect_matches_reference(mixed, b, 3, kTol, gen);
}

BOOST_AUTO_TEST_CASE(sgd_matches_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const bool nesterov : {false, true}) {
    BOOST_TEST_INFO("nesterov " << nesterov);
    OptimizerOptions o = exact(Algorithm::sgd);
    o.nesterov = nesterov;
    expect_matches_reference(mlp_with_bias(), o, 3, kTol, gen);
  }
}

BOOST_AUTO_TEST_CASE(adamw_is_bias_corrected_and_matches_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  OptimizerOptions o = exact(Algorithm::adamw);
  o.lr = 1e-3;
  o.weight_decay = {WeightDecay::decoupled, 0.1};
  expect_matches_reference(mlp_with_bias(), o, 4, kTol, gen);
  // First step by hand: m_hat = g, v_hat = g^2, so Delta W = -lr * g / (|g| + eps).
  Module net = modnorm::Bias(3, atom(DType::f64));
  net.initialize(gen);
  set_grad(net.parameters()[0], (MatD(3, 1) << 2.0, -0.5, 0.0).finished());
  OptimizerOptions plain = exact(Algorithm::adamw);
  plain.lr = 0.01;
  Optimizer opt(net, plain);
  opt.step();
  const double e = plain.adam.eps;
  BOOST_TEST(mt::max_abs_diff(flat(opt.last_updates()[0]),
                              {-0.01 * 2 / (2 + e), 0.01 * 0.5 / (0.5 + e), 0.0}) < 1e-15);
}

BOOST_AUTO_TEST_CASE(adaptive_adam_scales_by_clamped_pairing) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const double grad_scale : {1e-4, 1.0}) {  // <m_hat, u> below 1, and clamped at 1
    BOOST_TEST_INFO("gradient scale " << grad_scale);
    OptimizerOptions o = exact(Algorithm::adaptive_adam);
    o.lr = 1e-2;
    expect_matches_reference(mlp_with_bias(), o, 3, kTol, gen, grad_scale);
  }
}

BOOST_AUTO_TEST_CASE(bf16_weights_follow_the_f32_step) {
  // The gradients have singular values in [0.5, 1] (relative): at tiny ones the quintic's
  // slope (up to 3.4445^5 = 485 at 0) turns bf16's 0.4% rounding of the momentum into tens of
  // percent (seed 1795445191438287706 drew a Gaussian 4x5 gradient that did: 7.7%), which is
  // the method, not the bf16 path under test.
  MODNORM_FRESH_GENERATOR(gen);
  const std::uint64_t seed = gen.next_u64();
  for (const Algorithm algorithm : {Algorithm::modular, Algorithm::adamw}) {
    BOOST_TEST_INFO(to_string(algorithm));
    std::vector<Module> nets = {mlp(DType::f32), mlp(DType::bf16)};
    std::vector<std::vector<double>> updates;
    for (Module& net : nets) {
      modnorm::Generator same(seed);
      net.initialize(same);
      OptimizerOptions o;
      o.algorithm = algorithm;
      o.normuon.enabled = algorithm == Algorithm::modular;
      Optimizer opt(net, o);
      for (const Parameter& p : net.parameters()) {
        const Eigen::Index rows = p.grad.dim(0), cols = p.grad.dim(1);
        const Eigen::VectorXd spectrum = Eigen::VectorXd::LinSpaced(std::min(rows, cols), 1.0, 0.5);
        set_grad(p, mt::with_spectrum(rows, cols, spectrum, same).matrix());
      }
      opt.step();
      BOOST_TEST(opt.last_updates()[0].dtype() == net.parameters()[0].weight.dtype());
      updates.push_back(flat(opt.last_updates()[0]));
    }
    BOOST_TEST(mt::rel_error(updates[1], updates[0]) < 5e-2);
  }
}

// ---- state
// -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(state_names_follow_the_parameters) {
  Module net = mlp_with_bias(DType::f32);
  OptimizerOptions o;
  o.normuon.enabled = true;
  std::vector<std::string> names;
  for (const auto& [name, t] : Optimizer(net, o).state()) names.push_back(name);
  const std::vector<std::string> expected = {"step",
                                             "0.weight.momentum",
                                             "0.weight.row_second_moment",
                                             "1.weight.momentum",
                                             "3.weight.momentum",
                                             "3.weight.row_second_moment"};
  BOOST_TEST(names == expected, tt::per_element());

  OptimizerOptions adam;
  adam.algorithm = Algorithm::adamw;
  const auto entries = Optimizer(net, adam).state();
  BOOST_TEST_REQUIRE(entries.size() == 7u);
  BOOST_TEST(entries[1].first == "0.weight.momentum");
  BOOST_TEST(entries[2].first == "0.weight.second_moment");
  BOOST_TEST(entries[0].second.dtype() == DType::f64);
  BOOST_TEST(entries[0].second.item() == 0.0);
  BOOST_TEST((entries[2].second.shape() == modnorm::Shape{4, 5}));
}

BOOST_AUTO_TEST_CASE(resume_from_state_gives_identical_weights) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<OptimizerOptions> configs(4);
  configs[0].nesterov = true;
  configs[0].normuon.enabled = true;
  configs[0].correction.mode = CorrectionMode::global;
  configs[0].weight_decay = {WeightDecay::cautious, 0.1};
  configs[0].schedule = {modnorm::Schedule::cosine, 2, 9, 0.1};
  configs[1].algorithm = Algorithm::sgd;
  configs[1].weight_decay.mode = WeightDecay::decoupled;
  configs[2].algorithm = Algorithm::adamw;
  configs[2].lr = 1e-3;
  configs[2].schedule = {modnorm::Schedule::linear_warmup, 3, 0, 0.0};
  configs[3].algorithm = Algorithm::adaptive_adam;
  constexpr int kBefore = 3, kAfter = 4;
  for (const OptimizerOptions& o : configs) {
    BOOST_TEST_INFO(to_string(o.algorithm));
    Module a = mlp_with_bias(DType::f32);
    a.initialize(gen);
    std::vector<std::vector<MatD>> grads;
    for (int k = 0; k < kBefore + kAfter; ++k) grads.push_back(random_grads(a, gen));
    auto set_step_grads = [&](const Module& net, int k) {
      const auto params = net.parameters();
      for (std::size_t l = 0; l < params.size(); ++l) set_grad(params[l], grads[k][l]);
    };

    Optimizer first(a, o);
    for (int k = 0; k < kBefore; ++k) {
      set_step_grads(a, k);
      first.step();
    }
    const auto saved = first.state();
    std::vector<Tensor> saved_weights;
    for (const Parameter& p : a.parameters()) saved_weights.push_back(p.weight.clone());
    for (int k = kBefore; k < kBefore + kAfter; ++k) {
      set_step_grads(a, k);
      first.step();
    }

    Module b = mlp_with_bias(DType::f32);
    const auto params_b = b.parameters();
    for (std::size_t l = 0; l < params_b.size(); ++l) {
      Tensor w = params_b[l].weight;
      modnorm::axpy(1.0, saved_weights[l], w, 0.0);
    }
    Optimizer second(b, o);
    second.load_state(saved);
    BOOST_TEST(second.steps() == kBefore);
    for (int k = kBefore; k < kBefore + kAfter; ++k) {
      set_step_grads(b, k);
      second.step();
    }
    BOOST_TEST(second.steps() == first.steps());
    BOOST_TEST(second.lr() == first.lr());
    const auto wa = weights_f32(a), wb = weights_f32(b);
    for (std::size_t l = 0; l < wa.size(); ++l) {
      BOOST_TEST_INFO("parameter " << l);
      BOOST_TEST((wa[l] == wb[l]));  // bit for bit
    }
    const auto sa = first.state(), sb = second.state();
    for (std::size_t e = 0; e < sa.size(); ++e) {
      BOOST_TEST_INFO("state entry " << sa[e].first);
      BOOST_TEST((sa[e].second.to_vector_f64() == sb[e].second.to_vector_f64()));
    }
  }
}

BOOST_AUTO_TEST_CASE(state_is_a_snapshot) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = mlp(DType::f32);
  net.initialize(gen);
  Optimizer opt(net);
  random_grads(net, gen);
  opt.step();
  const auto saved = opt.state();
  const std::vector<float> momentum = saved[1].second.to_vector();
  random_grads(net, gen);
  opt.step();
  BOOST_TEST((saved[1].second.to_vector() == momentum));
  BOOST_TEST(saved[0].second.item() == 1.0);
}

BOOST_AUTO_TEST_CASE(load_state_rejects_missing_unexpected_and_mismatched_entries) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = mlp(DType::f32);
  net.initialize(gen);
  OptimizerOptions o;
  o.normuon.enabled = true;
  Optimizer opt(net, o);
  random_grads(net, gen);
  opt.step();
  const auto good = opt.state();
  const auto before = opt.state();

  using Entries = std::vector<std::pair<std::string, Tensor>>;
  auto without = [&](const std::string& name) {
    Entries e;
    for (const auto& entry : good)
      if (entry.first != name) e.push_back(entry);
    return e;
  };
  auto replaced = [&](const std::string& name, const Tensor& t) {
    Entries e = good;
    for (auto& entry : e)
      if (entry.first == name) entry.second = t;
    return e;
  };
  const char* op = "[Optimizer.load_state]";
  BOOST_CHECK_EXCEPTION(opt.load_state(without("2.weight.momentum")), modnorm::Error,
                        says({op, "entry '2.weight.momentum' is missing"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(without("step")), modnorm::Error,
                        says({op, "entry 'step' is missing"}));
  Entries extra = good;
  extra.emplace_back("2.weight.second_moment", Tensor::zeros({3, 4}));
  BOOST_CHECK_EXCEPTION(opt.load_state(extra), modnorm::Error,
                        says({op, "entry '2.weight.second_moment' is not part"}));
  Entries twice = good;
  twice.push_back(good[1]);
  BOOST_CHECK_EXCEPTION(opt.load_state(twice), modnorm::Error,
                        says({op, "entry '0.weight.momentum' is given twice"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(replaced("0.weight.momentum", Tensor::zeros({5, 4}))),
                        modnorm::Error,
                        says({op, "entry '0.weight.momentum' has shape [5x4], expected [4x5]"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(replaced("0.weight.row_second_moment", Tensor::zeros({4}))),
                        modnorm::Error,
                        says({op, "'0.weight.row_second_moment' has shape [4], expected [4x1]"}));
  BOOST_CHECK_EXCEPTION(
      opt.load_state(replaced("2.weight.momentum",
                              Tensor::full({3, 4}, std::numeric_limits<double>::quiet_NaN()))),
      modnorm::Error, says({op, "'2.weight.momentum' holds NaN or Inf"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(replaced("step", Tensor::from_vector_f64({1.5}, {}))),
                        modnorm::Error, says({op, "'step' must be a non-negative integer"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(replaced("step", Tensor::from_vector_f64({-1}, {1}))),
                        modnorm::Error, says({op, "'step' must be a non-negative integer"}));
  BOOST_CHECK_EXCEPTION(opt.load_state(replaced("step", Tensor::zeros({2}))), modnorm::Error,
                        says({op, "'step' must hold one number"}));
  // Nothing was changed by the failed loads.
  const auto after = opt.state();
  for (std::size_t e = 0; e < after.size(); ++e)
    BOOST_TEST((after[e].second.to_vector_f64() == before[e].second.to_vector_f64()));
  // A [1] f32 step and f64 buffers are converted.
  Entries converted;
  for (const auto& [name, t] : good)
    converted.emplace_back(name, name == "step" ? Tensor::from_vector({4}, {1}) : t.to(DType::f64));
  opt.load_state(converted);
  BOOST_TEST(opt.steps() == 4);
}

// ---- bad input
// -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_options_are_rejected) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Bad {
    const char* what;
    std::function<void(OptimizerOptions&)> set;
    std::vector<std::string> message;
  };
  const std::vector<Bad> cases = {
      {"lr 0", [](auto& o) { o.lr = 0.0; }, {"lr must be a finite number > 0, got 0"}},
      {"lr < 0", [](auto& o) { o.lr = -0.1; }, {"lr must be", "-0.1"}},
      {"lr NaN", [&](auto& o) { o.lr = nan; }, {"lr must be", "nan"}},
      {"lr inf", [&](auto& o) { o.lr = inf; }, {"lr must be", "inf"}},
      {"beta < 0", [](auto& o) { o.beta = -0.1; }, {"beta must be in [0, 1), got -0.1"}},
      {"beta 1", [](auto& o) { o.beta = 1.0; }, {"beta must be in [0, 1), got 1"}},
      {"beta NaN", [&](auto& o) { o.beta = nan; }, {"beta must be in [0, 1)"}},
      {"adam beta2 1", [](auto& o) { o.adam.beta2 = 1.0; }, {"adam.beta2 must be in [0, 1)"}},
      {"adam beta2 < 0", [](auto& o) { o.adam.beta2 = -0.5; }, {"adam.beta2 must be"}},
      {"normuon beta2 1", [](auto& o) { o.normuon.beta2 = 1.0; }, {"normuon.beta2 must be"}},
      {"adam eps 0", [](auto& o) { o.adam.eps = 0.0; }, {"adam.eps must be a finite number > 0"}},
      {"adam eps < 0", [](auto& o) { o.adam.eps = -1e-8; }, {"adam.eps must be"}},
      {"normuon eps 0", [](auto& o) { o.normuon.eps = 0.0; }, {"normuon.eps must be"}},
      {"decay < 0",
       [](auto& o) { o.weight_decay.coefficient = -0.1; },
       {"weight_decay.coefficient must be a finite number >= 0"}},
      {"schedule",
       [](auto& o) { o.schedule.kind = modnorm::Schedule::cosine; },
       {"schedule (cosine): total_steps must exceed warmup_steps"}},
      {"orthogonalize steps 0", [](auto& o) { o.orthogonalize.steps = 0; }, {"steps"}},
      {"nesterov with adamw",
       [](auto& o) {
         o.algorithm = Algorithm::adamw;
         o.nesterov = true;
       },
       {"nesterov applies to the modular and sgd algorithms, not to adamw"}},
      {"normuon with sgd",
       [](auto& o) {
         o.algorithm = Algorithm::sgd;
         o.normuon.enabled = true;
       },
       {"normuon applies to the modular algorithm only, not to sgd"}},
      {"correction with adaptive adam",
       [](auto& o) {
         o.algorithm = Algorithm::adaptive_adam;
         o.correction.mode = CorrectionMode::per_layer;
       },
       {"correction applies to the modular algorithm only"}},
      {"negative multiplier",
       [](auto& o) {
         o.overrides.push_back({"0.weight", -1.0});
       },
       {"override '0.weight': lr_multiplier must be a finite number >= 0, got -1"}},
      {"unknown override",
       [](auto& o) {
         o.overrides.push_back({"1.weight", 2.0});
       },
       {"override names no parameter: '1.weight' (the parameters are 0.weight, 2.weight)"}},
      {"override twice",
       [](auto& o) {
         o.overrides.push_back({"2.weight", 2.0});
         o.overrides.push_back({"2.weight", 3.0});
       },
       {"parameter '2.weight' is overridden twice"}},
  };
  for (const Bad& bad : cases) {
    BOOST_TEST_INFO(bad.what);
    OptimizerOptions o;
    bad.set(o);
    std::vector<std::string> fragments = bad.message;
    fragments.push_back("[Optimizer] ");
    BOOST_CHECK_EXCEPTION(Optimizer(mlp(DType::f32), o), modnorm::Error, says(fragments));
  }
  // A zero coefficient: a bond of sensitivity 0 after the atom (Scale refuses a = 0, so a
  // user-written bond).
  Module dead = modnorm::Sequential{modnorm::Linear(3, 3), Module(std::make_shared<Silent>())};
  BOOST_CHECK_EXCEPTION(Optimizer{dead}, modnorm::Error,
                        says({"[Optimizer] parameter '0.weight' has coefficient 0"}));
  OptimizerOptions sgd;
  sgd.algorithm = Algorithm::sgd;
  BOOST_CHECK_NO_THROW((Optimizer{dead, sgd}));  // sgd ignores coefficients
}

BOOST_AUTO_TEST_CASE(non_finite_gradient_changes_nothing) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const double bad :
       {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity()}) {
    BOOST_TEST_INFO("bad value " << bad);
    Module net = mlp_with_bias(DType::f32);
    net.initialize(gen);
    OptimizerOptions o;
    o.normuon.enabled = true;
    Optimizer opt(net, o);
    random_grads(net, gen);
    opt.step();  // some state to keep
    std::vector<MatD> g = random_grads(net, gen);
    g[2](4, 1) = bad;  // the last atom
    set_grad(net.parameters()[2], g[2]);
    const auto weights = weights_f32(net);
    const auto state = opt.state();
    BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error,
                          says({"[Optimizer.step] parameter '3.weight': gradient [6x4] f32 cpu",
                                std::isnan(bad) ? "NaN at [4, 1]" : "-Inf at [4, 1]",
                                "no weight or optimizer state was changed"}));
    BOOST_TEST((weights_f32(net) == weights));  // every atom, the first ones included
    BOOST_TEST(opt.steps() == 1);
    const auto after = opt.state();
    for (std::size_t e = 0; e < after.size(); ++e)
      BOOST_TEST((after[e].second.to_vector_f64() == state[e].second.to_vector_f64()));
  }
}

BOOST_AUTO_TEST_CASE(non_finite_weight_changes_nothing) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = mlp_with_bias(DType::f32);
  net.initialize(gen);
  Optimizer opt(net);
  random_grads(net, gen);
  Tensor w = net.parameters()[0].weight;
  modnorm::fill(w, std::nan(""));
  const auto state = opt.state();
  BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error,
                        says({"[Optimizer.step] parameter '0.weight': weight [4x5] f32 cpu",
                              "NaN at [0, 0]", "no weight or optimizer state was changed"}));
  BOOST_TEST(opt.steps() == 0);
  BOOST_TEST((opt.state()[1].second.to_vector_f64() == state[1].second.to_vector_f64()));
}

// lr 1e300 makes Delta W overflow f32: the step refuses before writing any weight.
BOOST_AUTO_TEST_CASE(an_overflowing_update_is_never_applied) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Algorithm algorithm : {Algorithm::modular, Algorithm::sgd, Algorithm::adamw}) {
    BOOST_TEST_INFO(to_string(algorithm));
    Module net = mlp_with_bias(DType::f32);
    net.initialize(gen);
    OptimizerOptions o;
    o.algorithm = algorithm;
    o.lr = 1e300;
    Optimizer opt(net, o);
    random_grads(net, gen);
    const auto weights = weights_f32(net);
    BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error,
                          says({"[Optimizer.step] parameter '0.weight': update [4x5] f32 cpu",
                                "Inf", "at learning rate 1e+300", "no weight was changed"}));
    BOOST_TEST((weights_f32(net) == weights));
    BOOST_TEST(opt.steps() == 0);
  }
}

// Gradients with subnormal entries (down to the smallest f32 and bf16 denormals) give the same
// modular step as the same gradient at a normal scale: the duality maps are scale-invariant.
BOOST_AUTO_TEST_CASE(subnormal_gradients_give_finite_correct_steps) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& [dtype, factors] :
       {std::pair{DType::f32, std::vector<double>{1e-39, 1e-42, 1e-44}},
        std::pair{DType::bf16, std::vector<double>{1e-38, 1e-39, 1e-40}}})
    for (const double factor : factors) {
      BOOST_TEST_CONTEXT(to_string(dtype) << " gradient scale " << factor) {
        Module tiny = mlp_with_bias(dtype), normal = mlp_with_bias(dtype);
        tiny.initialize(gen);
        for (std::size_t l = 0; l < tiny.parameters().size(); ++l) {
          Tensor w = normal.parameters()[l].weight;
          modnorm::axpy(1.0, tiny.parameters()[l].weight, w, 0.0);
        }
        for (std::size_t l = 0; l < tiny.parameters().size(); ++l) {
          const Parameter p = tiny.parameters()[l], q = normal.parameters()[l];
          std::vector<double> values =
              Tensor::randn(p.weight.shape(), gen, DType::f64).to_vector_f64();
          values[0] = 3.0;  // at least one entry survives the rounding to a denormal
          const Tensor g = modnorm::scale(Tensor::from_vector_f64(values, p.weight.shape()), factor)
                               .to(dtype);  // subnormal entries, some flushed to 0
          Tensor pg = p.grad, qg = q.grad;
          modnorm::axpy(1.0, g, pg, 0.0);
          const double m = modnorm::max_abs(g);
          BOOST_TEST_REQUIRE(m > 0.0);
          // A power of two, so that the normal gradient holds exactly the same significands
          // (1 / m would round them again, and the orthogonalized step of these few-bit,
          // near-singular gradients is sensitive to that).
          const double normal_scale = std::ldexp(1.0, -std::ilogb(m));
          modnorm::axpy(1.0, modnorm::scale(g.to(DType::f64), normal_scale).to(dtype), qg, 0.0);
        }
        OptimizerOptions o;
        o.beta = 0.0;
        Optimizer a(tiny, o), b(normal, o);
        a.step();
        b.step();
        for (std::size_t l = 0; l < tiny.parameters().size(); ++l) {
          const Tensor ua = a.last_updates()[l].to(DType::f64),
                       ub = b.last_updates()[l].to(DType::f64);
          BOOST_TEST(modnorm::all_finite(tiny.parameters()[l].weight));
          BOOST_TEST(modnorm::max_abs(modnorm::sub(ua, ub)) <= 2e-2 * modnorm::max_abs(ub));
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(a_moved_from_optimizer_throws) {
  Module net = mlp(DType::f32);
  Optimizer opt(net);
  Optimizer moved = std::move(opt);
  BOOST_TEST(moved.steps() == 0);
  BOOST_CHECK_EXCEPTION(opt.steps(), modnorm::Error, says({"[Optimizer]", "moved from"}));
  BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error, says({"moved from"}));
  BOOST_CHECK_EXCEPTION(opt.state(), modnorm::Error, says({"moved from"}));
  BOOST_CHECK_EXCEPTION(opt.lr(), modnorm::Error, says({"moved from"}));
}

namespace {

// A compound whose children a test can change after an optimizer was built for it.
class MutableCompound : public modnorm::ModuleImpl {
 public:
  std::shared_ptr<modnorm::ModuleImpl> clone() const override {
    auto copy = std::make_shared<MutableCompound>();
    for (const auto& k : kids) copy->kids.push_back({k.name, Module(k.module.impl().clone())});
    return copy;
  }
  std::vector<modnorm::Child> kids;
  std::string describe() const override { return "MutableCompound"; }
  double mass() const override {
    double m = 0.0;
    for (const auto& k : kids) m += k.module.mass();
    return m;
  }
  double sensitivity() const override { return 1.0; }
  Tensor forward(const Tensor& x) override { return x; }
  Tensor backward(const Tensor& dy, bool /*input_grad*/) override { return dy; }
  std::vector<modnorm::Child> children() const override { return kids; }
  std::vector<double> child_factors() const override {
    return std::vector<double>(kids.size(), 1.0);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(changed_module_tree_is_rejected) {
  auto impl = std::make_shared<MutableCompound>();
  impl->kids = {{"a", modnorm::Linear(3, 2)}, {"b", modnorm::Linear(2, 2)}};
  const Module tree(impl);
  Optimizer opt(tree);
  opt.step();  // zero gradients: fine
  impl->kids.push_back({"c", modnorm::Linear(2, 2)});
  BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error,
                        says({"[Optimizer.step] the module tree has 3 parameters (a.weight, "
                              "b.weight, c.weight) but the optimizer was built for 2"}));
  impl->kids.pop_back();
  impl->kids[1].name = "renamed";
  BOOST_CHECK_EXCEPTION(opt.step(), modnorm::Error,
                        says({"parameter 1 is 'renamed.weight' but the optimizer was built for "
                              "'b.weight'"}));
  impl->kids[1].name = "b";
  impl->kids[0].module = modnorm::Linear(2, 3);  // same name, other shape
  BOOST_CHECK_EXCEPTION(
      opt.step(), modnorm::Error,
      says({"parameter 'a.weight' has shape [3x2] but the optimizer was built for [2x3]"}));
  impl->kids[0].module = modnorm::Linear(3, 2, atom(DType::f64));
  BOOST_CHECK_EXCEPTION(
      opt.step(), modnorm::Error,
      says({"parameter 'a.weight' is f64 cpu but the optimizer state is f32 cpu"}));
  impl->kids[0].module = modnorm::Linear(3, 2);
  BOOST_CHECK_NO_THROW(opt.step());
  BOOST_TEST(opt.steps() == 2);

  // A weight replaced in place by one of another shape.
  Module net = mlp(DType::f32);
  Optimizer other(net);
  net.parameters()[1].atom->weight() = Tensor::zeros({4, 4});
  BOOST_CHECK_EXCEPTION(
      other.step(), modnorm::Error,
      says({"parameter '2.weight' has shape [4x4] but the optimizer was built for [3x4]"}));
}

BOOST_AUTO_TEST_CASE(names_of_the_option_enums) {
  BOOST_TEST(std::string(to_string(Algorithm::adaptive_adam)) == "adaptive_adam");
  BOOST_TEST(std::string(to_string(CorrectionMode::per_layer)) == "per_layer");
  BOOST_TEST(std::string(to_string(WeightDecay::cautious)) == "cautious");
  BOOST_TEST(std::string(to_string(modnorm::Schedule::linear_decay)) == "linear_decay");
}

// ---- Convention::optax (optax.contrib.muon, contrib/_muon.py)
// ------------------------------------------------------------

namespace {

// optax's scale_by_muon + scale_by_shape + add_decayed_weights + scale_by_learning_rate for
// one atom, written out from optax 0.2.x in double, with this library's W (optax's W^T: the
// quintic commutes with transposition, and optax's fan_out / fan_in is our d_out / d_in).
// Non-matrix atoms (which optax would send to AdamW) use their own duality map here, as the
// optimizer does. The step (not the decay) is divided by the atom's coefficient c_l, which
// optax does not have (c_l = 1 for a single atom).
struct OptaxReference {
  OptimizerOptions o;
  std::vector<double> c;
  std::vector<Norm> norms;
  std::vector<MatD> w, m;
  std::int64_t t = 0;

  OptaxReference(const OptimizerOptions& options, const std::vector<Parameter>& params)
      : o(options) {
    for (const Parameter& p : params) {
      c.push_back(p.coefficient);
      norms.push_back(p.norm);
      w.push_back(mat(p.weight));
      m.push_back(MatD::Zero(w.back().rows(), w.back().cols()));
    }
  }

  // X_0 = G / (||G||_F + eps), five quintic steps, tall inputs transposed.
  MatD orthogonalize(const MatD& g) const {
    const bool tall = g.rows() > g.cols();
    MatD x = tall ? MatD(g.transpose()) : g;
    x /= x.norm() + o.orthogonalize.epsilon;
    for (int k = 0; k < 5; ++k) {
      const MatD a = x * x.transpose();
      x = 3.4445 * x + (-4.7750 * a + 2.0315 * a * a) * x;
    }
    if (tall) x.transposeInPlace();
    return x;
  }

  void step(const std::vector<MatD>& g, double lr) {
    ++t;
    const double beta = o.beta, td = static_cast<double>(t);
    for (std::size_t l = 0; l < g.size(); ++l) {
      m[l] = beta * m[l] + (1 - beta) * g[l];  // optax.tree.update_moment(g, mu, beta, 1)
      const MatD u = o.nesterov ? MatD(beta * m[l] / (1 - std::pow(beta, td + 1)) +
                                       (1 - beta) * g[l] / (1 - std::pow(beta, td)))
                                : MatD(m[l] / (1 - std::pow(beta, td)));
      MatD update;
      if (norms[l] == Norm::spectral) {
        const MatD o_l = orthogonalize(u);
        const double rows = static_cast<double>(u.rows()), cols = static_cast<double>(u.cols());
        const double adaptive =
            o.correction.mode == CorrectionMode::per_layer ? u.cwiseProduct(o_l).sum() : 1.0;
        update = std::sqrt(std::max(1.0, rows / cols)) * adaptive * o_l;
      } else {
        const MatD d = reference_dualize(u, norms[l], false);
        const double adaptive =
            o.correction.mode == CorrectionMode::per_layer ? u.cwiseProduct(d).sum() : 1.0;
        update = adaptive * d;
      }
      // The step is divided by c_l, the decay is not (WeightDecayOptions).
      MatD delta = -(lr / c[l]) * update;
      if (o.weight_decay.mode == WeightDecay::decoupled)
        delta -= lr * o.weight_decay.coefficient * w[l];
      w[l] += delta;
    }
  }
};

OptimizerOptions optax_options(bool nesterov, bool adaptive, bool decay) {
  OptimizerOptions o;
  o.convention = modnorm::Convention::optax;
  o.orthogonalize.epsilon = 1e-8;
  o.orthogonalize.compute_dtype = DType::f64;  // f64 weights: compare the formulas, not rounding
  o.lr = 0.05;
  o.beta = 0.95;
  o.nesterov = nesterov;
  if (adaptive) o.correction.mode = CorrectionMode::per_layer;
  if (decay) {
    o.weight_decay.mode = WeightDecay::decoupled;
    o.weight_decay.coefficient = 0.1;
  }
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(optax_convention_matches_optax_muon_formulas) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const bool nesterov : {false, true})
    for (const bool adaptive : {false, true})
      for (const bool decay : {false, true}) {
        const OptimizerOptions options = optax_options(nesterov, adaptive, decay);
        // A wide [4x5], a vector [4] and a tall [6x4] atom, c = 3 each.
        Module net = mlp_with_bias();
        net.initialize(gen);
        OptaxReference reference(options, net.parameters());
        Optimizer opt(net, options);
        for (int k = 0; k < 20; ++k) {
          const std::vector<MatD> g = random_grads(net, gen, 0.3);
          opt.step();
          reference.step(g, options.lr);
        }
        const auto params = net.parameters();
        for (std::size_t l = 0; l < params.size(); ++l) {
          BOOST_TEST_INFO("nesterov " << nesterov << ", adaptive " << adaptive << ", decay "
                                      << decay << ", parameter '" << params[l].name << "'");
          BOOST_TEST(mt::rel_error(flat(params[l].weight), flat(reference.w[l])) < 1e-10);
        }
      }
}

BOOST_AUTO_TEST_CASE(optax_convention_differs_from_modular_only_where_documented) {
  MODNORM_FRESH_GENERATOR(gen);
  // Without Nesterov, correction and epsilon, bias correction only scales u, which the quintic
  // ignores: the two conventions differ by the shape factor alone, sqrt(max(1, r)) / sqrt(r)
  // with r = d_out / d_in (1 for the tall atom, sqrt(5/4) for the wide one).
  for (const bool nesterov : {false, true}) {
    Module a = mlp_with_bias(), b = mlp_with_bias();
    modnorm::Generator init_a(7), init_b(7);
    a.initialize(init_a);
    b.initialize(init_b);
    OptimizerOptions modular;
    modular.orthogonalize.compute_dtype = DType::f64;
    modular.nesterov = nesterov;
    OptimizerOptions optax = modular;
    optax.convention = modnorm::Convention::optax;
    Optimizer opt_a(a, modular), opt_b(b, optax);
    for (int k = 0; k < 3; ++k) {
      const std::vector<MatD> g = random_grads(a, gen);
      const auto pb = b.parameters();
      for (std::size_t l = 0; l < g.size(); ++l) set_grad(pb[l], g[l]);
      opt_a.step();
      opt_b.step();
    }
    const std::vector<double> factor = {std::sqrt(5.0 / 4.0), 1.0, 1.0};
    for (std::size_t l = 0; l < factor.size(); ++l) {
      const MatD ua = mat(opt_a.last_updates()[l]), ub = mat(opt_b.last_updates()[l]);
      const double err = (ub - factor[l] * ua).norm() / ua.norm();
      BOOST_TEST_INFO("nesterov " << nesterov << ", atom " << l);
      if (nesterov)
        BOOST_TEST(err > 1e-4);  // optax's Nesterov weights g and m differently at early steps
      else
        BOOST_TEST(err < 1e-10);
    }
  }
}

BOOST_AUTO_TEST_CASE(optax_adaptive_factor_is_the_unclamped_pairing_with_O) {
  // One wide atom [2x8] (r = 1/4), no momentum: optax's step is <g, O> O with O = polar(g),
  // i.e. the nuclear norm times O, not clamped to 1; the modular one is clamped.
  Module net = modnorm::Sequential{modnorm::Linear(8, 2, atom(DType::f64))};
  modnorm::Generator gen(3);
  net.initialize(gen);
  OptimizerOptions o;
  o.beta = 0.0;
  o.lr = 1.0;
  o.orthogonalize.method = OrthogonalizeMethod::svd;
  o.correction.mode = CorrectionMode::per_layer;
  o.convention = modnorm::Convention::optax;
  Optimizer opt(net, o);
  const MatD g = 5.0 * mt::gaussian(2, 8, gen);
  set_grad(net.parameters()[0], g);
  opt.step();
  const Eigen::JacobiSVD<MatD> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const MatD expected = -svd.singularValues().sum() * svd.matrixU() * svd.matrixV().transpose();
  BOOST_TEST(svd.singularValues().sum() > 1.0);  // the modular clamp would cut it to 1
  BOOST_TEST(mt::rel_error(flat(opt.last_updates()[0]), flat(expected)) < 1e-12);
}

BOOST_AUTO_TEST_CASE(optax_convention_rejects_what_it_cannot_reproduce) {
  Module net = mlp();
  OptimizerOptions sgd;
  sgd.algorithm = Algorithm::sgd;
  sgd.convention = modnorm::Convention::optax;
  BOOST_CHECK_EXCEPTION((Optimizer{net, sgd}), modnorm::Error,
                        says({"[Optimizer]",
                              "convention optax applies to the modular algorithm "
                              "only, not to sgd"}));
  OptimizerOptions global;
  global.convention = modnorm::Convention::optax;
  global.correction.mode = CorrectionMode::global;
  BOOST_CHECK_EXCEPTION((Optimizer{net, global}), modnorm::Error,
                        says({"correction.mode global has no optax counterpart"}));
  BOOST_TEST(std::string(to_string(modnorm::Convention::optax)) == "optax");
  BOOST_TEST(std::string(to_string(modnorm::Convention::modular)) == "modular");
}

BOOST_AUTO_TEST_SUITE_END()
