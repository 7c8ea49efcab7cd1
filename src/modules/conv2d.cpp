// Conv2D over NHWC images: the public conv2d op and its two backward products (ops.hpp), which
// run on oneDNN's convolution or as im2col and one GEMM, whichever the backend has; the weight
// is stored in the layout of its norm (docs/theory.md, "Convolutions").
#include "modnorm/modules/conv2d.hpp"

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// The layouts conv2d takes: [k*k, c_out, c_in] per tap, [c_out, k*k*c_in] flattened.
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
    Tensor y = conv2d(x, weight(), window_, factor_);
    x_ = x;
    y_shape_ = y.shape();
    return y;
  }

  Tensor backward(const Tensor& dy, bool input_grad) override {
    constexpr const char* op = "Conv2D.backward";
    require_forward(op, *this, x_.has_value());
    check_grad_shape(op, *this, dy, y_shape_);
    conv2d_backward_weights(*x_, dy, window_, grad(), factor_);
    if (!input_grad) return Tensor();  // x is data: dx is not wanted
    return conv2d_backward_data(dy, weight(), x_->shape(), window_, factor_);
  }

  void clear_cache() override { x_.reset(); }

 private:
  std::int64_t c_in_, c_out_;
  Window2D window_;
  ConvNorm conv_norm_;
  double factor_;            // f: 1/k^2 per tap, 1 flattened
  std::optional<Tensor> x_;  // the last input [N, H, W, c_in]
  Shape y_shape_;            // and its output's shape
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
