// The sign norm (docs/theory.md, "Norms"): the l1->l_inf operator norm, max_ij |W_ij|, of a
// tensor of any rank seen as a flat list of its entries.
#include <memory>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class SignRule final : public NormRule {
 public:
  const char* name() const override { return "sign"; }

  double norm(const Tensor& W, const SpectralNormOptions&) const override { return max_abs(W); }

  double dual_norm(const Tensor& G) const override { return sum(abs(G.to(DType::f64))); }

  Tensor dualize(const Tensor& G, const OrthogonalizeOptions&) const override {
    // argmax_{max|T_ij| <= 1} <G, T> = sign(G), entrywise (sign(0) = 0).
    return sign(G);
  }
};

}  // namespace

const Norm Norm::sign{std::make_shared<SignRule>()};

}  // namespace modnorm
