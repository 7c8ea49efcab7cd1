#pragma once
// Internals of the module core (src/module.cpp) that the optimizer uses: the tree's duality map
// with the finiteness of its inputs left to the caller.

#include <vector>

#include "dualize_detail.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/module.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// modnorm::dualize(params, g, options) (module.hpp), which is this with InputValues::checked.
/// With InputValues::trusted a NaN or Inf in g is not an error: it flows into the directions
/// (the optimizer's step checks every tensor of the step at once afterwards); shapes, options and
/// coefficients are still checked.
std::vector<Tensor> dualize_parameters(const std::vector<Parameter>& params,
                                       const std::vector<Tensor>& g, const DualizeOptions& options,
                                       InputValues values);

}  // namespace modnorm::detail
