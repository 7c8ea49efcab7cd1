// The checks of every step: the tree still has the parameters the optimizer was built for
// (before anything runs), and every weight, gradient and update is finite (one fused check once
// the step is formed, before anything changes, so a failed step leaves all weights and all state
// as they were).
#include <sstream>
#include <string>

#include "dualize_detail.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {
namespace {

constexpr const char* kRebuild = "; build a new Optimizer for a changed tree";

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& n : list) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

std::string placement(DType dtype, Device device) {
  return std::string(to_string(dtype)) + " " + to_string(device);
}

}  // namespace

void check_tree(const char* op, const std::vector<Parameter>& params,
                const std::vector<AtomState>& atoms) {
  if (params.size() != atoms.size()) {
    std::vector<std::string> now, then;
    for (const Parameter& p : params) now.push_back(p.name);
    for (const AtomState& a : atoms) then.push_back(a.name);
    fail(op, "the module tree has " + std::to_string(params.size()) + " parameters (" + names(now) +
                 ") but the optimizer was built for " + std::to_string(atoms.size()) + " (" +
                 names(then) + ")" + kRebuild);
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Parameter& p = params[i];
    const AtomState& a = atoms[i];
    if (p.name != a.name)
      fail(op, "parameter " + std::to_string(i) + " is '" + p.name +
                   "' but the optimizer was built for '" + a.name + "'" + kRebuild);
    if (p.weight.shape() != a.shape)
      fail(op, "parameter '" + p.name + "' has shape " + to_string(p.weight.shape()) +
                   " but the optimizer was built for " + to_string(a.shape) + kRebuild);
    if (p.weight.dtype() != a.dtype || p.weight.device() != a.device)
      fail(op, "parameter '" + p.name + "' is " + placement(p.weight.dtype(), p.weight.device()) +
                   " but the optimizer state is " + placement(a.dtype, a.device) +
                   "; build the Optimizer after Module::to() (load_state() converts saved "
                   "state to the new one's device)");
    if (p.grad.shape() != p.weight.shape() || p.grad.dtype() != p.weight.dtype() ||
        p.grad.device() != p.weight.device())
      fail(op, "parameter '" + p.name + "': gradient " + p.grad.describe() +
                   " does not match its weight " + p.weight.describe());
  }
}

namespace {

// Throws `[op] parameter 'x': <what> <non_finite(t)><tail>` unless t is finite.
void check_finite_named(const char* op, const Parameter& p, const char* what, const Tensor& t,
                        const std::string& tail) {
  const std::string bad = non_finite(t);
  if (!bad.empty()) fail(op, "parameter '" + p.name + "': " + what + " " + bad + tail);
}

// The slow path, once the fused check has failed: the first non-finite weight or gradient.
void check_finite_inputs(const char* op, const std::vector<Parameter>& params) {
  constexpr const char* kUntouched = "; no weight or optimizer state was changed";
  for (const Parameter& p : params) {
    check_finite_named(op, p, "weight", p.weight, kUntouched);
    check_finite_named(op, p, "gradient", p.grad, kUntouched);
  }
}

// The slow path: the first non-finite update of a non-frozen atom of the group, naming its lr.
void check_updates(const char* op, const std::vector<Parameter>& params,
                   const std::vector<Tensor>& updates, const GroupState& group, double lr) {
  std::ostringstream tail;
  tail << " at learning rate " << lr
       << " (the step overflows the weight's dtype); no weight was changed";
  for (const std::size_t i : group.atoms)
    if (!frozen(params[i])) check_finite_named(op, params[i], "update", updates[i], tail.str());
}

}  // namespace

void check_finite_step(const char* op, const std::vector<Parameter>& params,
                       const std::vector<Tensor>& updates, const std::vector<GroupState>& groups,
                       const std::vector<double>& lrs) {
  std::vector<Tensor> all;
  for (std::size_t i = 0; i < params.size(); ++i) {
    all.push_back(params[i].weight);
    all.push_back(params[i].grad);
    if (!frozen(params[i])) all.push_back(updates[i]);
  }
  bool finite = true;
  // Each rank's own weights and gradients are agreed on: a rank that finds a bad one throws its
  // message, the others that it refused.
  groups.front().plan->check_everywhere(op, [&] {
    finite = all_finite(all);
    if (!finite) check_finite_inputs(op, params);
  });
  if (finite) return;
  // Every weight and gradient is finite, on every rank, so an update is not; every rank holds
  // every update (StepPlan::gather_updates), and so finds the same one.
  for (std::size_t g = 0; g < groups.size(); ++g)
    check_updates(op, params, updates, groups[g], lrs[g]);
  fail(op, "a weight, gradient or update holds NaN or Inf");  // not reached: one check threw
}

}  // namespace modnorm::detail
