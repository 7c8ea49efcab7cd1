// ReLU, GELU, Abs, SquaredReLU, SoftCap: one elementwise bond class, the map and its VJP from
// ops.hpp.
#include "modnorm/modules/activations.hpp"

#include <cmath>
#include <functional>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class ElementwiseBond final : public Cloneable<ElementwiseBond, BondImpl> {
 public:
  using Map = std::function<Tensor(const Tensor&)>;
  using Vjp = std::function<Tensor(const Tensor& x, const Tensor& dy)>;

  // y = map(x), dx = vjp(x, dy); `sensitivity` is the bound on |map'| that each constructor
  // below argues (activations.hpp).
  ElementwiseBond(std::string name, double sensitivity, Map map, Vjp vjp)
      : name_(std::move(name)),
        sensitivity_(sensitivity),
        map_(std::move(map)),
        vjp_(std::move(vjp)) {}

  std::string describe() const override { return name_; }
  double sensitivity() const override { return sensitivity_; }

  Tensor forward(const Tensor& x) override {
    x_ = x;
    return map_(x);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward((name_ + ".backward").c_str(), *this, x_.has_value());
    check_grad_shape((name_ + ".backward").c_str(), *this, dy, x_->shape());
    return vjp_(*x_, dy);
  }

  void clear_cache() override { x_.reset(); }

 private:
  std::string name_;
  double sensitivity_;
  Map map_;
  Vjp vjp_;
  std::optional<Tensor> x_;
};

// max_x gelu'(x), attained at x = sqrt 2: Phi(sqrt 2) + sqrt 2 phi(sqrt 2).
const double kGeluMaxSlope = 0.5 * std::erfc(-1.0) + 1.0 / (std::exp(1.0) * std::sqrt(M_PI));

std::shared_ptr<ModuleImpl> make_soft_cap(double cap) {
  if (!(cap > 0.0) || !std::isfinite(cap))
    fail("SoftCap", "cap must be a finite number > 0, got " + short_number(cap));
  return std::make_shared<ElementwiseBond>(
      "SoftCap(" + short_number(cap) + ")", 1.0,
      [cap](const Tensor& x) { return scale(modnorm::tanh(scale(x, 1.0 / cap)), cap); },
      [cap](const Tensor& x, const Tensor& dy) { return tanh_backward(scale(x, 1.0 / cap), dy); });
}

}  // namespace

ReLU::ReLU() : Module(std::make_shared<ElementwiseBond>("ReLU", 1.0, relu, relu_backward)) {}

GELU::GELU()
    : Module(std::make_shared<ElementwiseBond>(
          "GELU", 1.0, [](const Tensor& x) { return scale(gelu(x), 1.0 / kGeluMaxSlope); },
          [](const Tensor& x, const Tensor& dy) {
            return scale(gelu_backward(x, dy), 1.0 / kGeluMaxSlope);
          })) {}

Abs::Abs() : Module(std::make_shared<ElementwiseBond>("Abs", 1.0, modnorm::abs, abs_backward)) {}

SquaredReLU::SquaredReLU()
    : Module(std::make_shared<ElementwiseBond>(
          "SquaredReLU", 2.0,
          [](const Tensor& x) {
            const Tensor r = relu(x);
            return mul(r, r);
          },
          [](const Tensor& x, const Tensor& dy) { return scale(mul(relu(x), dy), 2.0); })) {}

SoftCap::SoftCap(double cap) : Module(make_soft_cap(cap)) {}

}  // namespace modnorm
