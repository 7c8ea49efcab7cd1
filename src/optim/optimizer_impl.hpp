#pragma once
// Internals of modnorm::Optimizer shared by the files of src/optim/: the per-atom state and
// one function per stage of the step of docs/theory.md, "The optimizer" (momentum -> dualize ->
// NorMuon -> correction -> lr / c_l -> weight decay -> apply). Each stage trusts its inputs:
// options are validated at construction and the tree at the start of every step; the values
// are checked once, after every stage (check_finite_step), so a stage never throws on a NaN or
// an Inf, and it never writes a state tensor in place: it replaces it by a new one, which the
// step keeps only once the check has passed.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "modnorm/error.hpp"
#include "modnorm/module.hpp"
#include "modnorm/optim.hpp"
#include "modnorm/tensor.hpp"
#include "optim/step_plan.hpp"
#include "parameter_checks.hpp"

namespace modnorm {
namespace detail {

/// One atom as the optimizer was built for it, and its state buffers (weight's dtype/device), of
/// this rank's part of the atom (StepPlan: the whole atom here with one process).
struct AtomState {
  std::string name;          ///< Parameter::name
  Shape shape;               ///< the weight's shape
  DType dtype;               ///< the weight's dtype
  Device device;             ///< the weight's device
  double lr_multiplier;      ///< 1 unless overridden
  Tensor momentum;           ///< EMA of the gradient (Adam's first moment)
  Tensor row_second_moment;  ///< NorMuon's v, [d_out x 1]; empty unless used
  Tensor second_moment;      ///< Adam's v, the weight's shape; empty unless used
};

/// A step before the learning rate: Delta W = -lr * scale * direction.
struct Direction {
  Tensor direction;      ///< the tree's dualized (and NorMuon-normalised) momentum, Adam's u, or m
  double scale = 1.0;    ///< per-layer correction, optax's shape factor, adaptive Adam's clamp
  double pairing = 0.0;  ///< <u, dualize_l(u)> when a correction is on (modular)
};

// ---- options.cpp ------------------------------------------------------------------------------
/// Whether the algorithm keeps Adam's second moment.
bool uses_adam(Algorithm algorithm);
/// Whether an atom of `shape` has NorMuon's row second moment under `options`.
bool uses_row_second_moment(const StepRule& options, const Shape& shape);
/// Throws `[op] <field> must ..., got <value>` on the first invalid field of a rule.
void validate_rule(const char* op, const StepRule& rule);
/// Throws `[op] <field> must ..., got <value>` on the first invalid field (optim.hpp lists them),
/// the rule's and every group's (`[op] group 'x': ...`).
void validate(const char* op, const OptimizerOptions& options);
/// Throws unless the schedule is usable (ScheduleOptions).
void validate_schedule(const char* op, const ScheduleOptions& schedule);
/// Throws unless beta and the momentum warmup are usable (MomentumWarmup).
void validate_momentum_warmup(const char* op, double beta, const MomentumWarmup& warmup);

// ---- tree_checks.cpp ---------------------------------------------------------------------------
/// Throws unless `params` is the parameter list `atoms` were built for (count, names, shapes,
/// dtypes, devices; gradients shaped like their weights).
void check_tree(const char* op, const std::vector<Parameter>& params,
                const std::vector<AtomState>& atoms);
struct GroupState;
/// The step's one finiteness check: one all_finite() of every weight and gradient and of the
/// update of every non-frozen atom (one host synchronisation), agreed over the ranks
/// (StepPlan::check_everywhere of the first group's plan). When it fails, finds the first
/// offender and throws `[op] parameter 'x': gradient ... contains NaN at [i, j] ...; no weight or
/// optimizer state was changed` (or `weight ...`; every rank where another refused: `rank r
/// of W refused its gradients ...`), else `[op] parameter 'x': update ... contains +Inf at
/// [i, j] ... at learning rate <lrs[g]> (the step overflows the weight's dtype); no weight was
/// changed`. `lrs` holds each group's scheduled lr.
void check_finite_step(const char* op, const std::vector<Parameter>& params,
                       const std::vector<Tensor>& updates, const std::vector<GroupState>& groups,
                       const std::vector<double>& lrs);

// ---- momentum.cpp ------------------------------------------------------------------------------
/// momentum <- beta * momentum + (1 - beta) * grad, a new tensor (the old one is left as it
/// was); returns the new momentum itself, or with Nesterov a new tensor (1 - beta) * grad +
/// beta * momentum. With bias_step = t >= 1 (Convention::optax) both terms are bias-corrected
/// as optax does: m / (1 - beta^t), or beta m / (1 - beta^(t+1)) + (1 - beta) g / (1 - beta^t)
/// (a new tensor either way).
Tensor momentum_step(Tensor& momentum, const Tensor& grad, double beta, bool nesterov,
                     std::int64_t bias_step = 0);

// ---- modular_step.cpp --------------------------------------------------------------------------
/// The modular direction of atom `p` from the tree's duality map of its momentum u,
/// dualized = dualize(u, norm_l) / c_l (Module::dualize): NorMuon, then the per-layer
/// correction and optax's shape factor as the scale; the pairing <u, dualize(u, norm_l)> is
/// recorded for the corrections (docs/theory.md, "The optimizer").
/// `plan` sums over the owners of a split atom (atom i of the plan).
Direction modular_direction(AtomState& atom, const Parameter& p, const Tensor& u,
                            const Tensor& dualized, const StepRule& options, const StepPlan& plan,
                            std::size_t i);

/// The factor an lr rule multiplies O by for a d_out x d_in matrix (LrRule): sqrt(max(1, d_out /
/// d_in)) for muon, 0.2 sqrt(max(d_out, d_in)) for rms_match; 1 for modular (which uses 1 / c_l).
double lr_rule_factor(LrRule rule, const Shape& shape);

// ---- normuon.cpp -------------------------------------------------------------------------------
/// NorMuon (NorMuonOptions): replaces the atom's `row_second_moment` by its update, returns the
/// row-normalised O rescaled to ||O||_F (O: this rank's rows of atom i's direction; the norms
/// of a split atom are over all its rows, StepPlan::norm_over_rows).
Tensor normuon(const Tensor& O, AtomState& atom, const NorMuonOptions& options,
               const StepPlan& plan, std::size_t i);

// ---- adam.cpp ----------------------------------------------------------------------------------
/// AdamW's u = m_hat / (sqrt(v_hat) + eps) for 1-based step t, replacing both moments by their
/// updates (new tensors); scale is clamp(<m_hat, u>, -1, 1) for adaptive_adam, 1 for adamw.
Direction adam_direction(AtomState& atom, const Tensor& grad, std::int64_t t,
                         const StepRule& options);

// ---- apply.cpp ---------------------------------------------------------------------------------
/// update = -step * direction, plus weight decay at rate `decay` (lr * coefficient) per `mode`,
/// in place (the weight is read, not changed).
void form_update(Tensor& update, const Tensor& weight, const Tensor& direction, double step,
                 double decay, WeightDecay mode);

/// A [1] tensor holding `value`, broadcastable against `like` (same dtype and device).
Tensor scalar_like(double value, const Tensor& like);

// ---- orthogonalize_rows.cpp --------------------------------------------------------------------
/// orthogonalize_rows() after its checks on this rank's pieces (options, shapes, finiteness):
/// the sharded step's split atoms, whose momenta the step checks only afterwards (a NaN or Inf
/// gives NaN or Inf, on every owner alike).
std::vector<Tensor> orthogonalize_rows_checked(const std::vector<Tensor>& pieces,
                                               const distributed::Group& group,
                                               const OrthogonalizeOptions& options);

/// One parameter group as the optimizer runs it (a group is data: its atoms and its rule).
struct GroupState {
  std::string name;                ///< ParameterGroup::name; "all" without groups
  StepRule rule;                   ///< validated
  std::vector<std::size_t> atoms;  ///< indices into parameters(), increasing
  /// Which rank forms which update, over the group's atoms numbered 0, 1, ... in `atoms` order.
  std::unique_ptr<StepPlan> plan;
};

// ---- groups.cpp --------------------------------------------------------------------------------
/// The groups of `options` over `params` (plans not built yet): one group "all" of every
/// parameter with the options' own rule when there are none. Throws unless every parameter is
/// in exactly one group, every pattern matches a parameter, every atom of a modular group has a
/// positive coefficient and every atom of a group with an lr rule is a spectral matrix.
std::vector<GroupState> make_groups(const char* op, const OptimizerOptions& options,
                                    const std::vector<Parameter>& params);

/// Where parameter i lives: its group and its number in that group's plan.
struct Place {
  std::size_t group = 0;  ///< index into Optimizer::Impl::groups
  std::size_t index = 0;  ///< number in the group's plan
};

}  // namespace detail

/// The optimizer's data (optim.hpp keeps it out of the public header).
struct Optimizer::Impl {
  Module module;                           ///< the tree
  OptimizerOptions options;                ///< validated
  std::vector<detail::AtomState> atoms;    ///< one per parameters() entry, same order
  std::vector<Tensor> updates;             ///< last Delta W per atom
  std::int64_t steps = 0;                  ///< steps taken
  std::vector<detail::GroupState> groups;  ///< one pipeline each
  std::vector<detail::Place> place;        ///< per parameter, its group
};

}  // namespace modnorm
