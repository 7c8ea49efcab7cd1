// The optimizer over a process group (docs/distributed.md): every atom has one owner rank, or a
// large matrix several, each with a block of its rows (distributed::plan_shards); an owner alone
// keeps the state of its atoms or rows and forms their update. A step reduce-scatters the
// gradients so that each owner gets the sums of its atoms and rows, and all-gathers the updates
// so that every rank applies all of them: 2 P (W - 1) / W elements sent per rank, what an
// all-reduce of the gradients alone costs, plus the Gram sums of the split matrices
// (distributed::orthogonalize_rows). With one process these are no-ops.
#include <functional>
#include <numeric>

#include "concatenate.hpp"
#include "dualize_detail.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {
namespace {

// One entry of the packed message: an atom, or the block of rows of a split one, of a rank.
struct Entry {
  std::size_t atom;
  distributed::RowBlock block;
};

// The entries that travel (all but the frozen atoms) in message order: rank 0's first, then
// rank 1's, ..., each rank's in parameter order. A split atom's blocks appear in rank order,
// which is its row order.
std::vector<Entry> message_order(const std::vector<AtomState>& atoms,
                                 const std::vector<Parameter>& params, int size) {
  std::vector<Entry> order;
  for (int r = 0; r < size; ++r)
    for (std::size_t i = 0; i < atoms.size(); ++i)
      if (const distributed::RowBlock* b = block_on(atoms[i], r); b && !frozen(params[i]))
        order.push_back({i, *b});
  return order;
}

std::vector<Shape> shapes_of(const std::vector<AtomState>& atoms,
                             const std::vector<Entry>& entries) {
  std::vector<Shape> out;
  for (const Entry& e : entries) out.push_back(block_shape(atoms[e.atom], e.block));
  return out;
}

// The entries of `rank`, in message order.
std::vector<Entry> owned_by(const std::vector<Entry>& order, int rank) {
  std::vector<Entry> out;
  for (const Entry& e : order)
    if (e.block.rank == rank) out.push_back(e);
  return out;
}

// Where the step's small messages live: the parameters' device (the group's).
Device device_of(const std::vector<AtomState>& atoms) {
  return atoms.empty() ? Device::cpu : atoms[0].device;
}

}  // namespace

std::vector<std::vector<distributed::RowBlock>> assign_owners(const char* op,
                                                              const distributed::Group& group,
                                                              const std::vector<Parameter>& params,
                                                              const OptimizerOptions& options) {
  // Only the modular algorithm orthogonalizes: for the others every atom is elementwise work.
  const bool modular = options.algorithm == Algorithm::modular;
  std::vector<distributed::PlanItem> items;
  for (const Parameter& p : params)
    items.push_back({p.weight.shape(), modular ? p.norm : Norm::euclidean, frozen(p)});
  std::vector<std::vector<distributed::RowBlock>> owners =
      distributed::plan_shards(items, group.size(), options.orthogonalize).owners;
  for (std::size_t i = 0; i < params.size(); ++i)  // frozen atoms: rank 0 keeps their state
    if (owners[i].empty())
      owners[i].push_back({0, 0, params[i].weight.rank() > 0 ? params[i].weight.dim(0) : 1});
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

const distributed::RowBlock* block_on(const AtomState& atom, int rank) {
  for (const distributed::RowBlock& b : atom.blocks)
    if (b.rank == rank) return &b;
  return nullptr;
}

bool is_split(const AtomState& atom) {
  return atom.blocks.size() > 1;
}

Shape block_shape(const AtomState& atom, const distributed::RowBlock& block) {
  Shape shape = atom.shape;
  if (!shape.empty()) shape[0] = block.rows;
  return shape;
}

Tensor rows_of(const Tensor& t, const distributed::RowBlock& block) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(block.rows));
  std::iota(ids.begin(), ids.end(), block.begin);
  return gather_rows(t, ids);
}

double sum_over_rows(const AtomState& atom, double value) {
  if (!is_split(atom)) return value;
  const Tensor local = Tensor::from_vector_f64({value}, {1}).to(atom.device);
  return distributed::all_sum(local, atom.rows_group).item();
}

Tensor dualize_rows(const AtomState& atom, const Parameter& p, const Tensor& u,
                    const OrthogonalizeOptions& options) {
  const Tensor O = distributed::orthogonalize_rows({u}, atom.rows_group, options)[0];
  return scale(O, shape_factor(atom.shape) / p.coefficient);
}

Shards make_shards(distributed::Group group, const std::vector<AtomState>& atoms,
                   const std::vector<Parameter>& params) {
  Shards out{std::move(group), {}, 0};
  out.counts.assign(static_cast<std::size_t>(out.group.size()), 0);
  for (const Entry& e : message_order(atoms, params, out.group.size())) {
    const Shape shape = block_shape(atoms[e.atom], e.block);
    out.counts[static_cast<std::size_t>(e.block.rank)] += std::accumulate(
        shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<std::int64_t>());
  }
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
  const std::vector<Entry> order = message_order(atoms, params, group.size());
  if (order.empty()) return grads;
  std::vector<Tensor> parts;
  for (const Entry& e : order)
    parts.push_back(is_split(atoms[e.atom]) ? rows_of(params[e.atom].grad, e.block)
                                            : params[e.atom].grad);
  const Tensor mine =
      distributed::sum_scatter(concatenate(parts, {shards.total_elements}), group, shards.counts);
  const std::vector<Entry> owned = owned_by(order, group.rank());
  const std::vector<Tensor> sums = split(mine, shapes_of(atoms, owned));
  for (std::size_t k = 0; k < owned.size(); ++k) grads[owned[k].atom] = sums[k];
  return grads;
}

void gather_updates(const Shards& shards, const std::vector<AtomState>& atoms,
                    const std::vector<Parameter>& params, const std::vector<Tensor>& mine,
                    std::vector<Tensor>& updates) {
  const distributed::Group& group = shards.group;
  if (group.size() == 1) return;
  const std::vector<Entry> order = message_order(atoms, params, group.size());
  if (order.empty()) return;
  std::vector<Tensor> parts;
  for (const Entry& e : owned_by(order, group.rank())) parts.push_back(mine[e.atom]);
  const std::int64_t count = shards.counts[static_cast<std::size_t>(group.rank())];
  const AtomState& any = atoms[order[0].atom];
  const Tensor packed =
      parts.empty() ? Tensor::empty({0}, any.dtype, any.device) : concatenate(parts, {count});
  const std::vector<Tensor> all =
      split(distributed::all_gather(packed, group, shards.counts), shapes_of(atoms, order));
  // A split atom's blocks arrive in row order: laid end to end they are its update.
  std::vector<std::vector<Tensor>> blocks(atoms.size());
  for (std::size_t k = 0; k < order.size(); ++k) blocks[order[k].atom].push_back(all[k]);
  for (std::size_t i = 0; i < atoms.size(); ++i)
    if (!blocks[i].empty())
      axpy(1.0, blocks[i].size() == 1 ? blocks[i][0] : concatenate(blocks[i], atoms[i].shape),
           updates[i], 0.0);
}

double sum_over_ranks(const Shards& shards, const std::vector<AtomState>& atoms, double value) {
  if (shards.group.size() == 1) return value;
  const Tensor local = Tensor::from_vector_f64({value}, {1}).to(device_of(atoms));
  return distributed::all_sum(local, shards.group).item();
}

}  // namespace modnorm::detail
