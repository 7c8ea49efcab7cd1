#pragma once
/// @file pool.hpp
/// Pooling bonds over NHWC images (mass 0): AvgPool2D (the mean of each window) and
/// GlobalAvgPool (the mean over all pixels, modula's `AvgPool`, adaptive to (1, 1)).

#include <cstdint>
#include <optional>

#include "modnorm/module.hpp"

namespace modnorm {

/// The mean of each kernel x kernel window: [N, H, W, C] -> [N, Ho, Wo, C], Ho = (H + 2 padding -
/// kernel) / stride + 1 (rounded down), likewise Wo; padding counts as zeros and every window
/// divides by kernel^2 (PyTorch's avg_pool2d with count_include_pad). Computed as im2col and a
/// mean over the taps; backward spreads dy / kernel^2 over each window (col2im).
///
/// Sensitivity 1 (modula's AvgPool): by Cauchy-Schwarz each output pixel's squared norm is at
/// most the mean of its window's, so when the windows tile the image (stride = kernel, which
/// divides H and W, no padding) ||y||_RMS <= ||x||_RMS exactly; in general the bound is
/// sqrt(c P_in / (kernel^2 P_out)) with c the most windows one pixel falls in and P the pixel
/// counts (docs/modules.md).
///
/// Throws modnorm::Error on kernel or stride < 1 or padding < 0 (constructor), or an input that
/// is not rank 4 or is smaller than the window (forward), naming the module.
///
/// Example: auto down = modnorm::AvgPool2D(2);   // [N, 28, 28, C] -> [N, 14, 14, C]
class MODNORM_API AvgPool2D : public Module {
 public:
  /// An unset stride is the kernel (non-overlapping windows), as in PyTorch.
  explicit AvgPool2D(std::int64_t kernel, std::optional<std::int64_t> stride = std::nullopt,
                     std::int64_t padding = 0);
};

/// The mean over every pixel of each image: [N, H, W, C] -> [N, C] (modula's ResCNN head,
/// `AvgPool()`, i.e. adaptive_avg_pool2d to 1x1, with the flatten after it folded in).
/// Sensitivity 1: by Jensen, ||mean_p x_p||_RMS <= ||x||_RMS, exactly (with equality for a
/// constant image).
///
/// Throws modnorm::Error in forward on an input that is not rank 4 or has no pixel.
///
/// Example: auto head = modnorm::GlobalAvgPool() >> modnorm::Linear(64, 10);
class MODNORM_API GlobalAvgPool : public Module {
 public:
  GlobalAvgPool();
};

}  // namespace modnorm
