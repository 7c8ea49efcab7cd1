#pragma once
// The command line's convolutional network: modnorm::ResCNN (modula's residual CNN,
// docs/modules.md) on one-channel images in three stages, at full size, half and a quarter
// (28x28, 14x14, 7x7 for Fashion-MNIST), of width w, 2w and 4w, `depth` residual blocks each,
// after an Unflatten of the data's rows into NHWC images. `train cnn` builds it from
// flags, `inspect` from a checkpoint.

#include <cstdint>
#include <string>

#include "cli/mlp.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

constexpr int kCnnStages = 3;  // each after the first halves the image (AvgPool2D(2))

struct CnnShape {
  std::int64_t rows = 28, cols = 28;  // image size, one channel
  std::int64_t width = 16;            // channels of the first stage
  int depth = 1;                      // residual blocks per stage
  std::int64_t classes = 10;
  ConvNorm conv_norm = ConvNorm::per_tap;
};

// "ResCNN 16-32-64, 1 block per stage, per_tap norm, 28x28 images, 10 classes".
inline std::string describe(const CnnShape& s) {
  std::string widths;
  for (int k = 0; k < kCnnStages; ++k) widths += (k ? "-" : "") + std::to_string(s.width << k);
  return "ResCNN " + widths + ", " + std::to_string(s.depth) + " block" +
         (s.depth == 1 ? "" : "s") + " per stage, " + to_string(s.conv_norm) + " norm, " +
         std::to_string(s.rows) + "x" + std::to_string(s.cols) + " images, " +
         std::to_string(s.classes) + " classes";
}

// Number of weights (3x3 kernels: the stem, each stage's blocks and its widening convolution,
// then the head), in double so that no shape can overflow it.
inline double parameter_count(const CnnShape& s) {
  double weights = 9.0 * static_cast<double>(s.width);  // the stem
  for (int k = 0; k < kCnnStages; ++k) {
    const double w = static_cast<double>(s.width) * (1 << k);
    weights += 9.0 * w * w * s.depth + (k > 0 ? 9.0 * (w / 2) * w : 0.0);
  }
  return weights + static_cast<double>(s.width) * (1 << (kCnnStages - 1)) * s.classes;  // head
}

// Throws modnorm::Error naming the sizes unless they make the network: sizes >= 1, images of at
// least 4x4 (two halvings), and the weights within kMaxParameters.
inline void check_size(const CnnShape& s) {
  const std::string sizes = "width " + std::to_string(s.width) + ", depth " +
                            std::to_string(s.depth) + ", " + std::to_string(s.rows) + "x" +
                            std::to_string(s.cols) + " images, " + std::to_string(s.classes) +
                            " classes";
  if (s.width < 1 || s.depth < 1 || s.classes < 1 || s.rows < 4 || s.cols < 4)
    throw Error("[cnn] the CNN needs sizes >= 1 and images of at least 4x4, got " + sizes);
  if (parameter_count(s) > static_cast<double>(kMaxParameters))
    throw Error("[cnn] " + sizes + ": more than " + std::to_string(kMaxParameters) +
                " weights (the limit, 1 GiB in f32)");
}

// Unflatten({rows, cols, 1}) >> ResCNN with widths w, 2w, 4w.
inline Module make_cnn(const CnnShape& s) {
  check_size(s);
  ResCNNOptions o;
  o.classes = s.classes;
  o.widths.clear();
  for (int k = 0; k < kCnnStages; ++k) o.widths.push_back(s.width << k);
  o.blocks = s.depth;
  o.conv_norm = s.conv_norm;
  return Unflatten({s.rows, s.cols, 1}) >> ResCNN(o);
}

}  // namespace modnorm::cli
