// modnorm::Optimizer: construction (groups resolved, state allocated once, overrides resolved by
// name) and the step of docs/theory.md ("The optimizer"), which checks the whole tree first, then
// runs each group's pipeline (momentum -> the tree's duality map -> NorMuon / correction -> lr ->
// weight decay) into new state tensors, checks everything it read and formed in one fused
// check, and only then keeps the new state and applies every update.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "dualize_detail.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {
using detail::frozen;

std::map<std::string, const ParameterOverride*> overrides_by_name(
    const char* op, const std::vector<ParameterOverride>& overrides,
    const std::vector<Parameter>& params) {
  std::map<std::string, const ParameterOverride*> out;
  for (const ParameterOverride& ov : overrides) {
    const bool known = std::any_of(params.begin(), params.end(),
                                   [&](const Parameter& p) { return p.name == ov.name; });
    if (!known) {
      std::string list;
      for (const Parameter& p : params) list += (list.empty() ? "" : ", ") + p.name;
      fail(op, "override names no parameter: '" + ov.name + "' (the parameters are " +
                   (list.empty() ? std::string("none") : list) + ")");
    }
    if (!out.emplace(ov.name, &ov).second)
      fail(op, "parameter '" + ov.name + "' is overridden twice");
  }
  return out;
}

}  // namespace

namespace detail {
namespace {

// One group's pipeline (optim.hpp, Optimizer::step): momentum -> direction (the tree's duality
// map) -> NorMuon / correction (or the baselines' rule) -> scale by the lr -> weight decay, into
// `updates` (not applied), with the new state in `atoms` (new tensors; nothing is checked here,
// a NaN flows through). `params`, `atoms` and `updates` are the whole tree's; the plan numbers
// the group's atoms 0, 1, ...
void form_group_updates(const char* op, GroupState& g, const std::vector<Parameter>& params,
                        std::vector<AtomState>& atoms, std::vector<Tensor>& updates,
                        std::int64_t steps, double lr, double beta) {
  const StepRule& o = g.rule;
  const StepPlan& plan = *g.plan;
  const std::size_t n = g.atoms.size();
  std::vector<Parameter> mine;  // the group's parameters, in the plan's numbering
  for (const std::size_t i : g.atoms) mine.push_back(params[i]);
  // The atoms this rank steps (all of them with one process; docs/distributed.md), from the
  // gradients summed over the ranks.
  std::vector<std::size_t> stepped;
  for (std::size_t k = 0; k < n; ++k)
    if (!frozen(mine[k]) && plan.owns(k)) stepped.push_back(k);
  const std::vector<Tensor> grads = plan.gradients(mine);

  // 1. Momentum.
  std::vector<Tensor> u(n);
  const bool optax = o.algorithm == Algorithm::modular && o.convention == Convention::optax;
  if (o.algorithm == Algorithm::modular || o.algorithm == Algorithm::sgd)
    for (const std::size_t k : stepped)
      u[k] = momentum_step(atoms[g.atoms[k]].momentum, grads[k], beta, o.nesterov,
                           optax ? steps + 1 : 0);
  // 2. Direction: the tree's duality map of the momenta (modular), all atoms at once.
  std::vector<Tensor> dualized;
  if (o.algorithm == Algorithm::modular) dualized = plan.dualize(mine, u, stepped, o.orthogonalize);

  // 3. NorMuon and the correction (modular), or the baselines' own rule. The global correction
  // needs every pairing before any step.
  std::vector<Direction> directions(n);
  double modular_dual_norm = 0.0;  // sum_l <u_l, dualize_l(u_l)> / c_l (docs/modules.md)
  for (const std::size_t k : stepped) {
    const Parameter& p = mine[k];
    AtomState& a = atoms[g.atoms[k]];
    directions[k] = for_parameter(op, p.name, [&]() -> Direction {
      switch (o.algorithm) {
        case Algorithm::modular:
          return modular_direction(a, p, u[k], dualized[k], o, plan, k);
        case Algorithm::sgd:
          return {u[k], 1.0, 0.0};
        case Algorithm::adamw:
        case Algorithm::adaptive_adam:
          return adam_direction(a, grads[k], steps + 1, o);
      }
      fail(op, "unknown algorithm");
    });
    if (plan.counts(k)) modular_dual_norm += directions[k].pairing / p.coefficient;
  }
  const double global = o.correction.mode == CorrectionMode::global
                            ? std::clamp(plan.sum_over_ranks(modular_dual_norm),
                                         correction_lo(o.correction.range), 1.0)
                            : 1.0;

  // 4-5. Scale by the learning rate, then weight decay.
  std::vector<Tensor> formed(n), group_updates;
  for (const std::size_t i : g.atoms) group_updates.push_back(updates[i]);
  for (const std::size_t k : stepped) {
    const double atom_lr = lr * atoms[g.atoms[k]].lr_multiplier;
    formed[k] = plan.update_buffer(k, group_updates[k]);
    form_update(formed[k], plan.rows(k, mine[k].weight), directions[k].direction,
                atom_lr * directions[k].scale * global, atom_lr * o.weight_decay.coefficient,
                o.weight_decay.mode);
  }
  plan.gather_updates(formed, group_updates);  // every rank gets every update
}

}  // namespace
}  // namespace detail

Optimizer::Optimizer(const Module& module, const OptimizerOptions& options,
                     const distributed::Group& group)
    : impl_(std::make_unique<Impl>(Impl{module, options, {}, {}, 0, {}, {}})) {
  constexpr const char* op = "Optimizer";
  Impl& s = *impl_;
  const OptimizerOptions& o = s.options;
  detail::validate(op, o);
  const std::vector<Parameter> params = s.module.parameters();
  const auto overrides = overrides_by_name(op, o.overrides, params);
  s.groups = detail::make_groups(op, o, params);
  s.place.resize(params.size());
  for (std::size_t g = 0; g < s.groups.size(); ++g) {
    detail::GroupState& gs = s.groups[g];
    std::vector<Parameter> mine;
    for (const std::size_t i : gs.atoms) {
      s.place[i] = {g, mine.size()};
      mine.push_back(params[i]);
    }
    gs.plan = detail::make_step_plan(op, group, mine, gs.rule);
  }

  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& w = params[i].weight;
    const auto [g, k] = s.place[i];
    const StepRule& rule = s.groups[g].rule;
    detail::AtomState a{params[i].name, w.shape(), w.dtype(), w.device(), 1.0, {}, {}, {}};
    if (const auto it = overrides.find(a.name); it != overrides.end())
      a.lr_multiplier = it->second->lr_multiplier;
    // State only where it is used: on the atom's owners (optimizer-state sharding).
    if (s.groups[g].plan->owns(k)) {
      const Shape shape = s.groups[g].plan->local_shape(k);
      a.momentum = Tensor::zeros(shape, w.dtype(), w.device());
      if (detail::uses_row_second_moment(rule, a.shape))
        a.row_second_moment = Tensor::zeros({shape[0], 1}, w.dtype(), w.device());
      if (detail::uses_adam(rule.algorithm))
        a.second_moment = Tensor::zeros(shape, w.dtype(), w.device());
    }
    s.atoms.push_back(std::move(a));
    s.updates.push_back(Tensor::zeros(w.shape(), w.dtype(), w.device()));
  }
}

Optimizer::~Optimizer() = default;
Optimizer::Optimizer(Optimizer&&) noexcept = default;
Optimizer& Optimizer::operator=(Optimizer&&) noexcept = default;

void Optimizer::step() {
  constexpr const char* op = "Optimizer.step";
  Impl& s = impl();
  const std::vector<Parameter> params = s.module.parameters();
  // The tree is checked, on every rank, before anything runs (every group's plan spans the same
  // ranks).
  s.groups.front().plan->check_everywhere(op, [&] { detail::check_tree(op, params, s.atoms); });
  // Every group's updates and new state first (the state tensors replaced, not written: `next`
  // shares the old ones until a stage replaces them) ...
  std::vector<detail::AtomState> next = s.atoms;
  std::vector<double> lrs;
  for (detail::GroupState& g : s.groups) {
    lrs.push_back(scheduled_lr(g.rule.lr, s.options.schedule, s.steps));
    detail::form_group_updates(op, g, params, next, s.updates, s.steps, lrs.back(),
                               scheduled_beta(g.rule.beta, s.options.momentum_warmup, s.steps));
  }
  // ... then one check of every weight, gradient and update: a step never writes a non-finite
  // weight, and a failed one leaves every weight and all state as they were.
  detail::check_finite_step(op, params, s.updates, s.groups, lrs);
  s.atoms = std::move(next);
  // 6. Apply.
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (frozen(params[i])) continue;
    Tensor weight = params[i].weight;
    axpy(1.0, s.updates[i], weight);
  }
  ++s.steps;
}

Optimizer::Impl& Optimizer::impl() const {
  if (!impl_) fail("Optimizer", "this optimizer was moved from; use the one it was moved to");
  return *impl_;
}

double Optimizer::lr() const {
  return scheduled_lr(impl().options.lr, impl().options.schedule, impl().steps);
}

std::int64_t Optimizer::steps() const {
  return impl().steps;
}

const std::vector<Tensor>& Optimizer::last_updates() const {
  return impl().updates;
}

std::vector<AtomStep> Optimizer::atom_steps() const {
  const Impl& s = impl();
  const std::vector<Parameter> params = s.module.parameters();
  std::vector<AtomStep> out;
  for (std::size_t i = 0; i < s.atoms.size() && i < params.size(); ++i) {
    const detail::GroupState& g = s.groups[s.place[i].group];
    double rate = scheduled_lr(g.rule.lr, s.options.schedule, s.steps) * s.atoms[i].lr_multiplier;
    if (g.rule.algorithm == Algorithm::modular)
      rate *= g.rule.lr_rule == LrRule::modular
                  ? 1.0 / params[i].coefficient
                  : detail::lr_rule_factor(g.rule.lr_rule, params[i].weight.shape());
    out.push_back({g.name, to_string(g.rule.algorithm), rate});
  }
  return out;
}

const OptimizerOptions& Optimizer::options() const {
  return impl().options;
}

}  // namespace modnorm
