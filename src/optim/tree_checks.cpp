// The checks that open every step: the tree still has the parameters the optimizer was built
// for, and every gradient is finite. Both run before anything changes, so a failed step
// leaves all weights and all state as they were.
#include <string>

#include "dualize_detail.hpp"
#include "fail.hpp"
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

void check_gradients(const char* op, const std::vector<Parameter>& params) {
  for (const Parameter& p : params) {
    if (all_finite(p.grad)) continue;
    // Only on the error path: dualize's checker locates the first offender.
    constexpr const char* kInner = "gradient";
    try {
      check_finite(kInner, p.grad);
    } catch (const Error& e) {
      std::string what = e.what();
      const std::string prefix = std::string("[") + kInner + "] input ";
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      fail(op, "parameter '" + p.name + "': gradient " + what +
                   "; no weight or optimizer state was changed");
    }
  }
}

}  // namespace modnorm::detail
