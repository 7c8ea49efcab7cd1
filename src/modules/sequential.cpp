// Sequential composition: mass adds, sensitivity multiplies, child k's atoms get the factor
// (M / m_k) * prod_{j > k} s_j (docs/modules.md).
#include "modnorm/modules/sequential.hpp"

#include <limits>

#include "modnorm/module_checks.hpp"

namespace modnorm {
namespace {

class SequentialImpl final : public Cloneable<SequentialImpl, CompoundImpl> {
 public:
  explicit SequentialImpl(std::vector<Child> children)
      : Cloneable("Sequential", std::move(children)) {}

  std::string describe() const override { return "Sequential"; }

  double sensitivity() const override {
    double s = 1.0;
    for (const Child& child : kids()) s *= child.module.sensitivity();
    return s;
  }

  std::vector<double> child_factors() const override {
    const double total = mass();
    std::vector<double> factors(kids().size());
    double after = 1.0;  // product of the sensitivities of the children after k
    for (std::size_t k = kids().size(); k-- > 0;) {
      const double m = kids()[k].module.mass();
      factors[k] = m > 0.0 ? (total / m) * after : std::numeric_limits<double>::infinity();
      after *= kids()[k].module.sensitivity();
    }
    return factors;
  }

  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    std::vector<Tensor> h = x;
    for (const Child& child : kids()) h = Module(child.module).forward_tuple(h);
    return h;
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad) override {
    // Every child but the first hands dL/dx on to the one before it.
    std::vector<Tensor> g = dy;
    for (auto it = kids().rbegin(); it != kids().rend(); ++it)
      g = Module(it->module).backward_tuple(g, input_grad || std::next(it) != kids().rend());
    return g;
  }
};

std::shared_ptr<ModuleImpl> make_sequential(std::vector<Child> children) {
  if (children.empty()) fail("Sequential", "needs at least one module, got none");
  return std::make_shared<SequentialImpl>(std::move(children));
}

}  // namespace

Sequential::Sequential(std::initializer_list<Module> children)
    : Module(make_sequential(unnamed_children(children))) {}

Sequential::Sequential(std::vector<Child> children)
    : Module(make_sequential(std::move(children))) {}

Module operator>>(const Module& a, const Module& b) {
  // A Sequential on the left is extended, so a >> b >> c has children 0, 1, 2.
  std::vector<Child> children;
  if (dynamic_cast<const SequentialImpl*>(&a.impl()))
    children = a.impl().children();
  else
    children.push_back({"", a});
  children.push_back({std::to_string(children.size()), b});
  return Sequential(std::move(children));
}

Module repeat(const Module& block, int times) {
  if (times < 1) fail("repeat", "times must be >= 1, got " + std::to_string(times));
  std::vector<Child> children{{"", block}};
  for (int k = 1; k < times; ++k) children.push_back({"", block.clone()});
  return Sequential(std::move(children));
}

}  // namespace modnorm
