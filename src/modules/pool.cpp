// AvgPool2D (im2col, then the mean over each window's taps) and GlobalAvgPool (the mean over
// the pixels). Their backward maps spread dy evenly over what was averaged.
#include "modnorm/modules/pool.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// dx [M, count, C] = dy [M, C] / count on every one of the `count` entries averaged.
Tensor spread(const Tensor& dy, std::int64_t count) {
  const std::int64_t m = dy.dim(0), c = dy.dim(1);
  const Tensor zeros = Tensor::zeros({m, count, c}, dy.dtype(), dy.device());
  return scale(add(zeros, dy.reshape({m, 1, c})), 1.0 / static_cast<double>(count));
}

class AvgPool2DImpl final : public Cloneable<AvgPool2DImpl, BondImpl> {
 public:
  explicit AvgPool2DImpl(Window2D window) : window_(window) {}
  std::string describe() const override { return "AvgPool2D(" + to_string(window_) + ")"; }
  double sensitivity() const override { return 1.0; }  // modula bond.py AvgPool; pool.hpp

  Tensor forward(const Tensor& x) override {
    check_images("AvgPool2D.forward", *this, x, window_, 0);
    x_shape_ = x.shape();
    const Tensor cols = im2col(x, window_);  // [N, Ho, Wo, k*k*C]
    cols_shape_ = cols.shape();
    const std::int64_t c = x.dim(3), m = cols.numel() / (taps() * c);
    return mean(cols.reshape({m, taps(), c}), 1)
        .reshape({cols_shape_[0], cols_shape_[1], cols_shape_[2], c});
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    constexpr const char* op = "AvgPool2D.backward";
    require_forward(op, *this, !x_shape_.empty());
    const std::int64_t c = x_shape_[3];
    check_grad_shape(op, *this, dy, {cols_shape_[0], cols_shape_[1], cols_shape_[2], c});
    const Tensor d_cols = spread(dy.reshape({dy.numel() / c, c}), taps());
    return col2im(d_cols.reshape(cols_shape_), x_shape_, window_);
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  std::int64_t taps() const { return window_.kernel * window_.kernel; }

  Window2D window_;
  Shape x_shape_, cols_shape_;  // of the last forward (x_shape_ empty before one)
};

class GlobalAvgPoolImpl final : public Cloneable<GlobalAvgPoolImpl, BondImpl> {
 public:
  std::string describe() const override { return "GlobalAvgPool"; }
  double sensitivity() const override { return 1.0; }  // Jensen: pool.hpp

  Tensor forward(const Tensor& x) override {
    // A 1x1 window fits in every image with a pixel.
    check_images("GlobalAvgPool.forward", *this, x, Window2D{}, 0);
    x_shape_ = x.shape();
    return mean(x.reshape({x.dim(0), x.dim(1) * x.dim(2), x.dim(3)}), 1);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    constexpr const char* op = "GlobalAvgPool.backward";
    require_forward(op, *this, !x_shape_.empty());
    check_grad_shape(op, *this, dy, {x_shape_[0], x_shape_[3]});
    return spread(dy, x_shape_[1] * x_shape_[2]).reshape(x_shape_);
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  Shape x_shape_;  // empty until forward
};

std::shared_ptr<ModuleImpl> make_avg_pool(std::int64_t kernel, std::optional<std::int64_t> stride,
                                          std::int64_t padding) {
  const Window2D window{kernel, stride.value_or(kernel), padding};
  check_window("AvgPool2D", window);
  return std::make_shared<AvgPool2DImpl>(window);
}

}  // namespace

AvgPool2D::AvgPool2D(std::int64_t kernel, std::optional<std::int64_t> stride, std::int64_t padding)
    : Module(make_avg_pool(kernel, stride, padding)) {}
GlobalAvgPool::GlobalAvgPool() : Module(std::make_shared<GlobalAvgPoolImpl>()) {}

}  // namespace modnorm
