#pragma once
// Input checks shared by the modules in modules/: every message is
// "[Type.op] module 'path' (Type(...)): what was received".

#include <cstdio>
#include <string>

#include "fail.hpp"
#include "modnorm/module.hpp"
#include "modnorm/ops.hpp"

namespace modnorm::detail {

[[noreturn]] inline void fail_in(const char* op, const ModuleImpl& module,
                                 const std::string& what) {
  fail(op, module.where() + ": " + what);
}

// A constant as a module shows it in describe(): "0.75", "1e-06".
inline std::string short_number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

// x has rank >= 1 and its last axis is `width`.
inline void check_width(const char* op, const ModuleImpl& module, const Tensor& x,
                        std::int64_t width) {
  if (x.rank() < 1 || x.dim(-1) != width)
    fail_in(
        op, module,
        "input " + to_string(x.shape()) + " must end in an axis of size " + std::to_string(width));
}

// x has the dtype and device of the module's weight w.
inline void check_like(const char* op, const ModuleImpl& module, const Tensor& x, const Tensor& w) {
  if (x.dtype() != w.dtype() || x.device() != w.device())
    fail_in(op, module,
            std::string("input is ") + to_string(x.dtype()) + " on " + to_string(x.device()) +
                ", weights are " + to_string(w.dtype()) + " on " + to_string(w.device()));
}

// The gradient dy has the shape of the last forward's output.
inline void check_grad_shape(const char* op, const ModuleImpl& module, const Tensor& dy,
                             const Shape& expected) {
  if (dy.shape() != expected)
    fail_in(op, module,
            "gradient " + to_string(dy.shape()) + " does not match the output " +
                to_string(expected) + " of the last forward");
}

// "3x3, stride 1, padding 1": a window as Conv2D and AvgPool2D describe themselves.
inline std::string describe(const Window2D& w) {
  const std::string k = std::to_string(w.kernel);
  return k + "x" + k + ", stride " + std::to_string(w.stride) + ", padding " +
         std::to_string(w.padding);
}

// A window's sizes are in range (the constructors of Conv2D and AvgPool2D).
inline void check_window(const char* type, const Window2D& w) {
  constexpr std::int64_t kMax = std::int64_t{1} << 20;
  if (w.kernel < 1 || w.stride < 1 || w.padding < 0 || w.kernel > kMax || w.stride > kMax ||
      w.padding > kMax)
    fail(type, "kernel and stride must be in [1, 2^20] and padding in [0, 2^20], got window " +
                   describe(w));
}

// x is NHWC images [N, H, W, channels] (any number of channels when `channels` is 0) in which
// the window fits after padding.
inline void check_images(const char* op, const ModuleImpl& module, const Tensor& x,
                         const Window2D& w, std::int64_t channels) {
  if (x.rank() != 4 || (channels > 0 && x.dim(3) != channels))
    fail_in(op, module,
            "input " + to_string(x.shape()) + " must be NHWC images [N, H, W, " +
                (channels > 0 ? std::to_string(channels) : std::string("C")) + "]");
  const std::int64_t side = w.kernel - 2 * w.padding;
  if (x.dim(1) < side || x.dim(2) < side)
    fail_in(op, module,
            "input " + to_string(x.shape()) + " has images smaller than the window " + describe(w));
}

}  // namespace modnorm::detail
