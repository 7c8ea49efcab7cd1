#pragma once
// The command line's model: an MLP of `depth` Linear layers with ReLU between them
// (784-512-512-10 by default). `train` builds it from flags, `inspect` from a checkpoint.

#include <cstdint>
#include <string>

#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

struct MlpShape {
  std::int64_t inputs = 784;
  std::int64_t width = 512;
  int depth = 3;  // number of Linear layers (>= 1)
  std::int64_t classes = 10;
};

inline Module make_mlp(const MlpShape& s) {
  if (s.depth < 1 || s.width < 1 || s.inputs < 1 || s.classes < 1)
    throw Error("[train] the MLP needs depth >= 1 and positive sizes, got depth " +
                std::to_string(s.depth) + ", width " + std::to_string(s.width));
  if (s.depth == 1) return Sequential{Linear(s.inputs, s.classes)};
  Module net = Linear(s.inputs, s.width) >> ReLU();
  for (int k = 1; k + 1 < s.depth; ++k) net = net >> Linear(s.width, s.width) >> ReLU();
  return net >> Linear(s.width, s.classes);
}

}  // namespace modnorm::cli
