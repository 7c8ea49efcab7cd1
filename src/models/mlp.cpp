// MLP: Linear, ReLU, ..., Linear as one Sequential.
#include "modnorm/models/mlp.hpp"

#include <string>
#include <utility>
#include <vector>

#include "modnorm/error.hpp"
#include "modnorm/modules/activations.hpp"
#include "modnorm/modules/linear.hpp"
#include "modnorm/modules/sequential.hpp"

namespace modnorm {

Module MLP(const MLPOptions& o) {
  if (o.depth < 1 || o.inputs < 1 || o.width < 1 || o.classes < 1)
    fail("MLP", "depth and sizes must be >= 1, got depth " + std::to_string(o.depth) + ", inputs " +
                    std::to_string(o.inputs) + ", width " + std::to_string(o.width) + ", classes " +
                    std::to_string(o.classes));
  // One child list: chaining `>>` would copy the list at every link (quadratic in depth).
  std::vector<Child> layers;
  layers.reserve(2 * static_cast<std::size_t>(o.depth) - 1);
  std::int64_t in = o.inputs;
  for (std::int64_t k = 0; k < o.depth; ++k) {
    const bool last = k + 1 == o.depth;
    const std::int64_t out = last ? o.classes : o.width;
    layers.push_back({"", Linear(in, out)});
    if (!last) layers.push_back({"", ReLU()});
    in = out;
  }
  return Sequential(std::move(layers));
}

}  // namespace modnorm
