// Saving and restoring the optimizer state (state_dict style) so that a resumed run continues
// bit for bit: the step count and every state buffer, by name.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {
using Entries = std::vector<std::pair<std::string, Tensor>>;

constexpr const char* kStep = "step";

// One state buffer: its entry name, the tensor (this rank's part of it, empty on ranks that own
// none), its whole shape, and the plan of its atom's group with the atom's number there.
struct Buffer {
  std::string name;
  Tensor* tensor;
  Shape shape;
  const detail::StepPlan* plan;
  std::size_t index;
};

// The named state buffers, in state() order (the step count comes first, separately): per
// parameter, the buffers its group's rule keeps.
std::vector<Buffer> buffers(std::vector<detail::AtomState>& atoms,
                            const std::vector<detail::GroupState>& groups,
                            const std::vector<detail::Place>& place) {
  std::vector<Buffer> out;
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    detail::AtomState& a = atoms[i];
    const detail::GroupState& g = groups[place[i].group];
    const detail::StepPlan* plan = g.plan.get();
    const std::size_t k = place[i].index;
    out.push_back({a.name + ".momentum", &a.momentum, a.shape, plan, k});
    if (detail::uses_row_second_moment(g.rule, a.shape))
      out.push_back(
          {a.name + ".row_second_moment", &a.row_second_moment, {a.shape[0], 1}, plan, k});
    if (detail::uses_adam(g.rule.algorithm))
      out.push_back({a.name + ".second_moment", &a.second_moment, a.shape, plan, k});
  }
  return out;
}

std::int64_t step_count(const char* op, const Tensor& t) {
  if (t.numel() != 1)
    fail(op, std::string("entry '") + kStep + "' must hold one number, got " + t.describe());
  const double v = t.item();
  if (!(v >= 0.0) || !std::isfinite(v) || v != std::floor(v) || v > 9.0e15)
    fail(op, std::string("entry '") + kStep + "' must be a non-negative integer, got " +
                 std::to_string(v));
  return static_cast<std::int64_t>(v);
}

}  // namespace

Entries Optimizer::state() const {
  Impl& s = impl();
  Entries out;
  out.emplace_back(kStep, Tensor::from_vector_f64({static_cast<double>(s.steps)}, {}));
  for (const Buffer& b : buffers(s.atoms, s.groups, s.place))
    out.emplace_back(b.name, b.plan->whole(b.index, *b.tensor, b.shape));
  return out;
}

void Optimizer::load_state(const Entries& state) {
  constexpr const char* op = "Optimizer.load_state";
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : state)
    if (!given.emplace(name, &tensor).second) fail(op, "entry '" + name + "' is given twice");

  // Check everything before changing anything.
  const auto targets = buffers(impl().atoms, impl().groups, impl().place);
  const auto step_entry = given.find(kStep);
  if (step_entry == given.end()) fail(op, std::string("entry '") + kStep + "' is missing");
  const std::int64_t steps = step_count(op, *step_entry->second);
  for (const Buffer& target : targets) {
    const std::string& name = target.name;
    const auto it = given.find(name);
    if (it == given.end())
      fail(op, "entry '" + name + "' is missing (the optimizer has " +
                   std::to_string(targets.size() + 1) + " entries, the state " +
                   std::to_string(state.size()) + ")");
    const Tensor& t = *it->second;
    if (t.shape() != target.shape)
      fail(op, "entry '" + name + "' has shape " + to_string(t.shape()) + ", expected " +
                   to_string(target.shape));
    if (!all_finite(t)) fail(op, "entry '" + name + "' holds NaN or Inf: " + t.describe());
  }
  if (given.size() != targets.size() + 1)
    for (const auto& entry : given) {
      const std::string& name = entry.first;  // a lambda may not capture a structured binding
      const bool known =
          name == kStep || std::any_of(targets.begin(), targets.end(),
                                       [&](const Buffer& b) { return b.name == name; });
      if (!known)
        fail(op, "entry '" + name +
                     "' is not part of this optimizer's state (options or "
                     "parameters differ from the run that saved it?)");
    }

  // Copy into the existing buffers (exact: a conversion to their dtype, then y = 1 * x); each
  // rank keeps its part of the state (StepPlan).
  for (const Buffer& target : targets) {
    if (!target.plan->owns(target.index)) continue;
    Tensor& buffer = *target.tensor;
    const Tensor source = given.at(target.name)->to(buffer.dtype()).to(buffer.device());
    axpy(1.0, target.plan->rows(target.index, source), buffer, 0.0);
  }
  impl().steps = steps;
}

}  // namespace modnorm
