// orthogonalize(): the device-free part of the Newton-Schulz family (coefficient tables,
// normalisation, orientation of tall inputs, schedule expansion); the exact SVD reference is
// host_linalg's polar_factors.
// The iteration itself is one backend primitive, Backend::newton_schulz (src/cpu/).
//
// The iteration (Higham 2008, "Functions of Matrices", ch. 8; Jordan et al. 2024, Muon):
// with X_0 = G / (s ||G||_F) every singular value x of X_0 lies in [0, 1], and the step
// X <- a X + b (X X^T) X + c (X X^T)^2 X maps it to p(x) = a x + b x^3 + c x^5 while keeping
// the singular vectors. After T steps X_T = U f(S / (s ||G||_F)) V^T with
// f = p_T o ... o p_1, which is close to U V^T wherever f is close to 1 (docs/theory.md).
#include <algorithm>
#include <cmath>
#include <string>

#include "backend.hpp"
#include "dualize_detail.hpp"
#include "host_linalg.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

using Schedule = std::vector<QuinticCoefficients>;

// Jordan et al. 2024 (Muon; also optax contrib/_muon.py `ns_coeffs`): coefficients chosen to
// maximise the slope at zero, p'(0) = 3.4445, at the price of not converging (the band
// stays about [0.68, 1.13]).
Schedule quintic_schedule() {
  return {{3.4445, -4.7750, 2.0315}};
}

// Amsel, Persson, Musco, Gower 2025, "The Polar Express: Optimal Matrix Sign Methods and
// Their Application to the Muon Algorithm", arXiv:2505.16932, Algorithm 1 (degree 5): the
// minimax-optimal polynomial of each step for singular values in [1e-3, 1], then
// (1.875, -1.25, 0.375) forever. The safety factor divides a, b, c of every entry but the
// last by 1.01, 1.01^3, 1.01^5, i.e. evaluates p(x / 1.01), so rounding that pushes a
// singular value slightly above the interval cannot blow up; the input is likewise divided
// by 1.01 ||G||_F (OrthogonalizeOptions::norm_safety).
Schedule polar_express_schedule() {
  const Schedule published = {
      {8.28721201814563, -23.595886519098837, 17.300387312530933},
      {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
      {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
      {3.3184196573706015, -2.488488024314874, 0.51004894012372},
      {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
      {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
      {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
      {1.875, -1.25, 0.375},
  };
  constexpr double kSafety = 1.01;
  Schedule safe = published;
  for (std::size_t k = 0; k + 1 < safe.size(); ++k) {
    safe[k].a /= kSafety;
    safe[k].b /= kSafety * kSafety * kSafety;
    safe[k].c /= kSafety * kSafety * kSafety * kSafety * kSafety;
  }
  return safe;
}

// The per-step tuned set of the dual-norm-corrected Muon variant (docs/theory.md).
Schedule seed_tuned_schedule() {
  return {{2.9145, -4.3663, 2.4515},
          {2.9131, -4.3582, 2.4446},
          {2.9030, -4.3145, 2.4106},
          {2.8317, -4.0251, 2.1928},
          {2.8392, -3.3535, 1.5149}};
}

// modula-systems/modula, modula/atom.py `orthogonalize`: six steps found by optimisation by
// @YouJiacheng (twitter.com/YouJiacheng/status/1893704552689303901), in units of 1/1024.
Schedule modula_schedule() {
  constexpr double k = 1024.0;
  return {{3955 / k, -8306 / k, 5008 / k}, {3735 / k, -6681 / k, 3463 / k},
          {3799 / k, -6499 / k, 3211 / k}, {4019 / k, -6385 / k, 2906 / k},
          {2677 / k, -3029 / k, 1162 / k}, {2172 / k, -1833 / k, 682 / k}};
}

// Newton-Schulz proper: p(x) = 1.5 x - 0.5 x^3, the Pade iteration with p(1) = 1 and
// p'(1) = 0, converging quadratically near 1 (Higham 2008, eq. (8.20); Kovarik 1970,
// Bjorck & Bowie 1971).
Schedule cubic_schedule() {
  return {{1.5, -0.5, 0.0}};
}

int default_steps(OrthogonalizeMethod method, const OrthogonalizeOptions& options) {
  switch (method) {
    case OrthogonalizeMethod::modula:
      return 6;
    case OrthogonalizeMethod::cubic:
      return 15;  // f(x) >= 0.9999 for x >= 1e-2 (the iteration gains x1.5 per step below 1)
    case OrthogonalizeMethod::custom:
      return static_cast<int>(options.coefficients.size());
    default:
      return 5;
  }
}

double default_norm_safety(OrthogonalizeMethod method) {
  return method == OrthogonalizeMethod::polar_express ? 1.01 : 1.0;
}

}  // namespace

const char* to_string(OrthogonalizeMethod method) {
  switch (method) {
    case OrthogonalizeMethod::quintic:
      return "quintic";
    case OrthogonalizeMethod::polar_express:
      return "polar_express";
    case OrthogonalizeMethod::seed_tuned:
      return "seed_tuned";
    case OrthogonalizeMethod::modula:
      return "modula";
    case OrthogonalizeMethod::cubic:
      return "cubic";
    case OrthogonalizeMethod::custom:
      return "custom";
    case OrthogonalizeMethod::svd:
      return "svd";
  }
  return "unknown";
}

std::vector<QuinticCoefficients> orthogonalize_schedule(OrthogonalizeMethod method) {
  switch (method) {
    case OrthogonalizeMethod::quintic:
      return quintic_schedule();
    case OrthogonalizeMethod::polar_express:
      return polar_express_schedule();
    case OrthogonalizeMethod::seed_tuned:
      return seed_tuned_schedule();
    case OrthogonalizeMethod::modula:
      return modula_schedule();
    case OrthogonalizeMethod::cubic:
      return cubic_schedule();
    case OrthogonalizeMethod::custom:
    case OrthogonalizeMethod::svd:
      return {};
  }
  return {};
}

Tensor orthogonalize(const Tensor& G, const OrthogonalizeOptions& options) {
  constexpr const char* op = "orthogonalize";
  detail::check_options(op, options);
  detail::check_matrix_or_batch(op, G);
  detail::check_nonempty(op, G);
  detail::check_finite(op, G);
  return detail::orthogonalize_checked(G, options);
}

namespace detail {

void check_options(const char* op, const OrthogonalizeOptions& options) {
  const OrthogonalizeMethod method = options.method;
  if (std::string(to_string(method)) == "unknown")
    fail(op, "unknown method " + std::to_string(static_cast<int>(method)));
  if (method == OrthogonalizeMethod::custom && options.coefficients.empty())
    fail(op, "method custom needs a non-empty coefficient list (options.coefficients)");
  if (method != OrthogonalizeMethod::custom && !options.coefficients.empty())
    fail(op, "a coefficient list was given but method is " + std::string(to_string(method)) +
                 "; set method = OrthogonalizeMethod::custom to use it");
  for (const auto& c : options.coefficients)
    if (!std::isfinite(c.a) || !std::isfinite(c.b) || !std::isfinite(c.c))
      fail(op, "coefficients must be finite");
  if (options.steps && *options.steps < 1)
    fail(op, "steps must be >= 1, got " + std::to_string(*options.steps));
  if (options.norm_safety && !(*options.norm_safety >= 1.0 && std::isfinite(*options.norm_safety)))
    fail(op,
         "norm_safety must be a finite number >= 1, got " + std::to_string(*options.norm_safety));
  if (!(options.epsilon >= 0.0 && std::isfinite(options.epsilon)))
    fail(op, "epsilon must be a finite number >= 0, got " + std::to_string(options.epsilon));
  const DType dt = options.compute_dtype;
  if (dt != DType::f32 && dt != DType::bf16 && dt != DType::f64)
    fail(op, "compute_dtype must be f32, bf16 or f64");
}

namespace {

// X_0 = G / (s ||G||_F + epsilon), per matrix of a batch. With the default epsilon 0 the map
// is scale-invariant; optax adds 1e-8, the reference PyTorch code 1e-7
// (OrthogonalizeOptions::epsilon). Each matrix is first divided by its max-abs m (exact, and
// its entries are then in [-1, 1], so subnormal or huge inputs neither underflow nor overflow
// on the way): X_0 = (G / m) / (s ||G / m||_F + epsilon / m). A zero matrix stays zero, and so
// does every iterate after it. Always a new tensor: the iteration then runs in place on it.
Tensor normalized(const Tensor& x, double safety, double epsilon) {
  const std::int64_t batch = x.rank() == 3 ? x.dim(0) : 1;
  const Tensor flat = x.reshape({batch, x.numel() / batch});
  const Tensor m = nonzero_or_one(max(abs(flat), 1)).reshape({batch, 1});
  const Tensor unit = div(flat, m);
  const std::vector<double> maxima = m.to_vector_f64();
  std::vector<double> factors = row_norms(unit).to_vector_f64();
  for (std::size_t b = 0; b < factors.size(); ++b)
    factors[b] = factors[b] == 0.0 ? 1.0 : 1.0 / (safety * factors[b] + epsilon / maxima[b]);
  return mul(unit, Tensor::from_vector_f64(factors, {batch, 1}).to(x.dtype()).to(x.device()))
      .reshape(x.shape());
}

}  // namespace

Tensor orthogonalize_checked(const Tensor& G, const OrthogonalizeOptions& options) {
  if (options.method == OrthogonalizeMethod::svd) return polar_factors(G);  // a reference

  // The iterate lives in f32 (also for bf16 iterates, which are rounded after each product)
  // or in f64.
  const DType work = options.compute_dtype == DType::f64 ? DType::f64 : DType::f32;
  Tensor x = normalized(G.to(work), norm_safety(options), options.epsilon);

  // Tall inputs are the transposed problem: the primitive iterates with the small Gram matrix
  // X^T X and X <- X B instead of X X^T and B X, which is transposing without the copies.
  backend_of(x).newton_schulz(x, newton_schulz_coefficients(options),
                              options.compute_dtype == DType::bf16);
  return x.to(G.dtype());
}

double norm_safety(const OrthogonalizeOptions& options) {
  return options.norm_safety.value_or(default_norm_safety(options.method));
}

std::vector<std::array<double, 3>> newton_schulz_coefficients(const OrthogonalizeOptions& options) {
  const Schedule schedule = options.method == OrthogonalizeMethod::custom
                                ? options.coefficients
                                : orthogonalize_schedule(options.method);
  const int steps = options.steps.value_or(default_steps(options.method, options));
  std::vector<std::array<double, 3>> expanded;
  expanded.reserve(static_cast<std::size_t>(steps));
  for (int k = 0; k < steps; ++k) {
    const QuinticCoefficients& c = schedule[std::min<std::size_t>(k, schedule.size() - 1)];
    expanded.push_back({c.a, c.b, c.c});
  }
  return expanded;
}

}  // namespace detail
}  // namespace modnorm
