// The optimizer over a process group (docs/distributed.md): every atom has one owner rank
// (distributed::plan_shards), which alone keeps its state and forms its update. A step
// reduce-scatters the gradients so that each owner gets the sums of its atoms, and all-gathers
// the updates so that every rank applies all of them: 2 P (W - 1) / W elements sent per rank,
// what an all-reduce of the gradients alone costs. With one process these are no-ops.
#include <functional>

#include "concatenate.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {
namespace {

// The atoms that travel (all but the frozen ones), in the order of the packed message: rank 0's
// atoms first, then rank 1's, ..., each rank's in parameter order.
std::vector<std::size_t> message_order(const std::vector<AtomState>& atoms,
                                       const std::vector<Parameter>& params, int size) {
  std::vector<std::size_t> order;
  for (int r = 0; r < size; ++r)
    for (std::size_t i = 0; i < atoms.size(); ++i)
      if (!frozen(params[i]) && atoms[i].owner == r) order.push_back(i);
  return order;
}

std::vector<Shape> shapes_of(const std::vector<AtomState>& atoms,
                             const std::vector<std::size_t>& order) {
  std::vector<Shape> out;
  for (const std::size_t i : order) out.push_back(atoms[i].shape);
  return out;
}

// The atoms `rank` owns, in message order.
std::vector<std::size_t> owned_by(const std::vector<AtomState>& atoms,
                                  const std::vector<std::size_t>& order, int rank) {
  std::vector<std::size_t> out;
  for (const std::size_t i : order)
    if (atoms[i].owner == rank) out.push_back(i);
  return out;
}

// Where the step's small messages live: the parameters' device (the group's).
Device device_of(const std::vector<AtomState>& atoms) {
  return atoms.empty() ? Device::cpu : atoms[0].device;
}

}  // namespace

std::vector<int> assign_owners(const char* op, const distributed::Group& group,
                               const std::vector<Parameter>& params,
                               const OptimizerOptions& options) {
  std::vector<distributed::PlanItem> items;
  for (const Parameter& p : params) items.push_back({p.weight.shape(), p.norm, frozen(p)});
  std::vector<int> owners =
      distributed::plan_shards(items, group.size(), options.orthogonalize).owner;
  for (int& owner : owners) owner = std::max(owner, 0);  // frozen atoms: rank 0 keeps their state
  if (group.size() == 1) return owners;
  // One packed message per step: one dtype and the group's device for every parameter.
  for (const Parameter& p : params)
    if (p.weight.dtype() != params[0].weight.dtype() ||
        p.weight.device() != params[0].weight.device())
      fail(op, "a group of " + std::to_string(group.size()) +
                   " ranks needs every parameter in one dtype and on one device; '" +
                   params[0].name + "' is " + params[0].weight.describe() + ", '" + p.name +
                   "' is " + p.weight.describe());
  // Every rank starts from rank 0's weights.
  for (const Parameter& p : params) {
    Tensor w = p.weight;
    axpy(1.0, distributed::broadcast(p.weight, 0, group), w, 0.0);
  }
  return owners;
}

Shards make_shards(distributed::Group group, const std::vector<AtomState>& atoms,
                   const std::vector<Parameter>& params) {
  Shards out{std::move(group), {}, 0};
  out.counts.assign(static_cast<std::size_t>(out.group.size()), 0);
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (!frozen(params[i]))
      out.counts[static_cast<std::size_t>(atoms[i].owner)] += params[i].weight.numel();
  for (const std::int64_t n : out.counts) out.total_elements += n;
  return out;
}

void check_everywhere(const char* op, const Shards& shards, const std::vector<AtomState>& atoms,
                      const std::function<void()>& checks) {
  const distributed::Group& group = shards.group;
  std::string error;
  try {
    checks();
  } catch (const Error& e) {
    if (group.size() == 1) throw;
    error = e.what();
  }
  if (group.size() == 1) return;
  // One flag per rank, summed: every rank learns which ranks refused their input.
  std::vector<double> flags(static_cast<std::size_t>(group.size()), 0.0);
  flags[static_cast<std::size_t>(group.rank())] = error.empty() ? 0.0 : 1.0;
  const Tensor local = Tensor::from_vector_f64(flags, {group.size()}).to(device_of(atoms));
  const std::vector<double> refused = distributed::all_sum(local, group).to_vector_f64();
  if (!error.empty()) throw Error(error);
  for (int r = 0; r < group.size(); ++r)
    if (refused[static_cast<std::size_t>(r)] > 0.0)
      fail(op, "rank " + std::to_string(r) + " of " + std::to_string(group.size()) +
                   " refused its gradients (its message says why); nothing changed");
}

std::vector<Tensor> reduce_gradients(const Shards& shards, const std::vector<AtomState>& atoms,
                                     const std::vector<Parameter>& params) {
  std::vector<Tensor> grads(params.size());
  const distributed::Group& group = shards.group;
  if (group.size() == 1) {
    for (std::size_t i = 0; i < params.size(); ++i) grads[i] = params[i].grad;
    return grads;
  }
  const std::vector<std::size_t> order = message_order(atoms, params, group.size());
  if (order.empty()) return grads;
  std::vector<Tensor> parts;
  for (const std::size_t i : order) parts.push_back(params[i].grad);
  const Tensor mine =
      distributed::sum_scatter(concatenate(parts, {shards.total_elements}), group, shards.counts);
  const std::vector<std::size_t> owned = owned_by(atoms, order, group.rank());
  const std::vector<Tensor> sums = split(mine, shapes_of(atoms, owned));
  for (std::size_t k = 0; k < owned.size(); ++k) grads[owned[k]] = sums[k];
  return grads;
}

void gather_updates(const Shards& shards, const std::vector<AtomState>& atoms,
                    const std::vector<Parameter>& params, std::vector<Tensor>& updates) {
  const distributed::Group& group = shards.group;
  if (group.size() == 1) return;
  const std::vector<std::size_t> order = message_order(atoms, params, group.size());
  if (order.empty()) return;
  const std::vector<std::size_t> owned = owned_by(atoms, order, group.rank());
  std::vector<Tensor> parts;
  for (const std::size_t i : owned) parts.push_back(updates[i]);
  const std::int64_t mine = shards.counts[static_cast<std::size_t>(group.rank())];
  const Tensor packed = parts.empty()
                            ? Tensor::empty({0}, atoms[order[0]].dtype, atoms[order[0]].device)
                            : concatenate(parts, {mine});
  const std::vector<Tensor> all =
      split(distributed::all_gather(packed, group, shards.counts), shapes_of(atoms, order));
  for (std::size_t k = 0; k < order.size(); ++k) axpy(1.0, all[k], updates[order[k]], 0.0);
}

double sum_over_ranks(const Shards& shards, const std::vector<AtomState>& atoms, double value) {
  if (shards.group.size() == 1) return value;
  const Tensor local = Tensor::from_vector_f64({value}, {1}).to(device_of(atoms));
  return distributed::all_sum(local, shards.group).item();
}

}  // namespace modnorm::detail
