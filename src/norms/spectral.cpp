// The spectral norm (docs/theory.md, "Norms"): the RMS->RMS operator norm of a Linear weight
// W [d_out x d_in], sqrt(d_in/d_out) sigma_max(W). A batch [B, d_out, d_in] (a per-tap Conv2D
// weight) is B matrices under the max of their norms: its duality map is each matrix's, its dual
// norm the sum of theirs.
#include <algorithm>
#include <cmath>
#include <memory>

#include "dualize_detail.hpp"
#include "host_linalg.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"
#include "pack.hpp"

namespace modnorm {
namespace {

class SpectralRule final : public NormRule {
 public:
  const char* name() const override { return "spectral"; }

  std::string shape_requirement(const Shape& shape) const override {
    if (shape.size() == 2 || shape.size() == 3) return "";
    return "a matrix (rank 2) or a batch of matrices (rank 3)";
  }

  double norm(const Tensor& W, const SpectralNormOptions& options) const override {
    return spectral_norm(W, options) / shape_factor(W.shape());  // sqrt(d_in/d_out) sigma_max
  }

  double dual_norm(const Tensor& G) const override {
    if (G.rank() == 3) {  // the dual of a max of norms is the sum of the dual norms
      double total = 0.0;
      for (std::int64_t b = 0; b < G.dim(0); ++b) total += dual_norm(detail::matrix_of(G, b));
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
    return shape_factor(G.shape()) * m * nuclear;
  }

  Tensor dualize(const Tensor& G, const OrthogonalizeOptions& options) const override {
    // argmax_{sqrt(d_in/d_out) sigma_max(T) <= 1} <G, T> = sqrt(d_out/d_in) U V^T
    // (Bernstein & Newhouse 2024, "Old Optimizer, New Norm", Prop. 5; Large et al. 2024).
    return scale(detail::orthogonalize_checked(G, options), shape_factor(G.shape()));
  }

  std::vector<Tensor> dualize_batch(const std::vector<Tensor>& G,
                                    const OrthogonalizeOptions& options) const override {
    // Every matrix (of matrices or of batches of matrices) as one [n, rows, cols] batch -> one
    // orthogonalize (each matrix its own ||G||_F) -> the inputs' shapes.
    const Shape& shape = G.at(0).shape();
    const std::int64_t rows = G[0].dim(-2), cols = G[0].dim(-1);
    const auto n = static_cast<std::int64_t>(G.size()) * (G[0].numel() / (rows * cols));
    const Tensor O = detail::orthogonalize_checked(detail::pack(G, {n, rows, cols}), options);
    std::vector<Tensor> out = detail::unpack(O, std::vector<Shape>(G.size(), shape));
    for (Tensor& o : out) o = scale(o, shape_factor(o.shape()));
    return out;
  }

  double shape_factor(const Shape& shape) const override {
    return std::sqrt(static_cast<double>(shape[shape.size() - 2]) /
                     static_cast<double>(shape[shape.size() - 1]));
  }

  bool orthogonalizes() const override { return true; }

  // Flops of orthogonalizing a rows x cols matrix (or a batch of them, [batch, rows, cols]) with
  // the steps `options` asks for (svd counts as the default quintic): per matrix and step
  // A = X X^T (2 m^2 n), B = b A + c A A (2 m^3, absent for a cubic), B X (2 m^2 n), with
  // m = min(rows, cols), n = max(rows, cols) (the Gram matrix is the small one).
  double cost(const Shape& shape, const OrthogonalizeOptions& options) const override {
    OrthogonalizeOptions counted = options;
    if (counted.method == OrthogonalizeMethod::svd) counted = OrthogonalizeOptions{};
    const std::int64_t rows = shape[shape.size() - 2], cols = shape[shape.size() - 1];
    const auto matrices = static_cast<double>(shape.size() == 3 ? shape[0] : 1);
    const auto m = static_cast<double>(std::min(rows, cols));
    const auto n = static_cast<double>(std::max(rows, cols));
    double flops = 0.0;
    for (const auto& step : detail::newton_schulz_coefficients(counted))
      flops += 4.0 * m * m * n + (step[2] != 0.0 ? 2.0 * m * m * m : 0.0);
    return matrices * flops;
  }
};

}  // namespace

const Norm Norm::spectral{std::make_shared<SpectralRule>()};

}  // namespace modnorm
