#pragma once
/// @file mlp.hpp
/// MLP: Linear layers with ReLU between them (Large et al. 2024's MLP; the network
/// `modnorm train` trains by default, 784-512-512-10).

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// The sizes of an MLP.
struct MLPOptions {
  std::int64_t inputs = 784;  ///< features of the input (the last axis)
  std::int64_t width = 512;   ///< outputs of every hidden Linear
  std::int64_t depth = 3;     ///< number of Linear layers, >= 1
  std::int64_t classes = 10;  ///< outputs of the last Linear
};

/// Linear(inputs -> width) >> ReLU >> Linear(width -> width) >> ReLU >> ... >>
/// Linear(width -> classes): `depth` Linear layers (one, Linear(inputs -> classes), for depth
/// 1), each of mass 1 and no bias, as one Sequential whose children are named "0", "1", ...
/// (the Linear layers are the even ones). Built from one child list, so its cost is linear in
/// depth. Input [..., inputs], output [..., classes].
///
/// Throws modnorm::Error on a size < 1.
///
/// Example:
///   modnorm::MLPOptions o;
///   o.depth = 4;
///   Module net = modnorm::MLP(o);   // 784-512-512-512-10
MODNORM_API Module MLP(const MLPOptions& options = {});

}  // namespace modnorm
