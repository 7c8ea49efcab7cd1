// Conv2D over NHWC images as im2col + one GEMM (docs/theory.md, "Convolutions"): with the
// windows as rows, X [N*Ho*Wo x k*k*c_in], and the weight as the matrix Wm [c_out x k*k*c_in],
// y = f X Wm^T, dWm = f dy^T X and dX = f dy Wm, dx = col2im(dX). Where the backend has a direct
// convolution for the dtype (oneDNN, f32 on the CPU), the same three products run there.
#include "modnorm/modules/conv2d.hpp"

#include "backend.hpp"
#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

Shape weight_shape(std::int64_t c_in, std::int64_t c_out, std::int64_t k, ConvNorm conv_norm) {
  if (conv_norm == ConvNorm::per_tap) return {k * k, c_out, c_in};
  return {c_out, k * k * c_in};
}

class Conv2DImpl final : public Cloneable<Conv2DImpl, AtomImpl> {
 public:
  Conv2DImpl(std::int64_t c_in, std::int64_t c_out, Window2D window, const Conv2DOptions& options)
      : Cloneable("Conv2D", weight_shape(c_in, c_out, window.kernel, options.conv_norm),
                  Norm::spectral, options),
        c_in_(c_in),
        c_out_(c_out),
        window_(window),
        conv_norm_(options.conv_norm),
        // modula's per-tap 1/k^2: the output averages the k^2 taps' products, each of norm <= 1.
        factor_(options.conv_norm == ConvNorm::per_tap
                    ? 1.0 / static_cast<double>(window.kernel * window.kernel)
                    : 1.0) {}

  std::string describe() const override {
    return "Conv2D(" + std::to_string(c_in_) + " -> " + std::to_string(c_out_) + ", " +
           to_string(window_) + ", " + to_string(conv_norm_) + ")";
  }

  Tensor forward(const Tensor& x) override {
    constexpr const char* op = "Conv2D.forward";
    check_images(op, *this, x, window_, c_in_);
    check_like(op, *this, x, weight());
    x_shape_ = x.shape();
    clear_cache();
    detail::Backend& engine = detail::backend_of(x);
    if (engine.has_conv2d(x.dtype())) {  // a direct convolution (oneDNN): backward needs x
      x_ = x;
      Tensor y = Tensor::empty(output_shape(), x.dtype(), x.device());
      engine.conv2d(factor_, x, weight(), layout(), geometry(), y);
      return y;
    }
    cols_ = im2col(x, window_);
    const Tensor rows = windows_as_rows();
    Tensor y = Tensor::empty({rows.dim(0), c_out_}, x.dtype(), x.device());
    gemm(factor_, rows, false, matrix(), true, 0.0, y);  // f X Wm^T
    return y.reshape(output_shape());
  }

  Tensor backward(const Tensor& dy, bool input_grad) override {
    constexpr const char* op = "Conv2D.backward";
    require_forward(op, *this, x_.has_value() || cols_.has_value());
    check_grad_shape(op, *this, dy, output_shape());
    if (x_) {
      detail::Backend& engine = detail::backend_of(dy);
      engine.conv2d_backward_weights(factor_, *x_, dy, layout(), geometry(), grad());
      if (!input_grad) return Tensor();
      Tensor dx = Tensor::empty(x_shape_, dy.dtype(), dy.device());
      engine.conv2d_backward_data(factor_, dy, weight(), layout(), geometry(), dx);
      return dx;
    }
    const Tensor rows = windows_as_rows();
    const Tensor dy2 = dy.reshape({rows.dim(0), c_out_});
    if (conv_norm_ == ConvNorm::flattened) {
      gemm(factor_, dy2, true, rows, false, 1.0, grad());  // dWm += f dy^T X
    } else {
      // dWm [c_out, k*k, c_in] back to the stored [k*k, c_out, c_in].
      const Tensor d_matrix = matmul(dy2, rows, true, false);
      const std::int64_t taps = window_.kernel * window_.kernel;
      axpy(factor_, permute(d_matrix.reshape({c_out_, taps, c_in_}), {1, 0, 2}), grad());
    }
    if (!input_grad) return Tensor();  // x is data: dx is not wanted
    Tensor d_rows = Tensor::empty(rows.shape(), dy.dtype(), dy.device());
    gemm(factor_, dy2, false, matrix(), false, 0.0, d_rows);  // dX = f dy Wm
    return col2im(d_rows.reshape(cols_->shape()), x_shape_, window_);
  }

  void clear_cache() override {
    x_.reset();
    cols_.reset();
  }

 private:
  // The weight as Wm [c_out x k*k*c_in]; per tap, the taps' matrices side by side.
  Tensor matrix() {
    if (conv_norm_ == ConvNorm::flattened) return weight();
    const std::int64_t taps = window_.kernel * window_.kernel;
    return permute(weight(), {1, 0, 2}).reshape({c_out_, taps * c_in_});
  }

  // The strides of the stored weight along output channel o, input channel c and tap (a, b).
  detail::ConvWeightStrides layout() const {
    const std::int64_t k = window_.kernel;
    if (conv_norm_ == ConvNorm::flattened) return {k * k * c_in_, 1, k * c_in_, c_in_};
    return {c_in_, 1, k * c_out_ * c_in_, c_out_ * c_in_};
  }

  // The window over the last input.
  detail::WindowGeometry geometry() const {
    return detail::window_geometry(x_shape_, window_.kernel, window_.stride, window_.padding);
  }

  // The last input's windows [N Ho Wo x k*k*c_in].
  Tensor windows_as_rows() const {
    const Shape& s = cols_->shape();
    return cols_->reshape({s[0] * s[1] * s[2], s[3]});
  }

  Shape output_shape() const {
    const detail::WindowGeometry g = geometry();
    return {g.n, g.ho, g.wo, c_out_};
  }

  std::int64_t c_in_, c_out_;
  Window2D window_;
  ConvNorm conv_norm_;
  double factor_;  // f: 1/k^2 per tap, 1 flattened
  // The last input x [N, H, W, c_in] (direct convolution) or its im2col [N, Ho, Wo, k*k*c_in].
  std::optional<Tensor> x_, cols_;
  Shape x_shape_;
};

std::shared_ptr<ModuleImpl> make_conv2d(std::int64_t c_in, std::int64_t c_out, std::int64_t kernel,
                                        std::int64_t stride, std::int64_t padding,
                                        const Conv2DOptions& options) {
  if (c_in < 1 || c_out < 1)
    fail("Conv2D", "c_in and c_out must be >= 1, got " + std::to_string(c_in) + " and " +
                       std::to_string(c_out));
  const Window2D window{kernel, stride, padding};
  check_window("Conv2D", window);
  // In double, so that no size product can overflow before the weight's allocation refuses it.
  const double entries = static_cast<double>(kernel) * static_cast<double>(kernel) *
                         static_cast<double>(c_in) * static_cast<double>(c_out);
  if (entries > 0x1p40)
    fail("Conv2D", "a " + std::to_string(kernel) + "x" + std::to_string(kernel) + " kernel from " +
                       std::to_string(c_in) + " to " + std::to_string(c_out) +
                       " channels has more than 2^40 weights");
  if (options.conv_norm != ConvNorm::per_tap && options.conv_norm != ConvNorm::flattened)
    fail("Conv2D", "unknown conv_norm " + std::to_string(static_cast<int>(options.conv_norm)));
  return std::make_shared<Conv2DImpl>(c_in, c_out, window, options);
}

}  // namespace

// Out of line: exported for interpreters (conv2d.hpp).
Conv2DOptions::~Conv2DOptions() = default;

const char* to_string(ConvNorm norm) {
  switch (norm) {
    case ConvNorm::per_tap:
      return "per_tap";
    case ConvNorm::flattened:
      return "flattened";
  }
  return "unknown";
}

Conv2D::Conv2D(std::int64_t c_in, std::int64_t c_out, std::int64_t kernel, std::int64_t stride,
               std::int64_t padding, const Conv2DOptions& options)
    : Module(make_conv2d(c_in, c_out, kernel, stride, padding, options)) {}

}  // namespace modnorm
