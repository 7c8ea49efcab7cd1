#pragma once
/// @file module_checks.hpp
/// What a module checks at its boundary, for the authors of new modules (docs/modules.md,
/// "Writing a new atom or bond"): every function throws modnorm::Error whose message starts
/// with the operation in brackets and names the module by its dotted path, e.g.
/// `[Linear.forward] module '2' (Linear(5 -> 2)): input [2x3] must end in an axis of size 5`.
/// The library's own modules use exactly these.

#include <cstdint>
#include <string>

#include "modnorm/export.hpp"
#include "modnorm/module.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// Throws Error("[op] <module.where()>: what"), e.g.
/// `[Embed.forward] module 'embed' (Embed(65 -> 128)): ids must be i32, got [2x3] f32 cpu`.
///
/// Example: if (x.rank() != 3) fail_in("MyBond.forward", *this, "wants [B, T, d]");
[[noreturn]] MODNORM_API void fail_in(const char* op, const ModuleImpl& module,
                                      const std::string& what);

/// A constant as a module shows it in describe(): printf's "%g" ("0.75", "1e-06").
///
/// Example: std::string describe() const override { return "Scale(" + short_number(a_) + ")"; }
MODNORM_API std::string short_number(double value);

/// Throws through fail_in unless x has rank >= 1 and its last axis has size `width` (the input
/// of a Linear or a Bias).
///
/// Example: check_width("Linear.forward", *this, x, d_in_);
MODNORM_API void check_width(const char* op, const ModuleImpl& module, const Tensor& x,
                             std::int64_t width);

/// Throws through fail_in unless x has the dtype and device of the module's weight w, naming
/// both.
///
/// Example: check_like("Linear.forward", *this, x, weight());
MODNORM_API void check_like(const char* op, const ModuleImpl& module, const Tensor& x,
                            const Tensor& w);

/// Throws through fail_in unless the gradient dy has the shape `expected` of the last forward's
/// output (every backward checks it before using dy).
///
/// Example: check_grad_shape("Linear.backward", *this, dy, y_shape_);
MODNORM_API void check_grad_shape(const char* op, const ModuleImpl& module, const Tensor& dy,
                                  const Shape& expected);

/// "3x3, stride 1, padding 1": a window as Conv2D and AvgPool2D describe themselves.
///
/// Example: to_string(Window2D{3, 1, 1})   // "3x3, stride 1, padding 1"
MODNORM_API std::string to_string(const Window2D& window);

/// Throws Error("[type] ...") unless the window's kernel and stride are in [1, 2^20] and its
/// padding in [0, 2^20] (the constructors of Conv2D and AvgPool2D, before a module exists).
///
/// Example: check_window("AvgPool2D", Window2D{k, s, p});
MODNORM_API void check_window(const char* type, const Window2D& window);

/// Throws through fail_in unless x is NHWC images [N, H, W, channels] (any number of channels
/// when `channels` is 0) in which the window fits after padding.
///
/// Example: check_images("Conv2D.forward", *this, x, window_, c_in_);
MODNORM_API void check_images(const char* op, const ModuleImpl& module, const Tensor& x,
                              const Window2D& window, std::int64_t channels);

}  // namespace modnorm
