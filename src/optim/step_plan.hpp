#pragma once
// The step plan: which rank forms which atom's update, and how gradients, directions, updates and
// state travel between ranks (docs/distributed.md, "What is sharded"). The optimizer's pipeline
// (optimizer.cpp) asks the plan and never looks at ranks itself. Two implementations: one
// process (step_plan.cpp: every atom here, every transfer a no-op) and a group of several
// (sharded_plan.cpp: owners from plan_shards, reduce-scatter in, all-gather out).

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "modnorm/distributed.hpp"
#include "modnorm/module.hpp"
#include "modnorm/optim.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// Who forms which update (optim.hpp, Optimizer: data parallelism). Atoms are numbered as the
/// tree's parameters(). "This rank's part" of an atom is the whole atom on its owner, its block of
/// rows on each owner of an atom split by rows, nothing elsewhere.
class StepPlan {
 public:
  virtual ~StepPlan() = default;

  /// Whether this rank keeps atom i's state and forms its update (of its rows if split).
  virtual bool owns(std::size_t i) const = 0;
  /// The shape of this rank's part of atom i (owners only).
  virtual Shape local_shape(std::size_t i) const = 0;
  /// Whether this rank is the one that counts atom i in a sum over atoms (its first owner).
  virtual bool counts(std::size_t i) const = 0;

  /// Runs `checks` on every rank; if any rank's throws, every rank throws (the rank's own message
  /// where its checks failed, otherwise one naming the rank that refused), before anything changes.
  virtual void check_everywhere(const char* op, const std::function<void()>& checks) const = 0;
  /// This rank's part of every atom's gradient summed over the ranks (an empty Tensor for the
  /// atoms it does not own).
  virtual std::vector<Tensor> gradients(const std::vector<Parameter>& params) const = 0;
  /// This rank's part of the tree's duality map dualize(u_l, norm_l) / c_l (Module::dualize) of
  /// every atom in `atoms` (owned, not frozen), from this rank's part `u` of their momenta; an
  /// empty Tensor for the others. Never throws on a NaN or Inf in u (dualize_atoms).
  virtual std::vector<Tensor> dualize(const std::vector<Parameter>& params,
                                      const std::vector<Tensor>& u,
                                      const std::vector<std::size_t>& atoms,
                                      const OrthogonalizeOptions& options) const = 0;
  /// The sum of `value` over the owners of atom i (`value` itself for an atom owned whole).
  virtual double sum_over_rows(std::size_t i, double value) const = 0;
  /// The Frobenius norm of atom i's whole tensor from `local`, that of this rank's part.
  virtual double norm_over_rows(std::size_t i, double local) const = 0;
  /// The sum of `value` over the ranks.
  virtual double sum_over_ranks(double value) const = 0;
  /// This rank's part of `whole` (atom i's weight, or a whole state buffer shaped like it).
  virtual Tensor rows(std::size_t i, const Tensor& whole) const = 0;
  /// Where this rank forms atom i's update: `update` itself, or a new tensor for its rows.
  virtual Tensor update_buffer(std::size_t i, const Tensor& update) const = 0;
  /// Every non-frozen atom's update from its owners' parts `formed` into `updates` (every rank).
  virtual void gather_updates(const std::vector<Tensor>& formed,
                              std::vector<Tensor>& updates) const = 0;
  /// A copy of atom i's state buffer as a whole tensor of `shape` on every rank, from this rank's
  /// part `buffer` (empty where it owns none).
  virtual Tensor whole(std::size_t i, const Tensor& buffer, const Shape& shape) const = 0;
};

/// The tree's duality map (modnorm::dualize over the parameters) of the atoms `atoms`, from
/// `u[i]` for each i in `atoms`, into a vector of params.size() tensors (empty for the others).
/// A NaN or Inf in u is not an error here: it flows into the directions (the step checks them).
std::vector<Tensor> dualize_atoms(const std::vector<Parameter>& params,
                                  const std::vector<Tensor>& u,
                                  const std::vector<std::size_t>& atoms,
                                  const OrthogonalizeOptions& options);

/// The plan of `group` for `params` under the rule `options`: local for one process, sharded
/// otherwise (make_sharded_plan).
std::unique_ptr<StepPlan> make_step_plan(const char* op, distributed::Group group,
                                         const std::vector<Parameter>& params,
                                         const StepRule& options);

}  // namespace modnorm::detail
