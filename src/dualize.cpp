// dualize(), dual_norm(), dual_pairing(), norm(): the checks at the public boundary and the dual
// norm correction around a norm's rule (norm.hpp; the rules are in src/norms/), and
// spectral_norm(), written with the tensor ops so that it runs on any device; the small k x k
// problems and the exact references are host work in double (src/host_linalg.hpp). <A, B> is the
// Frobenius inner product.
#include "modnorm/dualize.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "dualize_detail.hpp"
#include "host_linalg.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "tensor_checks.hpp"

namespace modnorm {
namespace {

// sigma_max(W) by orthogonal (block) iteration; W is a finite non-zero matrix.
double spectral_norm_iterated(const Tensor& W, const SpectralNormOptions& options) {
  // Orthogonal iteration on W^T W with a block V of k = min(4, rows, cols) vectors (Golub &
  // Van Loan 2013, sec. 8.2.4), in f64 on W's device. W is divided by its max-abs first, so
  // that sigma lies in [1, sqrt(rows cols)] and (W^T W)^2 V neither overflows nor underflows.
  // Each round takes two products V <- W^T W V on the device and then one Rayleigh-Ritz step
  // on the host with the k x k matrices S = V^T V and B = (W V)^T (W V) only: the estimate
  // sqrt(lambda_max(B, S)) = max over v in span(V) of ||W v|| / ||v|| never exceeds sigma_max
  // (but for rounding), and V is re-orthonormalised by the k x k transform it returns.
  // Convergence: (sigma_{k+1} / sigma_1)^2 per product, so nearly equal top singular values
  // do not stall it the way they stall a single vector.
  constexpr int kProductsPerRound = 2;
  const double m = max_abs(W);
  const Tensor w = scale(W.to(DType::f64), 1.0 / m);
  const std::int64_t k = std::min<std::int64_t>({4, w.dim(0), w.dim(1)});
  Generator gen(options.seed);
  Tensor v = Tensor::randn({w.dim(1), k}, gen, DType::f64, w.device());
  double sigma = 0.0;
  for (int done = 0; done < options.max_iterations;) {
    for (int p = 0; p < kProductsPerRound && done < options.max_iterations; ++p, ++done)
      v = matmul(w, matmul(w, v), true, false);
    const Tensor wv = matmul(w, v);
    const detail::RitzStep ritz =
        detail::rayleigh_ritz(matmul(v, v, true, false), matmul(wv, wv, true, false));
    if (!(ritz.top > 0.0)) {  // V in the null space (probability zero): start again elsewhere
      v = Tensor::randn({w.dim(1), k}, gen, DType::f64, w.device());
      continue;
    }
    v = matmul(v, ritz.basis.to(w.device()));
    const double next = std::sqrt(ritz.top);
    const bool converged = std::abs(next - sigma) <= options.tolerance * next;
    sigma = std::max(sigma, next);
    if (converged) break;
  }
  return m * sigma;
}

}  // namespace

// Out of line: exported for interpreters (dualize.hpp).
OrthogonalizeOptions::~OrthogonalizeOptions() = default;
DualizeOptions::~DualizeOptions() = default;

Tensor dualize(const Tensor& G, const Norm& kind, const DualizeOptions& options) {
  constexpr const char* op = "dualize";
  detail::check_dualize(op, G, kind, options.orthogonalize);
  return detail::dualize_checked(G, kind, options);
}

double dual_pairing(const Tensor& G, const Norm& kind, const DualizeOptions& options) {
  constexpr const char* op = "dual_pairing";
  detail::check_dualize(op, G, kind, options.orthogonalize);
  return dot(G, kind.rule().dualize(G, options.orthogonalize));
}

double dual_norm(const Tensor& G, const Norm& kind) {
  detail::check_input("dual_norm", G, kind);
  return kind.rule().dual_norm(G);
}

double spectral_norm(const Tensor& W, const SpectralNormOptions& options) {
  constexpr const char* op = "spectral_norm";
  if (!(options.tolerance > 0.0))
    fail(op, "tolerance must be > 0, got " + std::to_string(options.tolerance));
  if (options.max_iterations < 1)
    fail(op, "max_iterations must be >= 1, got " + std::to_string(options.max_iterations));
  detail::check_matrix_or_batch(op, W);
  detail::check_nonempty(op, W);
  detail::check_finite(op, W);
  if (W.rank() == 3) {
    double largest = 0.0;
    for (std::int64_t b = 0; b < W.dim(0); ++b)
      largest = std::max(largest, spectral_norm(detail::matrix_of(W, b), options));
    return largest;
  }
  if (options.exact) return detail::singular_values(W)[0];
  if (max_abs(W) == 0.0) return 0.0;
  return spectral_norm_iterated(W, options);
}

double norm(const Tensor& W, const Norm& kind, const SpectralNormOptions& options) {
  detail::check_input("norm", W, kind);
  return kind.rule().norm(W, options);
}

namespace detail {

Tensor nonzero_or_one(const Tensor& m) {
  // m + (1 - sign(m)) is exact: m where m > 0, and 1 where m is 0.
  return add(m, sub(Tensor::full({1}, 1.0, m.dtype(), m.device()), sign(m)));
}

double correction_lo(CorrectionRange range) {
  return range == CorrectionRange::nonnegative ? 0.0 : -1.0;
}

Tensor matrix_of(const Tensor& batch, std::int64_t b) {
  const std::int64_t rows = batch.dim(1), cols = batch.dim(2);
  const Tensor id = Tensor::from_vector_i32({static_cast<std::int32_t>(b)}, {1}).to(batch.device());
  return gather_rows(batch.reshape({batch.dim(0), rows * cols}), id).reshape({rows, cols});
}

double correction_pairing(const Tensor& G, const Tensor& dualized, const Norm& kind,
                          CorrectionPairing pairing) {
  return correction_pairing(dot(G, dualized), G.shape(), kind, pairing);
}

double correction_pairing(double inner, const Shape& shape, const Norm& kind,
                          CorrectionPairing pairing) {
  // <G, O> = <G, dualize(G)> / sqrt(d_out/d_in) for spectral: the shape factor kept out of the
  // pairing.
  if (pairing == CorrectionPairing::orthogonalized) return inner / kind.rule().shape_factor(shape);
  return inner;
}

std::string non_finite(const Tensor& t) {
  if (all_finite(t)) return "";
  // Only on the error path: find what and where on the host.
  const std::vector<double> values = t.to_vector_f64();
  std::size_t first = values.size(), count = 0;
  for (std::size_t k = 0; k < values.size(); ++k)
    if (!std::isfinite(values[k])) {
      if (count++ == 0) first = k;
    }
  const double bad = values[first];
  const char* what = std::isnan(bad) ? "NaN" : (bad > 0 ? "+Inf" : "-Inf");
  // Multi-index of the first offender, row-major.
  std::vector<std::int64_t> index(t.shape().size());
  std::size_t rest = first;
  for (std::size_t d = index.size(); d-- > 0;) {
    const auto extent = static_cast<std::size_t>(t.shape()[d]);
    index[d] = static_cast<std::int64_t>(rest % extent);
    rest /= extent;
  }
  std::ostringstream msg;
  msg << t.describe() << " contains " << what << " at [";
  for (std::size_t d = 0; d < index.size(); ++d) msg << (d ? ", " : "") << index[d];
  msg << "] (" << count << " non-finite " << (count == 1 ? "entry" : "entries") << ")";
  return msg.str();
}

void check_finite(const char* op, const Tensor& t) {
  const std::string bad = non_finite(t);
  if (!bad.empty()) fail(op, "input " + bad + "; the input must be finite");
}

void check_shape(const char* op, const Norm& kind, const Shape& shape, const std::string& got) {
  const std::string needs = kind.rule().shape_requirement(shape);
  if (!needs.empty())
    fail(op, std::string("norm ") + to_string(kind) + " needs " + needs + ", got " + got);
}

void check_input(const char* op, const Tensor& t, const Norm& kind, InputValues values) {
  check_shape(op, kind, t.shape(), t.describe());
  check_nonempty(op, t);
  if (values == InputValues::checked) check_finite(op, t);
}

void check_dualize(const char* op, const Tensor& G, const Norm& kind,
                   const OrthogonalizeOptions& options, InputValues values) {
  if (kind.rule().orthogonalizes()) check_options(op, options);
  check_input(op, G, kind, values);
}

Tensor dualize_checked(const Tensor& G, const Norm& kind, const DualizeOptions& options) {
  Tensor direction = kind.rule().dualize(G, options.orthogonalize);
  const DualNormCorrection& correction = options.dual_norm_correction;
  if (correction.enabled) {
    // Scale by clamp(<G, dualize(G)>, lo, hi) (docs/theory.md, "Dual norm correction").
    const double pairing = correction_pairing(G, direction, kind, correction.pairing);
    direction = scale(direction, std::clamp(pairing, correction_lo(correction.range), 1.0));
  }
  return direction;
}

}  // namespace detail
}  // namespace modnorm
