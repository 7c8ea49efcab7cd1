// The checks modules make at their boundary (module_checks.hpp): each message is
// "[Type.op] module 'path' (Type(...)): what was received".
#include "modnorm/module_checks.hpp"

#include <cstdio>

#include "modnorm/error.hpp"

namespace modnorm {

void fail_in(const char* op, const ModuleImpl& module, const std::string& what) {
  fail(op, module.where() + ": " + what);
}

std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

void check_width(const char* op, const ModuleImpl& module, const Tensor& x, std::int64_t width) {
  if (x.rank() < 1 || x.dim(-1) != width)
    fail_in(
        op, module,
        "input " + to_string(x.shape()) + " must end in an axis of size " + std::to_string(width));
}

void check_like(const char* op, const ModuleImpl& module, const Tensor& x, const Tensor& w) {
  if (x.dtype() != w.dtype() || x.device() != w.device())
    fail_in(op, module,
            std::string("input is ") + to_string(x.dtype()) + " on " + to_string(x.device()) +
                ", weights are " + to_string(w.dtype()) + " on " + to_string(w.device()));
}

void check_grad_shape(const char* op, const ModuleImpl& module, const Tensor& dy,
                      const Shape& expected) {
  if (dy.shape() != expected)
    fail_in(op, module,
            "gradient " + to_string(dy.shape()) + " does not match the output " +
                to_string(expected) + " of the last forward");
}

std::string to_string(const Window2D& window) {
  const std::string k = std::to_string(window.kernel);
  return k + "x" + k + ", stride " + std::to_string(window.stride) + ", padding " +
         std::to_string(window.padding);
}

void check_window(const char* type, const Window2D& window) {
  constexpr std::int64_t kMax = std::int64_t{1} << 20;
  if (window.kernel < 1 || window.stride < 1 || window.padding < 0 || window.kernel > kMax ||
      window.stride > kMax || window.padding > kMax)
    fail(type, "kernel and stride must be in [1, 2^20] and padding in [0, 2^20], got window " +
                   to_string(window));
}

void check_images(const char* op, const ModuleImpl& module, const Tensor& x, const Window2D& window,
                  std::int64_t channels) {
  if (x.rank() != 4 || (channels > 0 && x.dim(3) != channels))
    fail_in(op, module,
            "input " + to_string(x.shape()) + " must be NHWC images [N, H, W, " +
                (channels > 0 ? std::to_string(channels) : std::string("C")) + "]");
  const std::int64_t side = window.kernel - 2 * window.padding;
  if (x.dim(1) < side || x.dim(2) < side)
    fail_in(op, module,
            "input " + to_string(x.shape()) + " has images smaller than the window " +
                to_string(window));
}

}  // namespace modnorm
