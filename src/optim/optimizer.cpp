// modnorm::Optimizer: construction (state allocated once, overrides resolved by name) and the
// step of docs/theory.md ("The optimizer"), which checks the whole tree first, then forms every
// atom's momentum, the tree's duality map of them and every atom's direction, then (after the
// global dual norm correction, which needs all of them) every update, applied once all are finite.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "dualize_detail.hpp"
#include "fail.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {

using detail::fail;
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

Optimizer::Optimizer(const Module& module, OptimizerOptions options, distributed::Group group)
    : impl_(std::make_unique<Impl>(Impl{module, std::move(options), {}, {}, 0, {}})) {
  constexpr const char* op = "Optimizer";
  Impl& s = *impl_;
  const OptimizerOptions& o = s.options;
  detail::validate(op, o);
  const std::vector<Parameter> params = s.module.parameters();
  const auto overrides = overrides_by_name(op, o.overrides, params);
  if (o.algorithm == Algorithm::modular)
    for (const Parameter& p : params) detail::check_coefficient(op, p);
  s.plan = detail::make_step_plan(op, std::move(group), params, o);

  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& w = params[i].weight;
    detail::AtomState a{params[i].name, w.shape(), w.dtype(), w.device(), 1.0, {}, {}, {}};
    if (const auto it = overrides.find(a.name); it != overrides.end())
      a.lr_multiplier = it->second->lr_multiplier;
    // State only where it is used: on the atom's owners (optimizer-state sharding).
    if (s.plan->owns(i)) {
      const Shape shape = s.plan->local_shape(i);
      a.momentum = Tensor::zeros(shape, w.dtype(), w.device());
      if (detail::uses_row_second_moment(o, a.shape))
        a.row_second_moment = Tensor::zeros({shape[0], 1}, w.dtype(), w.device());
      if (detail::uses_adam(o.algorithm))
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
  const OptimizerOptions& o = s.options;
  const detail::StepPlan& plan = *s.plan;
  const std::vector<Parameter> params = s.module.parameters();
  // Everything is checked, on every rank, before anything changes.
  plan.check_everywhere(op, [&] {
    detail::check_tree(op, params, s.atoms);
    detail::check_finite_inputs(op, params);
  });
  // The atoms this rank steps (all of them with one process; docs/distributed.md), from the
  // gradients summed over the ranks.
  std::vector<std::size_t> stepped;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!frozen(params[i]) && plan.owns(i)) stepped.push_back(i);
  const std::vector<Tensor> grads = plan.gradients(params);

  // 1. Momentum.
  std::vector<Tensor> u(params.size());
  const bool optax = o.algorithm == Algorithm::modular && o.convention == Convention::optax;
  if (o.algorithm == Algorithm::modular || o.algorithm == Algorithm::sgd)
    for (const std::size_t i : stepped)
      u[i] = detail::momentum_step(s.atoms[i].momentum, grads[i], o.beta, o.nesterov,
                                   optax ? s.steps + 1 : 0);
  // 2. Direction: the tree's duality map of the momenta (modular), all atoms at once.
  std::vector<Tensor> dualized;
  if (o.algorithm == Algorithm::modular)
    dualized = plan.dualize(params, u, stepped, o.orthogonalize);

  // 3. NorMuon and the correction (modular), or the baselines' own rule. The global correction
  // needs every pairing before any step.
  std::vector<detail::Direction> directions(params.size());
  double modular_dual_norm = 0.0;  // sum_l <u_l, dualize_l(u_l)> / c_l (docs/modules.md)
  for (const std::size_t i : stepped) {
    const Parameter& p = params[i];
    detail::AtomState& a = s.atoms[i];
    directions[i] = detail::for_parameter(op, p.name, [&]() -> detail::Direction {
      switch (o.algorithm) {
        case Algorithm::modular:
          return detail::modular_direction(a, p, u[i], dualized[i], o, plan, i);
        case Algorithm::sgd:
          return {u[i], 1.0, 0.0};
        case Algorithm::adamw:
        case Algorithm::adaptive_adam:
          return detail::adam_direction(a, grads[i], s.steps + 1, o);
      }
      fail(op, "unknown algorithm");
    });
    if (plan.counts(i)) modular_dual_norm += directions[i].pairing / p.coefficient;
  }
  const double global = o.correction.mode == CorrectionMode::global
                            ? std::clamp(plan.sum_over_ranks(modular_dual_norm),
                                         detail::correction_lo(o.correction.range), 1.0)
                            : 1.0;

  // 4-5. Scale by the learning rate, then weight decay: every Delta W first, checked finite,
  // then applied, so that a step never writes a non-finite weight.
  const double base_lr = lr();
  std::vector<Tensor> formed(params.size());
  for (const std::size_t i : stepped) {
    const double atom_lr = base_lr * s.atoms[i].lr_multiplier;
    formed[i] = plan.update_buffer(i, s.updates[i]);
    detail::form_update(formed[i], plan.rows(i, params[i].weight), directions[i].direction,
                        atom_lr * directions[i].scale * global,
                        atom_lr * o.weight_decay.coefficient, o.weight_decay.mode);
  }
  plan.gather_updates(formed, s.updates);  // every rank gets every update
  detail::check_updates(op, params, s.updates, base_lr);
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

const OptimizerOptions& Optimizer::options() const {
  return impl().options;
}

}  // namespace modnorm
