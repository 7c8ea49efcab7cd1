// dualize(), dual_norm(), norm(), spectral_norm(): the table of DESIGN.md section 3, written
// with the tensor ops so that it runs on any device (docs/theory.md derives each row).
// W and G are d_out x d_in; <A, B> is the Frobenius inner product.
#include "modnorm/dualize.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "cpu/svd.hpp"
#include "dualize_detail.hpp"
#include "fail.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

using detail::fail;

// Reductions of a bf16 tensor produce bf16 results; norms are taken of an f32 copy instead.
Tensor widened(const Tensor& t) {
  return t.dtype() == DType::bf16 ? t.to(DType::f32) : t;
}

void check_input(const char* op, const Tensor& t, Norm kind) {
  if (kind == Norm::spectral || kind == Norm::column)
    detail::check_matrix(op, t);
  else
    detail::check_nonempty(op, t);
  detail::check_finite(op, t);
}

// A [rows x cols] tensor whose column j is factors[j]: the outer product ones * factors^T,
// which is how a per-column scale is broadcast with the op set (one GEMM with inner dimension
// 1, on the tensor's device).
Tensor column_scales(const std::vector<double>& factors, std::int64_t rows, const Tensor& like) {
  const auto cols = static_cast<std::int64_t>(factors.size());
  Tensor row = Tensor::from_vector_f64(factors, {1, cols}).to(like.dtype()).to(like.device());
  Tensor ones = Tensor::full({rows, 1}, 1.0, like.dtype(), like.device());
  return matmul(ones, row);
}

// The duality maps of DESIGN.md 3, without the correction. G is checked.
Tensor dualize_checked(const Tensor& G, Norm kind, const OrthogonalizeOptions& orthogonalize) {
  switch (kind) {
    case Norm::spectral: {
      // argmax_{sqrt(d_in/d_out) sigma_max(T) <= 1} <G, T> = sqrt(d_out/d_in) U V^T
      // (Bernstein & Newhouse 2024, "Old Optimizer, New Norm", Prop. 5; Large et al. 2024).
      const double d_out = static_cast<double>(G.dim(0)), d_in = static_cast<double>(G.dim(1));
      return scale(detail::orthogonalize_checked(G, orthogonalize), std::sqrt(d_out / d_in));
    }
    case Norm::column: {
      // Column j -> G[:,j] / ||G[:,j]||_RMS = sqrt(d) G[:,j] / ||G[:,j]||_2; zero columns stay
      // zero (modula atom.py Embed.dualize maps their NaN to 0).
      const double d = static_cast<double>(G.dim(0));
      const std::vector<double> norms = col_norms(widened(G)).to_vector_f64();
      std::vector<double> factors(norms.size());
      for (std::size_t j = 0; j < norms.size(); ++j)
        factors[j] = norms[j] > 0.0 ? std::sqrt(d) / norms[j] : 0.0;
      return mul(G, column_scales(factors, G.dim(0), G));
    }
    case Norm::sign:
      // argmax_{max|T_ij| <= 1} <G, T> = sign(G), entrywise (sign(0) = 0).
      return sign(G);
    case Norm::euclidean: {
      // g / ||g||_RMS = sqrt(n) g / ||g||_2.
      const double l2 = frobenius_norm(widened(G));
      if (l2 == 0.0) return Tensor::zeros(G.shape(), G.dtype(), G.device());
      return scale(G, std::sqrt(static_cast<double>(G.numel())) / l2);
    }
  }
  fail("dualize", "unknown norm kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace

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
  check_input(op, G, kind);
  Tensor direction = dualize_checked(G, kind, options.orthogonalize);
  if (options.dual_norm_correction.enabled) {
    // Seed 000_524310cbc03ef28b.txt: scale by clamp(<G, dualize(G)>, lo, hi).
    const double lo =
        options.dual_norm_correction.range == CorrectionRange::nonnegative ? 0.0 : -1.0;
    const double pairing = dot(G, direction);
    direction = scale(direction, std::clamp(pairing, lo, 1.0));
  }
  return direction;
}

double dual_norm(const Tensor& G, Norm kind, const DualizeOptions& options) {
  constexpr const char* op = "dual_norm";
  if (kind == Norm::spectral) detail::check_options(op, options.orthogonalize);
  check_input(op, G, kind);
  switch (kind) {
    case Norm::spectral:
      // <G, dualize(G)>: sqrt(d_out/d_in) ||G||_* for the exact polar factor.
      return dot(G, dualize_checked(G, kind, options.orthogonalize));
    case Norm::column:
      return std::sqrt(static_cast<double>(G.dim(0))) * sum(col_norms(widened(G)));
    case Norm::sign:
      return sum(abs(widened(G)));
    case Norm::euclidean:
      return std::sqrt(static_cast<double>(G.numel())) * frobenius_norm(widened(G));
  }
  fail(op, "unknown norm kind " + std::to_string(static_cast<int>(kind)));
}

double spectral_norm(const Tensor& W, const SpectralNormOptions& options) {
  constexpr const char* op = "spectral_norm";
  if (!(options.tolerance > 0.0))
    fail(op, "tolerance must be > 0, got " + std::to_string(options.tolerance));
  if (options.max_iterations < 1)
    fail(op, "max_iterations must be >= 1, got " + std::to_string(options.max_iterations));
  detail::check_matrix(op, W);
  detail::check_finite(op, W);

  if (options.exact) return detail::cpu::singular_values(W.to(Device::cpu).to(DType::f64))[0];

  // Orthogonal (block power) iteration on W^T W with k = min(4, rows, cols) vectors (Golub &
  // Van Loan 2013, sec. 8.2.4): V <- orth(W^T W V), with the estimate sigma_1(W V), the top
  // Ritz value. V has orthonormal columns, so every estimate is <= sigma_max; it converges at
  // the rate (sigma_{k+1} / sigma_1)^2 per iteration, so nearly equal top singular values (as
  // in Gaussian matrices) do not stall it the way they stall a single vector. The products run
  // on W's device; the k-column orthonormalisation (the polar factor of W^T W V) and the k
  // singular values of W V are host f64 work on n x k and m x k blocks.
  const Tensor w = widened(W);
  if (frobenius_norm(w) == 0.0) return 0.0;
  const std::int64_t k = std::min<std::int64_t>({4, w.dim(0), w.dim(1)});
  Generator gen(options.seed);
  auto orthonormal = [&](const Tensor& z) {
    return detail::cpu::svd_polar_factor(z.to(Device::cpu).to(DType::f64))
        .to(w.dtype())
        .to(w.device());
  };
  auto random_start = [&] {
    return orthonormal(Tensor::randn({w.dim(1), k}, gen, w.dtype(), w.device()));
  };
  Tensor v = random_start();
  double sigma = 0.0;
  for (int it = 0; it < options.max_iterations; ++it) {
    const Tensor u = matmul(w, v);
    const double next = detail::cpu::singular_values(u.to(Device::cpu).to(DType::f64))[0];
    if (next == 0.0) {  // v in the null space (probability zero): start again elsewhere
      v = random_start();
      continue;
    }
    v = orthonormal(matmul(w, u, true, false));
    const bool converged = std::abs(next - sigma) <= options.tolerance * next;
    sigma = std::max(sigma, next);
    if (converged) break;
  }
  return sigma;
}

double norm(const Tensor& W, Norm kind, const SpectralNormOptions& options) {
  constexpr const char* op = "norm";
  check_input(op, W, kind);
  switch (kind) {
    case Norm::spectral: {
      const double d_out = static_cast<double>(W.dim(0)), d_in = static_cast<double>(W.dim(1));
      return std::sqrt(d_in / d_out) * spectral_norm(W, options);
    }
    case Norm::column:
      return max(col_norms(widened(W))) / std::sqrt(static_cast<double>(W.dim(0)));
    case Norm::sign:
      return max_abs(W);
    case Norm::euclidean:
      return frobenius_norm(widened(W)) / std::sqrt(static_cast<double>(W.numel()));
  }
  fail(op, "unknown norm kind " + std::to_string(static_cast<int>(kind)));
}

namespace detail {

void check_nonempty(const char* op, const Tensor& t) {
  if (t.numel() == 0) fail(op, "expects a non-empty tensor, got " + t.describe());
}

void check_matrix(const char* op, const Tensor& t) {
  if (t.rank() != 2) fail(op, "expects a matrix (rank 2), got " + t.describe());
  check_nonempty(op, t);
}

void check_finite(const char* op, const Tensor& t) {
  if (all_finite(t)) return;
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
  msg << "input " << t.describe() << " contains " << what << " at [";
  for (std::size_t d = 0; d < index.size(); ++d) msg << (d ? ", " : "") << index[d];
  msg << "] (" << count << " non-finite " << (count == 1 ? "entry" : "entries")
      << "); the input must be finite";
  fail(op, msg.str());
}

}  // namespace detail
}  // namespace modnorm
