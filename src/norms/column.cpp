// The column norm (docs/theory.md, "Norms"): the l1->RMS operator norm of an embedding table
// W [d x vocab] (one column per token), max_j ||W[:,j]||_RMS.
#include <cmath>
#include <memory>

#include "backend.hpp"
#include "dualize_detail.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class ColumnRule final : public NormRule {
 public:
  const char* name() const override { return "column"; }

  std::string shape_requirement(const Shape& shape) const override {
    return shape.size() == 2 ? "" : "a matrix (rank 2)";
  }

  double norm(const Tensor& W, const SpectralNormOptions&) const override {
    return max(col_norms(W.to(DType::f64))) / std::sqrt(static_cast<double>(W.dim(0)));
  }

  double dual_norm(const Tensor& G) const override {
    return std::sqrt(static_cast<double>(G.dim(0))) * sum(col_norms(G.to(DType::f64)));
  }

  Tensor dualize(const Tensor& G, const OrthogonalizeOptions&) const override {
    // Column j -> G[:,j] / ||G[:,j]||_RMS = sqrt(d) G[:,j] / ||G[:,j]||_2; zero columns stay
    // zero (modula atom.py Embed.dualize maps their NaN to 0). Each column is first divided by
    // its max-abs (exact), so that its norm neither underflows nor overflows; factors broadcast
    // per column.
    const Tensor wide = detail::widen(G);
    const Tensor unit = div(wide, detail::nonzero_or_one(max(abs(wide), 0)));
    const Tensor norms = detail::nonzero_or_one(col_norms(unit));
    const Tensor root_d =
        Tensor::full({1}, std::sqrt(static_cast<double>(G.dim(0))), wide.dtype(), G.device());
    return mul(unit, div(root_d, norms)).to(G.dtype());
  }
};

}  // namespace

const Norm Norm::column{std::make_shared<ColumnRule>()};

}  // namespace modnorm
