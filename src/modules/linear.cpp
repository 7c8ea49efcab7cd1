// Linear: y = x W^T, W d_out x d_in in the spectral norm (docs/theory.md, section 2).
#include "modnorm/modules/linear.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class LinearImpl final : public Cloneable<LinearImpl, AtomImpl> {
 public:
  LinearImpl(std::int64_t d_in, std::int64_t d_out, const AtomOptions& options)
      : Cloneable("Linear", {d_out, d_in}, Norm::spectral, options), d_in_(d_in), d_out_(d_out) {}

  std::string describe() const override {
    return "Linear(" + std::to_string(d_in_) + " -> " + std::to_string(d_out_) + ")";
  }

  Tensor forward(const Tensor& x) override {
    check_width("Linear.forward", *this, x, d_in_);
    check_like("Linear.forward", *this, x, weight());
    x_shape_ = x.shape();
    x_ = x.reshape({x.numel() / d_in_, d_in_});
    Tensor y = matmul(*x_, weight(), false, true);  // [N x d_in] [d_out x d_in]^T
    Shape y_shape = x_shape_;
    y_shape.back() = d_out_;
    return y.reshape(y_shape);
  }

  Tensor backward(const Tensor& dy, bool input_grad) override {
    require_forward("Linear.backward", *this, x_.has_value());
    Shape y_shape = x_shape_;
    y_shape.back() = d_out_;
    check_grad_shape("Linear.backward", *this, dy, y_shape);
    const Tensor dy2 = dy.reshape({x_->dim(0), d_out_});
    gemm(1.0, dy2, true, *x_, false, 1.0, grad());   // dW += dy^T x
    if (!input_grad) return Tensor();                // a first layer: dx = dy W is not wanted
    return matmul(dy2, weight()).reshape(x_shape_);  // dx = dy W
  }

  void clear_cache() override { x_.reset(); }

 private:
  std::int64_t d_in_, d_out_;
  std::optional<Tensor> x_;  // the last input as [N x d_in]
  Shape x_shape_;
};

std::shared_ptr<ModuleImpl> make_linear(std::int64_t d_in, std::int64_t d_out,
                                        const AtomOptions& options) {
  if (d_in < 1 || d_out < 1)
    fail("Linear", "d_in and d_out must be >= 1, got " + std::to_string(d_in) + " and " +
                       std::to_string(d_out));
  return std::make_shared<LinearImpl>(d_in, d_out, options);
}

}  // namespace

Linear::Linear(std::int64_t d_in, std::int64_t d_out, const AtomOptions& options)
    : Module(make_linear(d_in, d_out, options)) {}

}  // namespace modnorm
