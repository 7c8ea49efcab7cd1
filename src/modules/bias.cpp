// Bias: y = x + b, b in the RMS norm (docs/theory.md, section 2).
#include "modnorm/modules/bias.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class BiasImpl final : public Cloneable<BiasImpl, AtomImpl> {
 public:
  BiasImpl(std::int64_t n, const AtomOptions& options)
      : Cloneable("Bias", {n}, Norm::euclidean, options), n_(n) {}

  std::string describe() const override { return "Bias(" + std::to_string(n_) + ")"; }

  Tensor forward(const Tensor& x) override {
    check_width("Bias.forward", *this, x, n_);
    check_like("Bias.forward", *this, x, weight());
    y_shape_ = x.shape();
    return add(x, weight());  // broadcast over the leading axes
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Bias.backward", *this, !y_shape_.empty());
    check_grad_shape("Bias.backward", *this, dy, y_shape_);
    axpy(1.0, sum(dy.reshape({dy.numel() / n_, n_}), 0), grad());  // db += sum_rows dy
    return dy;
  }

  void clear_cache() override { y_shape_.clear(); }

 private:
  std::int64_t n_;
  Shape y_shape_;  // empty until forward
};

std::shared_ptr<ModuleImpl> make_bias(std::int64_t n, const AtomOptions& options) {
  if (n < 1) fail("Bias", "n must be >= 1, got " + std::to_string(n));
  return std::make_shared<BiasImpl>(n, options);
}

}  // namespace

Bias::Bias(std::int64_t n, const AtomOptions& options) : Module(make_bias(n, options)) {}

}  // namespace modnorm
