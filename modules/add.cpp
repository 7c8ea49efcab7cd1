// Add: concatenation (mass adds, sensitivity adds, factor M / m_k) then a sum bond
// (docs/modules.md, "Composition rules").
#include "add.hpp"

#include <limits>

#include "module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class AddImpl final : public Cloneable<AddImpl, CompoundImpl> {
 public:
  explicit AddImpl(std::vector<Child> branches) : Cloneable("Add", std::move(branches)) {}

  std::string describe() const override { return "Add"; }

  double sensitivity() const override {
    double s = 0.0;
    for (const Child& child : kids()) s += child.module.sensitivity();
    return s;
  }

  std::vector<double> child_factors() const override {
    const double total = mass();
    std::vector<double> factors;
    for (const Child& child : kids()) {
      const double m = child.module.mass();
      factors.push_back(m > 0.0 ? total / m : std::numeric_limits<double>::infinity());
    }
    return factors;
  }

  Tensor forward(const Tensor& x) override {
    Tensor y = Module(kids()[0].module).forward(x);
    for (std::size_t k = 1; k < kids().size(); ++k) {
      const Tensor yk = Module(kids()[k].module).forward(x);
      if (yk.shape() != y.shape())
        detail::fail_in("Add.forward", *this,
                        "branch " + kids()[k].name + " gives " + to_string(yk.shape()) +
                            " but branch " + kids()[0].name + " gives " + to_string(y.shape()));
      y = add(y, yk);
    }
    return y;
  }

  Tensor backward(const Tensor& dy, bool input_grad) override {
    // add(), not axpy: a branch may hand back dy itself (Identity), which is the caller's.
    Tensor dx = Module(kids()[0].module).backward(dy, input_grad);
    for (std::size_t k = 1; k < kids().size(); ++k) {
      const Tensor branch = Module(kids()[k].module).backward(dy, input_grad);
      if (input_grad) dx = add(dx, branch);
    }
    return dx;
  }
};

std::shared_ptr<ModuleImpl> make_add(std::vector<Child> branches) {
  if (branches.empty()) detail::fail("Add", "needs at least one branch, got none");
  return std::make_shared<AddImpl>(std::move(branches));
}

}  // namespace

Add::Add(std::initializer_list<Module> branches) : Module(make_add(unnamed_children(branches))) {}

Add::Add(std::vector<Child> branches) : Module(make_add(std::move(branches))) {}

}  // namespace modnorm
