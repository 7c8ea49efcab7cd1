// Saving and restoring the optimizer state (state_dict style) so that a resumed run continues
// bit for bit: the step count and every state buffer, by name.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "fail.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {

using detail::fail;
using Entries = std::vector<std::pair<std::string, Tensor>>;

constexpr const char* kStep = "step";

// The named state buffers, in state() order (the step count comes first, separately).
std::vector<std::pair<std::string, Tensor*>> buffers(std::vector<detail::AtomState>& atoms) {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (detail::AtomState& a : atoms) {
    out.emplace_back(a.name + ".momentum", &a.momentum);
    if (a.row_second_moment.numel() > 0)
      out.emplace_back(a.name + ".row_second_moment", &a.row_second_moment);
    if (a.second_moment.numel() > 0) out.emplace_back(a.name + ".second_moment", &a.second_moment);
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
  Entries out;
  out.emplace_back(kStep, Tensor::from_vector_f64({static_cast<double>(impl().steps)}, {}));
  for (const auto& [name, buffer] : buffers(impl().atoms)) out.emplace_back(name, buffer->clone());
  return out;
}

void Optimizer::load_state(const Entries& state) {
  constexpr const char* op = "Optimizer.load_state";
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : state)
    if (!given.emplace(name, &tensor).second) fail(op, "entry '" + name + "' is given twice");

  // Check everything before changing anything.
  const auto targets = buffers(impl().atoms);
  const auto step_entry = given.find(kStep);
  if (step_entry == given.end()) fail(op, std::string("entry '") + kStep + "' is missing");
  const std::int64_t steps = step_count(op, *step_entry->second);
  for (const auto& [name, buffer] : targets) {
    const auto it = given.find(name);
    if (it == given.end())
      fail(op, "entry '" + name + "' is missing (the optimizer has " +
                   std::to_string(targets.size() + 1) + " entries, the state " +
                   std::to_string(state.size()) + ")");
    const Tensor& t = *it->second;
    if (t.shape() != buffer->shape())
      fail(op, "entry '" + name + "' has shape " + to_string(t.shape()) + ", expected " +
                   to_string(buffer->shape()));
    if (!all_finite(t)) fail(op, "entry '" + name + "' holds NaN or Inf: " + t.describe());
  }
  if (given.size() != targets.size() + 1)
    for (const auto& [name, tensor] : given) {
      const bool known =
          name == kStep || std::any_of(targets.begin(), targets.end(),
                                       [&](const auto& b) { return b.first == name; });
      if (!known)
        fail(op, "entry '" + name +
                     "' is not part of this optimizer's state (options or "
                     "parameters differ from the run that saved it?)");
    }

  // Copy into the existing buffers (exact: a conversion to their dtype, then y = 1 * x).
  for (const auto& [name, buffer] : targets) {
    const Tensor source = given.at(name)->to(buffer->dtype()).to(buffer->device());
    axpy(1.0, source, *buffer, 0.0);
  }
  impl().steps = steps;
}

}  // namespace modnorm
