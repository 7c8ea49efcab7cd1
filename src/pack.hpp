#pragma once
// Tensors laid end to end and cut apart again, on any device: how same-shaped matrices become
// one batch for orthogonalize() (Module::dualize) and how the sharded optimizer packs
// parameters into one message (src/optim/sharded_plan.cpp).

#include <vector>

#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// The elements of `parts`, one part after another in row-major order, as one new tensor of
/// `shape` (whose numel is the parts' total). The parts share one dtype and device, which the
/// caller has ensured.
Tensor pack(const std::vector<Tensor>& parts, Shape shape);

/// `whole` cut into consecutive new tensors of `shapes` (whose numels sum to whole.numel()).
std::vector<Tensor> unpack(const Tensor& whole, const std::vector<Shape>& shapes);

}  // namespace modnorm::detail
