#pragma once
// Internals of modnorm::Optimizer shared by the files of src/optim/: the per-atom state and
// one function per stage of the step of docs/theory.md, "The optimizer" (momentum -> dualize ->
// NorMuon -> correction -> lr / c_l -> weight decay -> apply). Each stage trusts its inputs:
// options are validated at construction and the tree and gradients at the start of every step.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fail.hpp"
#include "modnorm/distributed.hpp"
#include "modnorm/module.hpp"
#include "modnorm/optim.hpp"
#include "modnorm/tensor.hpp"
#include "parameter_checks.hpp"

namespace modnorm {
namespace detail {

/// One atom as the optimizer was built for it, and its state buffers (weight's dtype/device): of
/// the whole atom on its owner, of its rows on each owner of an atom split by rows (shard.cpp).
struct AtomState {
  std::string name;          ///< Parameter::name
  Shape shape;               ///< the weight's shape
  DType dtype;               ///< the weight's dtype
  Device device;             ///< the weight's device
  double lr_multiplier;      ///< 1 unless overridden
  Tensor momentum;           ///< EMA of the gradient (Adam's first moment)
  Tensor row_second_moment;  ///< NorMuon's v, [d_out x 1]; empty unless used
  Tensor second_moment;      ///< Adam's v, the weight's shape; empty unless used
  /// The ranks that keep this state and form the update, and their rows (plan_shards): one
  /// block for an atom owned whole (a frozen one: rank 0's, which keeps its zero state).
  std::vector<distributed::RowBlock> blocks;
  distributed::Group rows_group;  ///< a split atom's owners, which share its Newton-Schulz sums
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
bool uses_row_second_moment(const OptimizerOptions& options, const Shape& shape);
/// Throws `[op] <field> must ..., got <value>` on the first invalid field (optim.hpp lists them).
void validate(const char* op, const OptimizerOptions& options);
/// Throws unless the schedule is usable (ScheduleOptions).
void validate_schedule(const char* op, const ScheduleOptions& schedule);

// ---- tree_checks.cpp ---------------------------------------------------------------------------
/// Throws unless `params` is the parameter list `atoms` were built for (count, names, shapes,
/// dtypes, devices; gradients shaped like their weights).
void check_tree(const char* op, const std::vector<Parameter>& params,
                const std::vector<AtomState>& atoms);
/// Throws `[op] parameter 'x': gradient ... contains NaN at [i, j] ...` (or `weight ...`) for
/// the first parameter whose weight or gradient is not finite.
void check_finite_inputs(const char* op, const std::vector<Parameter>& params);
/// Throws `[op] parameter 'x': the update ... contains +Inf at [i, j] ...` for the first
/// non-frozen parameter whose update is not finite (before any is applied), naming `lr`.
void check_updates(const char* op, const std::vector<Parameter>& params,
                   const std::vector<Tensor>& updates, double lr);

// ---- momentum.cpp ------------------------------------------------------------------------------
/// momentum <- beta * momentum + (1 - beta) * grad in place; returns the momentum itself, or
/// with Nesterov a new tensor (1 - beta) * grad + beta * momentum. With bias_step = t >= 1
/// (Convention::optax) both terms are bias-corrected as optax does: m / (1 - beta^t), or
/// beta m / (1 - beta^(t+1)) + (1 - beta) g / (1 - beta^t) (a new tensor either way).
Tensor momentum_step(Tensor& momentum, const Tensor& grad, double beta, bool nesterov,
                     std::int64_t bias_step = 0);

// ---- modular_step.cpp --------------------------------------------------------------------------
/// The modular direction of atom `p` from the tree's duality map of its momentum u,
/// dualized = dualize(u, norm_l) / c_l (Module::dualize): NorMuon, then the per-layer
/// correction and optax's shape factor as the scale; the pairing <u, dualize(u, norm_l)> is
/// recorded for the corrections (docs/theory.md, "The optimizer").
Direction modular_direction(AtomState& atom, const Parameter& p, const Tensor& u,
                            const Tensor& dualized, const OptimizerOptions& options);

// ---- normuon.cpp -------------------------------------------------------------------------------
/// NorMuon (NorMuonOptions): updates the atom's `row_second_moment` in place, returns the
/// row-normalised O rescaled to ||O||_F (O: this rank's rows of the atom's direction; the norms
/// of a split atom are over all its rows).
Tensor normuon(const Tensor& O, AtomState& atom, const NorMuonOptions& options);

// ---- adam.cpp ----------------------------------------------------------------------------------
/// AdamW's u = m_hat / (sqrt(v_hat) + eps) for 1-based step t, updating both moments in place;
/// scale is clamp(<m_hat, u>, -1, 1) for adaptive_adam, 1 for adamw.
Direction adam_direction(AtomState& atom, const Tensor& grad, std::int64_t t,
                         const OptimizerOptions& options);

// ---- apply.cpp ---------------------------------------------------------------------------------
/// update = -step * direction, plus weight decay at rate `decay` (lr * coefficient) per `mode`,
/// in place (the weight is read, not changed).
void form_update(Tensor& update, const Tensor& weight, const Tensor& direction, double step,
                 double decay, WeightDecay mode);

/// A [1] tensor holding `value`, broadcastable against `like` (same dtype and device).
Tensor scalar_like(double value, const Tensor& like);

}  // namespace detail

namespace detail {

/// How the step is shared between the ranks of a group (shard.cpp).
struct Shards {
  distributed::Group group;          ///< the ranks that share the step
  std::vector<std::int64_t> counts;  ///< elements each rank owns (the messages' block lengths)
  std::int64_t total_elements = 0;   ///< elements of every non-frozen parameter
};

// ---- shard.cpp ---------------------------------------------------------------------------------
/// Every atom's owners (distributed::plan_shards, which sees spectral atoms as such only for the
/// modular algorithm, the one that orthogonalizes; frozen atoms: rank 0, which keeps their zero
/// state). With several ranks, also checks that the parameters share one dtype and device and
/// gives every rank rank 0's weights (a collective).
std::vector<std::vector<distributed::RowBlock>> assign_owners(const char* op,
                                                              const distributed::Group& group,
                                                              const std::vector<Parameter>& params,
                                                              const OptimizerOptions& options);
/// The block of `atom` that `rank` owns; nullptr if none.
const distributed::RowBlock* block_on(const AtomState& atom, int rank);
/// Whether `atom` is split by rows between several ranks.
bool is_split(const AtomState& atom);
/// The shape of a block's rows of `atom`.
Shape block_shape(const AtomState& atom, const distributed::RowBlock& block);
/// Rows [block.begin, block.begin + block.rows) of t (a new tensor).
Tensor rows_of(const Tensor& t, const distributed::RowBlock& block);
/// The sum of `value` over the owners of a split atom; `value` itself for an atom owned whole.
double sum_over_rows(const AtomState& atom, double value);
/// This rank's rows of the modular duality map of a split atom from its rows `u` of the momentum:
/// sqrt(d_out / d_in) orthogonalize(u) / c_l as Module::dualize, by distributed::orthogonalize_rows
/// among the atom's owners.
Tensor dualize_rows(const AtomState& atom, const Parameter& p, const Tensor& u,
                    const OrthogonalizeOptions& options);
/// The shards of atoms whose owners are set: elements per rank (non-frozen atoms only).
Shards make_shards(distributed::Group group, const std::vector<AtomState>& atoms,
                   const std::vector<Parameter>& params);
/// Runs `checks` on every rank; if any rank's throws, every rank throws (the rank's own message
/// where its checks failed, otherwise one naming the rank that refused), before anything changes.
void check_everywhere(const char* op, const Shards& shards, const std::vector<AtomState>& atoms,
                      const std::function<void()>& checks);
/// The gradient of every atom this rank owns (of its rows for a split atom), summed over the
/// group (reduce-scatter); an empty Tensor for the others. With one process, the gradients.
std::vector<Tensor> reduce_gradients(const Shards& shards, const std::vector<AtomState>& atoms,
                                     const std::vector<Parameter>& params);
/// Every non-frozen atom's update from its owners' `mine` (this rank's: the updates of the atoms,
/// or rows, it owns), into `updates` (all-gather). With one process, `mine` are `updates`.
void gather_updates(const Shards& shards, const std::vector<AtomState>& atoms,
                    const std::vector<Parameter>& params, const std::vector<Tensor>& mine,
                    std::vector<Tensor>& updates);
/// The sum of `value` over the group.
double sum_over_ranks(const Shards& shards, const std::vector<AtomState>& atoms, double value);

}  // namespace detail

/// The optimizer's data (optim.hpp keeps it out of the public header).
struct Optimizer::Impl {
  Module module;                         ///< the tree
  OptimizerOptions options;              ///< validated
  std::vector<detail::AtomState> atoms;  ///< one per parameters() entry, same order
  std::vector<Tensor> updates;           ///< last Delta W per atom
  std::int64_t steps = 0;                ///< steps taken
  detail::Shards shards;                 ///< the group and the owners' shares

  /// Whether this rank keeps atom i's state and forms its update (of some of its rows if split).
  bool owns(std::size_t i) const {
    return detail::block_on(atoms[i], shards.group.rank()) != nullptr;
  }
};

}  // namespace modnorm
