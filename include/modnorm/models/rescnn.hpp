#pragma once
/// @file rescnn.hpp
/// ResCNN: the residual convolutional network of the 2024 modula (jxbz/modula, compound.py
/// `ResCNN`), over NHWC images, optionally in stages of growing width (docs/modules.md,
/// "Convolutions and ResCNN").

#include <cstdint>
#include <vector>

#include "modnorm/module.hpp"
#include "modnorm/modules/conv2d.hpp"

namespace modnorm {

/// The sizes of a ResCNN. One entry in `widths` is modula's ResCNN(width, num_blocks,
/// block_depth, input_dim, output_dim, blocks_mass).
struct MODNORM_API ResCNNOptions {
  std::int64_t in_channels = 1;             ///< channels of the input images (input_dim)
  std::int64_t classes = 10;                ///< outputs (output_dim)
  std::vector<std::int64_t> widths = {64};  ///< channels of each stage (modula: one, width)
  std::int64_t blocks = 3;                  ///< residual blocks per stage (num_blocks)
  std::int64_t block_depth = 1;             ///< residues per block (block_depth)
  double blocks_mass = 20.0;                ///< mass of the whole body (tare(absolute=20))
  std::int64_t kernel = 3;                  ///< odd side of every convolution (same padding)
  ConvNorm conv_norm = ConvNorm::per_tap;   ///< the norm of every Conv2D

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~ResCNNOptions();
};

/// modula's ResCNN, `head o body o stem`:
/// - stem: Conv2D(in_channels -> widths[0], kernel, stride 1, padding kernel / 2), mass 1;
/// - body: per stage s, `block^blocks` where block = (1 - 1/L) * Identity + (1/L) * residue^
///   block_depth with L the number of blocks of all stages (for L = 1 the residues alone), and
///   residue = MeanSubtract o Abs o
///   Conv2D(w -> w) o RMSNorm (each image whole: NormAxes::example; modula's
///   `MeanSubtract(dim=(1,2,3)) @ Abs() @ Conv2D(width, width) @ RMSDivide(dim=(1,2,3))`);
///   stages after the first start with AvgPool2D(2) and Conv2D(widths[s-1] -> widths[s]);
///   the whole body is tared to blocks_mass;
/// - head: GlobalAvgPool then Linear(widths.back() -> classes), mass 1 (modula's
///   `Linear @ Flatten @ AvgPool`).
/// Every block has sensitivity (1 - 1/L) + (1/L) 1 = 1, and so has the network. Children are
/// named "stem", "body" and "head". Input [N, H, W, in_channels], output [N, classes].
///
/// Throws modnorm::Error on sizes outside [1, 2^20], no stage, an even kernel or a negative
/// blocks_mass.
///
/// Example:
///   modnorm::ResCNNOptions o;
///   o.widths = {32, 64};                     // 28x28 then 14x14
///   Module net = modnorm::ResCNN(o);         // input [N, 28, 28, 1], output [N, 10]
MODNORM_API Module ResCNN(const ResCNNOptions& options = {});

}  // namespace modnorm
