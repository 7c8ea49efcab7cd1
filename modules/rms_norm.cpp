// RMS normalisation over the last axis (no weights).
#include "rms_norm.hpp"

#include <cmath>

#include "modnorm/ops.hpp"
#include "module_checks.hpp"

namespace modnorm {
namespace {

class RMSNormImpl final : public Cloneable<RMSNormImpl, BondImpl> {
 public:
  explicit RMSNormImpl(double eps) : eps_(eps) {}
  std::string describe() const override {
    return "RMSNorm(eps " + detail::short_number(eps_) + ")";
  }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    if (x.rank() < 1) detail::fail_in("RMSNorm.forward", *this, "input must not be a scalar");
    const std::int64_t d = x.dim(-1);
    const Tensor x2 = x.reshape({x.numel() / d, d});
    // r = sqrt(mean(x^2) + eps), one per row, as a column [N x 1].
    const Tensor eps = Tensor::full({1}, eps_, x.dtype(), x.device());
    r_ = modnorm::sqrt(add(mean(mul(x2, x2), 1), eps)).reshape({x2.dim(0), 1});
    y_ = div(x2, *r_);
    x_shape_ = x.shape();
    return y_->reshape(x_shape_);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("RMSNorm.backward", *this, y_.has_value());
    detail::check_grad_shape("RMSNorm.backward", *this, dy, x_shape_);
    const Tensor dy2 = dy.reshape(y_->shape());
    const Tensor c = mean(mul(dy2, *y_), 1).reshape({y_->dim(0), 1});  // mean(dy * y) per row
    return div(sub(dy2, mul(*y_, c)), *r_).reshape(x_shape_);
  }

  void clear_cache() override {
    y_.reset();
    r_.reset();
  }

 private:
  double eps_;
  std::optional<Tensor> y_, r_;  // output [N x d] and row RMS [N x 1] of the last forward
  Shape x_shape_;
};

std::shared_ptr<ModuleImpl> make_rms_norm(double eps) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    detail::fail("RMSNorm", "eps must be a finite number >= 0, got " + std::to_string(eps));
  return std::make_shared<RMSNormImpl>(eps);
}

}  // namespace

RMSNorm::RMSNorm(double eps) : Module(make_rms_norm(eps)) {}

}  // namespace modnorm
