// dualize(), dual_norm(), dual_pairing(), norm(), spectral_norm(): the table of docs/theory.md,
// written with the tensor ops so that it runs on any device; the small k x k problems and the
// exact references are host work in double (src/host_linalg.hpp). W and G are d_out x d_in;
// <A, B> is the Frobenius inner product. A `spectral` batch [B, d_out, d_in] is B matrices
// under the max of their norms (a per-tap Conv2D weight): its duality map is each matrix's,
// its dual norm the sum of theirs.
#include "modnorm/dualize.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "backend.hpp"
#include "concatenate.hpp"
#include "dualize_detail.hpp"
#include "fail.hpp"
#include "host_linalg.hpp"
#include "modnorm/ops.hpp"
#include "tensor_checks.hpp"

namespace modnorm {
namespace {

using detail::fail;
using detail::nonzero_or_one;

double shape_factor(const Tensor& G) {
  return detail::shape_factor(G.shape());
}

// Matrix b of a batch [batch, rows, cols], as a new tensor on the batch's device.
Tensor matrix_of(const Tensor& batch, std::int64_t b) {
  const std::int64_t rows = batch.dim(1), cols = batch.dim(2);
  return gather_rows(batch.reshape({batch.dim(0), rows * cols}), {b}).reshape({rows, cols});
}

// The duality maps of docs/theory.md, without the correction. G is checked. Every map first
// divides by a max-abs (per column for `column`), which is exact in G's dtype and leaves
// entries in [-1, 1]: norms of subnormal or huge inputs then neither underflow to 0 nor
// overflow, and the map is invariant under scaling G.
Tensor dualize_checked(const Tensor& G, Norm kind, const OrthogonalizeOptions& orthogonalize) {
  switch (kind) {
    case Norm::spectral:
      // argmax_{sqrt(d_in/d_out) sigma_max(T) <= 1} <G, T> = sqrt(d_out/d_in) U V^T
      // (Bernstein & Newhouse 2024, "Old Optimizer, New Norm", Prop. 5; Large et al. 2024).
      return scale(detail::orthogonalize_checked(G, orthogonalize), shape_factor(G));
    case Norm::column: {
      // Column j -> G[:,j] / ||G[:,j]||_RMS = sqrt(d) G[:,j] / ||G[:,j]||_2; zero columns stay
      // zero (modula atom.py Embed.dualize maps their NaN to 0). Factors broadcast per column.
      const Tensor wide = detail::widen(G);
      const Tensor unit = div(wide, nonzero_or_one(max(abs(wide), 0)));
      const Tensor norms = nonzero_or_one(col_norms(unit));
      const Tensor root_d =
          Tensor::full({1}, std::sqrt(static_cast<double>(G.dim(0))), wide.dtype(), G.device());
      return mul(unit, div(root_d, norms)).to(G.dtype());
    }
    case Norm::sign:
      // argmax_{max|T_ij| <= 1} <G, T> = sign(G), entrywise (sign(0) = 0).
      return sign(G);
    case Norm::euclidean: {
      // g / ||g||_RMS = sqrt(n) g / ||g||_2.
      const double m = max_abs(G);
      if (m == 0.0) return Tensor::zeros(G.shape(), G.dtype(), G.device());
      const Tensor unit = div(G, Tensor::full({1}, m, G.dtype(), G.device()));
      return scale(unit, std::sqrt(static_cast<double>(G.numel())) / frobenius_norm(unit));
    }
  }
  fail("dualize", "unknown norm kind " + std::to_string(static_cast<int>(kind)));
}

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

const char* to_string(Norm norm) {
  switch (norm) {
    case Norm::spectral:
      return "spectral";
    case Norm::column:
      return "column";
    case Norm::sign:
      return "sign";
    case Norm::euclidean:
      return "euclidean";
  }
  return "unknown";
}

Tensor dualize(const Tensor& G, Norm kind, const DualizeOptions& options) {
  constexpr const char* op = "dualize";
  if (kind == Norm::spectral) detail::check_options(op, options.orthogonalize);
  detail::check_input(op, G, kind);
  Tensor direction = dualize_checked(G, kind, options.orthogonalize);
  const DualNormCorrection& correction = options.dual_norm_correction;
  if (correction.enabled) {
    // Scale by clamp(<G, dualize(G)>, lo, hi) (docs/theory.md, "Dual norm correction").
    const double pairing = detail::correction_pairing(G, direction, kind, correction.pairing);
    direction = scale(direction, std::clamp(pairing, detail::correction_lo(correction.range), 1.0));
  }
  return direction;
}

double dual_pairing(const Tensor& G, Norm kind, const DualizeOptions& options) {
  constexpr const char* op = "dual_pairing";
  if (kind == Norm::spectral) detail::check_options(op, options.orthogonalize);
  detail::check_input(op, G, kind);
  return dot(G, dualize_checked(G, kind, options.orthogonalize));
}

double dual_norm(const Tensor& G, Norm kind) {
  constexpr const char* op = "dual_norm";
  detail::check_input(op, G, kind);
  switch (kind) {
    case Norm::spectral: {
      if (G.rank() == 3) {  // the dual of a max of norms is the sum of the dual norms
        double total = 0.0;
        for (std::int64_t b = 0; b < G.dim(0); ++b) total += dual_norm(matrix_of(G, b), kind);
        return total;
      }
      // sqrt(d_out/d_in) ||G||_* with ||G||_* = sum_i sqrt(lambda_i(A)), A the smaller Gram
      // matrix of G, formed in f64 on G's device (products of f32 or bf16 entries are exact
      // there); its eigenvalues on the host (docs/theory.md, "Dual norms": accuracy and cost).
      // G is divided by its max-abs first so that A neither overflows nor underflows.
      const double m = max_abs(G);
      if (m == 0.0) return 0.0;
      const Tensor g = scale(G.to(DType::f64), 1.0 / m);
      const bool wide = g.dim(1) > g.dim(0);
      const Tensor gram = wide ? matmul(g, g, false, true) : matmul(g, g, true, false);
      double nuclear = 0.0;
      for (const double lambda : detail::symmetric_eigenvalues(gram))
        nuclear += std::sqrt(std::max(lambda, 0.0));
      return shape_factor(G) * m * nuclear;
    }
    case Norm::column:
      return std::sqrt(static_cast<double>(G.dim(0))) * sum(col_norms(G.to(DType::f64)));
    case Norm::sign:
      return sum(abs(G.to(DType::f64)));
    case Norm::euclidean:
      return std::sqrt(static_cast<double>(G.numel())) * frobenius_norm(G);
  }
  fail(op, "unknown norm kind " + std::to_string(static_cast<int>(kind)));
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
      largest = std::max(largest, spectral_norm(matrix_of(W, b), options));
    return largest;
  }
  if (options.exact) return detail::singular_values(W)[0];
  if (max_abs(W) == 0.0) return 0.0;
  return spectral_norm_iterated(W, options);
}

double norm(const Tensor& W, Norm kind, const SpectralNormOptions& options) {
  constexpr const char* op = "norm";
  detail::check_input(op, W, kind);
  switch (kind) {
    case Norm::spectral: {
      return spectral_norm(W, options) / shape_factor(W);  // sqrt(d_in/d_out) sigma_max
    }
    case Norm::column:
      return max(col_norms(W.to(DType::f64))) / std::sqrt(static_cast<double>(W.dim(0)));
    case Norm::sign:
      return max_abs(W);
    case Norm::euclidean:
      return frobenius_norm(W) / std::sqrt(static_cast<double>(W.numel()));
  }
  fail(op, "unknown norm kind " + std::to_string(static_cast<int>(kind)));
}

namespace detail {

Tensor nonzero_or_one(const Tensor& m) {
  // m + (1 - sign(m)) is exact: m where m > 0, and 1 where m is 0.
  return add(m, sub(Tensor::full({1}, 1.0, m.dtype(), m.device()), sign(m)));
}

double correction_lo(CorrectionRange range) {
  return range == CorrectionRange::nonnegative ? 0.0 : -1.0;
}

double shape_factor(const Shape& shape) {
  return std::sqrt(static_cast<double>(shape[shape.size() - 2]) /
                   static_cast<double>(shape[shape.size() - 1]));
}

double correction_pairing(const Tensor& G, const Tensor& dualized, Norm kind,
                          CorrectionPairing pairing) {
  return correction_pairing(dot(G, dualized), G.shape(), kind, pairing);
}

double correction_pairing(double inner, const Shape& shape, Norm kind, CorrectionPairing pairing) {
  // <G, O> = <G, dualize(G)> / sqrt(d_out/d_in): the shape factor kept out of the pairing.
  if (pairing == CorrectionPairing::orthogonalized && kind == Norm::spectral)
    return inner / shape_factor(shape);
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

}  // namespace detail
namespace detail {

void check_input(const char* op, const Tensor& t, Norm kind) {
  if (kind == Norm::spectral) check_matrix_or_batch(op, t);
  if (kind == Norm::column) check_matrix(op, t);
  check_nonempty(op, t);
  check_finite(op, t);
}

std::vector<Tensor> dualize_spectral(const std::vector<Tensor>& G,
                                     const OrthogonalizeOptions& options) {
  // Every matrix (of matrices or of batches of matrices) as one [n, rows, cols] batch -> one
  // orthogonalize (each matrix its own ||G||_F) -> the inputs' shapes.
  const Shape& shape = G.at(0).shape();
  const std::int64_t rows = G[0].dim(-2), cols = G[0].dim(-1);
  const auto n = static_cast<std::int64_t>(G.size()) * (G[0].numel() / (rows * cols));
  const Tensor O = orthogonalize_checked(concatenate(G, {n, rows, cols}), options);
  std::vector<Tensor> out = split(O, std::vector<Shape>(G.size(), shape));
  for (Tensor& o : out) o = scale(o, shape_factor(o.shape()));
  return out;
}

}  // namespace detail
}  // namespace modnorm
