#pragma once
/// @file conv2d.hpp
/// Conv2D(c_in, c_out, kernel, stride, padding): a 2-D convolution of NHWC images (channels
/// last), computed by the conv2d op (ops.hpp: oneDNN's convolutions for f32 CPU tensors where
/// modnorm is built with them, else im2col and one GEMM), with the two norms of docs/theory.md
/// ("Convolutions"): per tap, as the 2024 modula (jxbz/modula, atom.py `Conv2D`), or the weight
/// flattened to one matrix, as Muon users do. No bias.

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// How a Conv2D weight is stored and measured (docs/theory.md, "Convolutions"); both are the
/// `spectral` norm rule (norm.hpp), on a batch of matrices or on one. This is a choice of the
/// weight's layout and of the forward's factor, which only Conv2D knows, not a norm of its own:
/// the module core, the optimizer and the report see a spectral atom either way.
enum class ConvNorm : std::uint8_t {
  /// The weight is k*k matrices [c_out x c_in], one per tap (kernel position), stored
  /// [k*k, c_out, c_in]; the forward averages the taps' products (a factor 1/k^2); each tap is
  /// measured in the spectral norm sqrt(c_in/c_out) sigma_max, the weight by the largest, and
  /// the duality map orthogonalizes every tap on its own (one batched orthogonalize). The same
  /// functions and steps as jxbz/modula's Conv2D, which writes sqrt(c_out/c_in)/k^2 in the
  /// forward and measures plain sigma_max: modnorm keeps the sqrt(c_out/c_in) in the norm, as
  /// for Linear.
  per_tap,
  /// The weight is one matrix [c_out x k*k*c_in] (column (a k + b) c_in + c for tap (a, b) and
  /// input channel c), measured in the spectral norm sqrt(k^2 c_in / c_out) sigma_max and
  /// orthogonalized whole; no factor in the forward (Muon on a flattened kernel).
  flattened,
};

/// "per_tap", "flattened".
MODNORM_API const char* to_string(ConvNorm norm);

/// The atom options of a Conv2D and the choice of its norm.
///
/// Example: modnorm::Conv2DOptions o;  o.conv_norm = modnorm::ConvNorm::flattened;  o.mass = 2;
struct MODNORM_API Conv2DOptions : AtomOptions {
  ConvNorm conv_norm = ConvNorm::per_tap;  ///< how the weight is stored and measured

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~Conv2DOptions();
};

/// A Conv2D atom: mass options.mass (1), sensitivity 1, norm `spectral` (per tap or flattened,
/// options.conv_norm) unless options.norm overrides it. forward takes NHWC images x
/// [N, H, W, c_in] and returns [N, Ho, Wo, c_out] with Ho = (H + 2 padding - kernel) / stride + 1
/// (rounded down; Wo likewise):
///   y[n, i, j, :] = f sum_{a, b < kernel} W_ab x[n, i s - p + a, j s - p + b, :]
/// (zero outside the image; W_ab the [c_out x c_in] matrix of tap (a, b); f = 1/k^2 per tap,
/// 1 flattened). backward accumulates the weight gradient and returns dL/dx (the conv2d op's
/// two backward products).
/// Sensitivity 1 is exact for stride 1 with `same` padding (2 padding = kernel - 1) and a
/// convention otherwise (docs/theory.md gives the bound).
///
/// Why NHWC: the windows of every image of a batch become the rows of one matrix, so the
/// convolution is one GEMM whose result is already NHWC (no per-image products, no transpose),
/// a tap's channels are contiguous (one copy each), and a 1x1 convolution is a Linear on the
/// last axis, the library's convention for features.
///
/// Throws modnorm::Error on sizes < 1, a stride < 1 or padding < 0 (constructor), an input that
/// is not [N, H, W, c_in], is smaller than the kernel after padding, or whose dtype/device
/// differ from the weight's (forward), naming the module's dotted path and the shapes.
///
/// Example:
///   modnorm::Conv2D conv(1, 32, 3, 1, 1);                   // 3x3, stride 1, same padding
///   auto y = conv.forward(x.reshape({batch, 28, 28, 1}));  // -> [batch, 28, 28, 32]
class MODNORM_API Conv2D : public Module {
 public:
  Conv2D(std::int64_t c_in, std::int64_t c_out, std::int64_t kernel, std::int64_t stride = 1,
         std::int64_t padding = 0, const Conv2DOptions& options = {});
};

}  // namespace modnorm
