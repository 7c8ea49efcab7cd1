// The euclidean norm (docs/theory.md, "Norms"): the RMS norm of a vector (bias, gain), or of a
// tensor of any rank seen as a flat list of its n entries, ||w||_RMS = ||w||_2 / sqrt(n).
#include <cmath>
#include <memory>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class EuclideanRule final : public NormRule {
 public:
  const char* name() const override { return "euclidean"; }

  double norm(const Tensor& W, const SpectralNormOptions&) const override {
    return frobenius_norm(W) / std::sqrt(static_cast<double>(W.numel()));
  }

  double dual_norm(const Tensor& G) const override {
    return std::sqrt(static_cast<double>(G.numel())) * frobenius_norm(G);
  }

  Tensor dualize(const Tensor& G, const OrthogonalizeOptions&) const override {
    // g / ||g||_RMS = sqrt(n) g / ||g||_2, after dividing by the max-abs (exact) so that the
    // norm neither underflows nor overflows.
    const double m = max_abs(G);
    if (m == 0.0) return Tensor::zeros(G.shape(), G.dtype(), G.device());
    const Tensor unit = div(G, Tensor::full({1}, m, G.dtype(), G.device()));
    return scale(unit, std::sqrt(static_cast<double>(G.numel())) / frobenius_norm(unit));
  }
};

}  // namespace

const Norm Norm::euclidean{std::make_shared<EuclideanRule>()};

}  // namespace modnorm
