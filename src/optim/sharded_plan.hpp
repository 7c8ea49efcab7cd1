#pragma once
// The step plan of a group of several ranks (step_plan.hpp, sharded_plan.cpp).

#include <memory>
#include <vector>

#include "optim/step_plan.hpp"

namespace modnorm::detail {

/// The plan of a group of several ranks (a collective): every atom's owners from plan_shards
/// (which sees spectral atoms as such only where the step orthogonalizes them; frozen atoms: rank
/// 0, which keeps their zero state). Throws unless the parameters share one dtype and the
/// group's device; then gives every rank rank 0's weights.
std::unique_ptr<StepPlan> make_sharded_plan(const char* op, distributed::Group group,
                                            const std::vector<Parameter>& params,
                                            const StepRule& options);

}  // namespace modnorm::detail
