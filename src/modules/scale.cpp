// Identity bond and scalar multiple a * M = Mul(a) o M (docs/modules.md, "Composition rules";
// modula's `a * M`).
#include "modnorm/modules/scale.hpp"

#include <cmath>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class IdentityImpl final : public Cloneable<IdentityImpl, BondImpl> {
 public:
  std::string describe() const override { return "Identity"; }
  double sensitivity() const override { return 1.0; }
  // Any tuple passes through unchanged.
  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    forwarded_ = true;
    return x;
  }
  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool /*input_grad*/) override {
    require_forward("Identity.backward", *this, forwarded_);
    return dy;
  }
  void clear_cache() override { forwarded_ = false; }

 private:
  bool forwarded_ = false;
};

class ScaleImpl final : public Cloneable<ScaleImpl, CompoundImpl> {
 public:
  ScaleImpl(double a, Module module) : Cloneable("Scale", {{"", std::move(module)}}), a_(a) {}

  std::string describe() const override { return "Scale(" + short_number(a_) + ")"; }
  double sensitivity() const override { return std::fabs(a_) * inner().sensitivity(); }
  // a * M is the sequential composition Mul(a) o M with a bond of sensitivity |a| after M:
  // ||w||_{aM} = |a| ||w||_M, so M's atoms' coefficients are multiplied by |a| and their
  // dualized updates divided by it (the output of a * f moves |a| times as far). Identical
  // to M >> Scale(a).
  std::vector<double> child_factors() const override { return {std::fabs(a_)}; }

  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    std::vector<Tensor> y = inner().forward_tuple(x);
    for (Tensor& t : y) t = scale(t, a_);
    return y;
  }
  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad) override {
    std::vector<Tensor> scaled;
    for (const Tensor& t : dy) scaled.push_back(scale(t, a_));
    return inner().backward_tuple(scaled, input_grad);
  }

 private:
  Module inner() const { return kids()[0].module; }
  double a_;
};

std::shared_ptr<ModuleImpl> make_scale(double a, Module module) {
  if (!std::isfinite(a) || a == 0.0)
    fail("Scale", "a must be finite and non-zero, got " + short_number(a) +
                      " (0 * M would give M's atoms coefficient 0: an unbounded dual "
                      "step; leave the branch out instead)");
  return std::make_shared<ScaleImpl>(a, std::move(module));
}

}  // namespace

Identity::Identity() : Module(std::make_shared<IdentityImpl>()) {}

Scale::Scale(double a, Module module) : Module(make_scale(a, std::move(module))) {}

}  // namespace modnorm
