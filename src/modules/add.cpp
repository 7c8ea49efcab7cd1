// Add: concatenation (mass adds, sensitivity adds, factor M / m_k) then a sum bond
// (docs/modules.md, "Composition rules").
#include "modnorm/modules/add.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/modules/concatenation.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class AddImpl final : public ConcatenationImpl<AddImpl> {
 public:
  explicit AddImpl(std::vector<Child> branches) : ConcatenationImpl("Add", std::move(branches)) {}

  std::string describe() const override { return "Add"; }

  // Branch outputs are summed entry by entry (a branch may give a tuple; all give the same).
  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    std::vector<Tensor> y = Module(kids()[0].module).forward_tuple(x);
    for (std::size_t k = 1; k < kids().size(); ++k) {
      const std::vector<Tensor> yk = Module(kids()[k].module).forward_tuple(x);
      if (yk.size() != y.size())
        fail_in("Add.forward", *this,
                "branch " + kids()[k].name + " gives " + std::to_string(yk.size()) +
                    " tensors but branch " + kids()[0].name + " gives " + std::to_string(y.size()));
      for (std::size_t i = 0; i < y.size(); ++i) {
        if (yk[i].shape() != y[i].shape())
          fail_in("Add.forward", *this,
                  "branch " + kids()[k].name + " gives " + to_string(yk[i].shape()) +
                      " but branch " + kids()[0].name + " gives " + to_string(y[i].shape()));
        y[i] = add(y[i], yk[i]);
      }
    }
    return y;
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad) override {
    // add(), not axpy: a branch may hand back dy itself (Identity), which is the caller's.
    std::vector<Tensor> dx = Module(kids()[0].module).backward_tuple(dy, input_grad);
    for (std::size_t k = 1; k < kids().size(); ++k) {
      const std::vector<Tensor> branch = Module(kids()[k].module).backward_tuple(dy, input_grad);
      if (input_grad)
        for (std::size_t i = 0; i < dx.size(); ++i) dx[i] = add(dx[i], branch[i]);
    }
    return dx;
  }
};

std::shared_ptr<ModuleImpl> make_add(std::vector<Child> branches) {
  if (branches.empty()) fail("Add", "needs at least one branch, got none");
  return std::make_shared<AddImpl>(std::move(branches));
}

}  // namespace

Add::Add(std::initializer_list<Module> branches) : Module(make_add(unnamed_children(branches))) {}

Add::Add(std::vector<Child> branches) : Module(make_add(std::move(branches))) {}

}  // namespace modnorm
