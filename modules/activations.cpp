// ReLU, GELU, Abs: one elementwise bond class, the map and its VJP from ops.hpp.
#include "activations.hpp"

#include <cmath>

#include "modnorm/ops.hpp"
#include "module_checks.hpp"

namespace modnorm {
namespace {

class ElementwiseBond final : public Cloneable<ElementwiseBond, BondImpl> {
 public:
  using Map = Tensor (*)(const Tensor&);
  using Vjp = Tensor (*)(const Tensor&, const Tensor&);

  // y = gain * map(x); the sensitivity is gain * sup |map'| = 1 for all three bonds here.
  ElementwiseBond(const char* name, double gain, Map map, Vjp vjp)
      : name_(name), gain_(gain), map_(map), vjp_(vjp) {}

  std::string describe() const override { return name_; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    x_ = x;
    return gain_ == 1.0 ? map_(x) : scale(map_(x), gain_);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward((name_ + ".backward").c_str(), *this, x_.has_value());
    detail::check_grad_shape((name_ + ".backward").c_str(), *this, dy, x_->shape());
    const Tensor dx = vjp_(*x_, dy);
    return gain_ == 1.0 ? dx : scale(dx, gain_);
  }

  void clear_cache() override { x_.reset(); }

 private:
  std::string name_;
  double gain_;
  Map map_;
  Vjp vjp_;
  std::optional<Tensor> x_;
};

// max_x gelu'(x), attained at x = sqrt 2: Phi(sqrt 2) + sqrt 2 phi(sqrt 2).
const double kGeluMaxSlope = 0.5 * std::erfc(-1.0) + 1.0 / (std::exp(1.0) * std::sqrt(M_PI));

}  // namespace

ReLU::ReLU() : Module(std::make_shared<ElementwiseBond>("ReLU", 1.0, relu, relu_backward)) {}

GELU::GELU()
    : Module(std::make_shared<ElementwiseBond>("GELU", 1.0 / kGeluMaxSlope, gelu, gelu_backward)) {}

Abs::Abs() : Module(std::make_shared<ElementwiseBond>("Abs", 1.0, modnorm::abs, abs_backward)) {}

}  // namespace modnorm
