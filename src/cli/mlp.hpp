#pragma once
// The command line's model: an MLP of `depth` Linear layers with ReLU between them
// (784-512-512-10 by default). `train` builds it from flags, `inspect` from a checkpoint.

#include <cstdint>
#include <string>

#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// Limits of the shapes the command line builds, for flags and checkpoint metadata alike: they
// keep every size product within int64 and the weights within a few GiB.
constexpr std::int64_t kMaxFeatures = 16384;                    // inputs, width and classes
constexpr int kMaxDepth = 10000;                                // Linear layers
constexpr std::int64_t kMaxParameters = std::int64_t{1} << 28;  // weights: 1 GiB in f32

struct MlpShape {
  std::int64_t inputs = 784;
  std::int64_t width = 512;
  int depth = 3;  // number of Linear layers (>= 1)
  std::int64_t classes = 10;
};

// The layer sizes, "784-512-512-10"; deep nets elide the middle: "784-512-...-512-10 (100
// Linear layers)".
inline std::string layer_sizes(const MlpShape& s) {
  const std::string in = std::to_string(s.inputs), w = std::to_string(s.width),
                    out = std::to_string(s.classes);
  if (s.depth > 4)
    return in + "-" + w + "-...-" + w + "-" + out + " (" + std::to_string(s.depth) +
           " Linear layers)";
  std::string sizes = in;
  for (int k = 1; k < s.depth; ++k) sizes += "-" + w;
  return sizes + "-" + out;
}

// Number of weights (Linear has no bias), in double so that no shape can overflow it.
inline double parameter_count(const MlpShape& s) {
  const auto in = static_cast<double>(s.inputs), w = static_cast<double>(s.width),
             out = static_cast<double>(s.classes);
  if (s.depth == 1) return in * out;
  return in * w + (s.depth - 2) * w * w + w * out;
}

// Throws modnorm::Error unless the sizes are positive and the weights within kMaxParameters.
inline void check_size(const MlpShape& s) {
  if (s.depth < 1 || s.width < 1 || s.inputs < 1 || s.classes < 1)
    throw Error("[mlp] the MLP needs depth >= 1 and positive sizes, got depth " +
                std::to_string(s.depth) + ", width " + std::to_string(s.width));
  if (parameter_count(s) > static_cast<double>(kMaxParameters))
    throw Error("[mlp] an MLP of depth " + std::to_string(s.depth) + " and width " +
                std::to_string(s.width) + " would have more than " +
                std::to_string(kMaxParameters) + " weights (the limit, 1 GiB in f32)");
}

// modnorm::MLP of these sizes (Linear, ReLU, ..., Linear). Throws as check_size.
inline Module make_mlp(const MlpShape& s) {
  check_size(s);
  MLPOptions o;
  o.inputs = s.inputs;
  o.width = s.width;
  o.depth = s.depth;
  o.classes = s.classes;
  return MLP(o);
}

}  // namespace modnorm::cli
