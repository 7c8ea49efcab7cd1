#pragma once
// Input checks shared by the modules in modules/: every message is
// "[Type.op] module 'path' (Type(...)): what was received".

#include <cstdio>
#include <string>

#include "fail.hpp"
#include "modnorm/module.hpp"

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

}  // namespace modnorm::detail
