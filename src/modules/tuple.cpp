// Tuple: concatenation without the sum (docs/modules.md, "Tuples").
#include "modnorm/modules/tuple.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/modules/concatenation.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class TupleImpl final : public ConcatenationImpl<TupleImpl> {
 public:
  explicit TupleImpl(std::vector<Child> children)
      : ConcatenationImpl("Tuple", std::move(children)) {}

  std::string describe() const override { return "Tuple"; }

  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    arity_.clear();
    std::vector<Tensor> y;
    for (const Child& child : kids()) {
      const std::vector<Tensor> yk = Module(child.module).forward_tuple(x);
      arity_.push_back(yk.size());
      y.insert(y.end(), yk.begin(), yk.end());
    }
    return y;
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad) override {
    require_forward("Tuple.backward", *this, !arity_.empty());
    std::size_t total = 0;
    for (const std::size_t n : arity_) total += n;
    if (dy.size() != total)
      fail_in("Tuple.backward", *this,
              "got " + std::to_string(dy.size()) + " output gradients for " +
                  std::to_string(total) + " outputs");
    std::vector<Tensor> dx;
    auto first = dy.begin();
    for (std::size_t k = 0; k < kids().size(); ++k) {
      const std::vector<Tensor> part(first, first + static_cast<std::ptrdiff_t>(arity_[k]));
      first += static_cast<std::ptrdiff_t>(arity_[k]);
      const std::vector<Tensor> dxk = Module(kids()[k].module).backward_tuple(part, input_grad);
      if (k == 0 || !input_grad)
        dx = dxk;
      else
        for (std::size_t i = 0; i < dx.size(); ++i) dx[i] = add(dx[i], dxk[i]);
    }
    return dx;
  }

  void clear_cache() override { arity_.clear(); }

 private:
  std::vector<std::size_t> arity_;  // number of outputs of each child in the last forward
};

std::shared_ptr<ModuleImpl> make_tuple(std::vector<Child> children) {
  if (children.empty()) fail("Tuple", "needs at least one child, got none");
  return std::make_shared<TupleImpl>(std::move(children));
}

}  // namespace

Tuple::Tuple(std::initializer_list<Module> children)
    : Module(make_tuple(unnamed_children(children))) {}

Tuple::Tuple(std::vector<Child> children) : Module(make_tuple(std::move(children))) {}

}  // namespace modnorm
