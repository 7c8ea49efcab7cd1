// Flatten, Unflatten and Mean over an axis.
#include "modnorm/modules/shape.hpp"

#include <algorithm>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class FlattenImpl final : public Cloneable<FlattenImpl, BondImpl> {
 public:
  std::string describe() const override { return "Flatten"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    if (x.rank() < 1)
      fail_in("Flatten.forward", *this, "input must have a batch axis, got a scalar");
    x_shape_ = x.shape();
    return x.reshape({x.dim(0), x.numel() / std::max<std::int64_t>(x.dim(0), 1)});
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Flatten.backward", *this, !x_shape_.empty());
    check_grad_shape(
        "Flatten.backward", *this, dy,
        {x_shape_[0], checked_numel(x_shape_, "Flatten") / std::max<std::int64_t>(x_shape_[0], 1)});
    return dy.reshape(x_shape_);
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  Shape x_shape_;
};

class UnflattenImpl final : public Cloneable<UnflattenImpl, BondImpl> {
 public:
  explicit UnflattenImpl(Shape shape) : shape_(std::move(shape)) {}
  std::string describe() const override { return "Unflatten(" + to_string(shape_) + ")"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    const std::int64_t width = checked_numel(shape_, "Unflatten");
    if (x.rank() != 2 || x.dim(1) != width)
      fail_in("Unflatten.forward", *this,
              "input " + to_string(x.shape()) + " must be [B x " + std::to_string(width) + "]");
    x_shape_ = x.shape();
    Shape out{x.dim(0)};
    out.insert(out.end(), shape_.begin(), shape_.end());
    return x.reshape(out);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Unflatten.backward", *this, !x_shape_.empty());
    Shape y_shape{x_shape_[0]};
    y_shape.insert(y_shape.end(), shape_.begin(), shape_.end());
    check_grad_shape("Unflatten.backward", *this, dy, y_shape);
    return dy.reshape(x_shape_);
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  Shape shape_;
  Shape x_shape_;  // empty until forward
};

class MeanImpl final : public Cloneable<MeanImpl, BondImpl> {
 public:
  explicit MeanImpl(int axis) : axis_(axis) {}
  std::string describe() const override { return "Mean(axis " + std::to_string(axis_) + ")"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    const int r = x.rank();
    if (axis_ < -r || axis_ >= r)
      fail_in(
          "Mean.forward", *this,
          "axis " + std::to_string(axis_) + " is out of range for input " + to_string(x.shape()));
    x_shape_ = x.shape();
    x_dtype_ = x.dtype();
    x_device_ = x.device();
    return mean(x, axis_);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Mean.backward", *this, !x_shape_.empty());
    const int r = static_cast<int>(x_shape_.size());
    const std::size_t axis = static_cast<std::size_t>(axis_ < 0 ? axis_ + r : axis_);
    Shape y_shape = x_shape_;
    y_shape.erase(y_shape.begin() + static_cast<std::ptrdiff_t>(axis));
    check_grad_shape("Mean.backward", *this, dy, y_shape);
    // dx_t = dy / n for every t along the axis: dy with the axis kept as 1, broadcast.
    Shape kept = x_shape_;
    kept[axis] = 1;
    const Tensor expanded = add(Tensor::zeros(x_shape_, x_dtype_, x_device_), dy.reshape(kept));
    return scale(expanded, 1.0 / static_cast<double>(x_shape_[axis]));
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  int axis_;
  Shape x_shape_;  // empty until forward
  DType x_dtype_ = DType::f32;
  Device x_device_ = Device::cpu;
};

std::shared_ptr<ModuleImpl> make_unflatten(Shape shape) {
  if (shape.empty() || shape.size() > 3 ||
      std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 1; }))
    fail("Unflatten", "shape must have 1 to 3 dimensions, each >= 1, got " + to_string(shape));
  checked_numel(shape, "Unflatten");
  return std::make_shared<UnflattenImpl>(std::move(shape));
}

}  // namespace

Flatten::Flatten() : Module(std::make_shared<FlattenImpl>()) {}
Unflatten::Unflatten(Shape shape) : Module(make_unflatten(std::move(shape))) {}
Mean::Mean(int axis) : Module(std::make_shared<MeanImpl>(axis)) {}

}  // namespace modnorm
