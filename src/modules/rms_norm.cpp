// RMS normalisation and mean subtraction over the last axis or over each example (no weights).
// Both see the input as a matrix [groups x d], one group per row.
#include "modnorm/modules/rms_norm.hpp"

#include <cmath>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// x as [groups x d] for `axes`, refusing a scalar and empty groups (d = 0).
Tensor as_groups(const char* op, const ModuleImpl& module, const Tensor& x, NormAxes axes) {
  if (x.rank() < (axes == NormAxes::last ? 1 : 2))
    fail_in(op, module,
            "input " + to_string(x.shape()) + " has no " +
                (axes == NormAxes::last ? "axis" : "axis after the batch axis") +
                " to normalise over");
  const Shape& s = x.shape();
  const std::int64_t d =
      axes == NormAxes::last ? s.back() : checked_numel(Shape(s.begin() + 1, s.end()), op);
  if (d == 0) fail_in(op, module, "input " + to_string(s) + " has empty groups to normalise");
  return x.reshape({x.numel() / d, d});
}

// x minus the mean of each row of the [groups x d] matrix x.
Tensor centered(const Tensor& x) {
  return sub(x, mean(x, 1).reshape({x.dim(0), 1}));
}

// How a bond shows its axes in describe(): nothing for the default, the last axis.
std::string axes_suffix(NormAxes axes) {
  return axes == NormAxes::last ? "" : "per example";
}

class RMSNormImpl final : public Cloneable<RMSNormImpl, BondImpl> {
 public:
  RMSNormImpl(double eps, NormAxes axes) : eps_(eps), axes_(axes) {}
  std::string describe() const override {
    const std::string axes = axes_suffix(axes_);
    return "RMSNorm(eps " + short_number(eps_) + (axes.empty() ? "" : ", " + axes) + ")";
  }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    const Tensor x2 = as_groups("RMSNorm.forward", *this, x, axes_);
    // r = sqrt(mean(x^2) + eps), one per group, as a column [N x 1].
    const Tensor eps = Tensor::full({1}, eps_, x.dtype(), x.device());
    r_ = modnorm::sqrt(add(mean(mul(x2, x2), 1), eps)).reshape({x2.dim(0), 1});
    y_ = div(x2, *r_);
    x_shape_ = x.shape();
    return y_->reshape(x_shape_);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("RMSNorm.backward", *this, y_.has_value());
    check_grad_shape("RMSNorm.backward", *this, dy, x_shape_);
    const Tensor dy2 = dy.reshape(y_->shape());
    const Tensor c = mean(mul(dy2, *y_), 1).reshape({y_->dim(0), 1});  // mean(dy * y) per group
    return div(sub(dy2, mul(*y_, c)), *r_).reshape(x_shape_);
  }

  void clear_cache() override {
    y_.reset();
    r_.reset();
  }

 private:
  double eps_;
  NormAxes axes_;
  std::optional<Tensor> y_, r_;  // output [N x d] and group RMS [N x 1] of the last forward
  Shape x_shape_;
};

class MeanSubtractImpl final : public Cloneable<MeanSubtractImpl, BondImpl> {
 public:
  explicit MeanSubtractImpl(NormAxes axes) : axes_(axes) {}
  std::string describe() const override {
    const std::string axes = axes_suffix(axes_);
    return axes.empty() ? "MeanSubtract" : "MeanSubtract(" + axes + ")";
  }
  double sensitivity() const override { return 1.0; }  // an orthogonal projection

  Tensor forward(const Tensor& x) override {
    groups_ = as_groups("MeanSubtract.forward", *this, x, axes_).shape();
    x_shape_ = x.shape();
    return centered(x.reshape(groups_)).reshape(x_shape_);
  }

  // The projection is symmetric: its vector-Jacobian product is the projection itself.
  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("MeanSubtract.backward", *this, !groups_.empty());
    check_grad_shape("MeanSubtract.backward", *this, dy, x_shape_);
    return centered(dy.reshape(groups_)).reshape(x_shape_);
  }

  void clear_cache() override { groups_.clear(); }

 private:
  NormAxes axes_;
  Shape groups_, x_shape_;  // [groups x d] and the input's shape (groups_ empty before forward)
};

void check_axes(const char* type, NormAxes axes) {
  if (axes != NormAxes::last && axes != NormAxes::example)
    fail(type, "unknown axes " + std::to_string(static_cast<int>(axes)));
}

std::shared_ptr<ModuleImpl> make_rms_norm(double eps, NormAxes axes) {
  if (!(eps >= 0.0) || !std::isfinite(eps))
    fail("RMSNorm", "eps must be a finite number >= 0, got " + std::to_string(eps));
  check_axes("RMSNorm", axes);
  return std::make_shared<RMSNormImpl>(eps, axes);
}

std::shared_ptr<ModuleImpl> make_mean_subtract(NormAxes axes) {
  check_axes("MeanSubtract", axes);
  return std::make_shared<MeanSubtractImpl>(axes);
}

}  // namespace

RMSNorm::RMSNorm(double eps, NormAxes axes) : Module(make_rms_norm(eps, axes)) {}
MeanSubtract::MeanSubtract(NormAxes axes) : Module(make_mean_subtract(axes)) {}

}  // namespace modnorm
