// The step plan over a group of several ranks (docs/distributed.md): every atom has one owner
// rank, or a large matrix several, each with a block of its rows (plan_shards); an owner alone
// keeps the state of its atoms or rows and forms their update. A step reduce-scatters the
// gradients so that each owner gets the sums of its atoms and rows, and all-gathers the updates
// so that every rank applies all of them: 2 P (W - 1) / W elements sent per rank, what an
// all-reduce of the gradients alone costs, plus the Gram sums of the split matrices
// (orthogonalize_rows).
#include "optim/sharded_plan.hpp"

#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include "dualize_detail.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"
#include "pack.hpp"
#include "parameter_checks.hpp"

namespace modnorm::detail {
namespace {

// One atom as the plan sees it.
struct Atom {
  Shape shape;    // the weight's shape
  DType dtype;    // the weight's dtype
  Device device;  // the weight's device
  bool frozen;    // zero mass: never sent
  // The ranks that keep its state and form its update, and their rows (plan_shards): one block
  // for an atom owned whole (a frozen one: rank 0's, which keeps its zero state).
  std::vector<RowBlock> blocks;
  distributed::Group rows_group;  // a split atom's owners, which share its Newton-Schulz sums
};

// One entry of the packed message: an atom, or the block of rows of a split one, of a rank.
struct Entry {
  std::size_t atom;
  RowBlock block;
};

const RowBlock* block_on(const Atom& atom, int rank) {
  for (const RowBlock& b : atom.blocks)
    if (b.rank == rank) return &b;
  return nullptr;
}

bool is_split(const Atom& atom) {
  return atom.blocks.size() > 1;
}

Shape block_shape(const Atom& atom, const RowBlock& block) {
  Shape shape = atom.shape;
  if (!shape.empty()) shape[0] = block.rows;
  return shape;
}

// Rows [block.begin, block.begin + block.rows) of t (a new tensor).
Tensor rows_of(const Tensor& t, const RowBlock& block) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(block.rows));
  std::iota(ids.begin(), ids.end(), static_cast<std::int32_t>(block.begin));
  return gather_rows(t, Tensor::from_vector_i32(ids, {block.rows}).to(t.device()));
}

// Every atom's owners; with the checks and the broadcast of make_sharded_plan.
std::vector<std::vector<RowBlock>> assign_owners(const char* op, const distributed::Group& group,
                                                 const std::vector<Parameter>& params,
                                                 const StepRule& options) {
  // Only the modular algorithm takes duality maps: for the others every atom is elementwise work.
  const bool modular = options.algorithm == Algorithm::modular;
  std::vector<PlanItem> items;
  for (const Parameter& p : params)
    items.push_back(
        {p.weight.shape(), modular ? std::optional<Norm>(p.norm) : std::nullopt, frozen(p)});
  std::vector<std::vector<RowBlock>> owners =
      plan_shards(items, group.size(), options.orthogonalize).owners;
  for (std::size_t i = 0; i < params.size(); ++i)  // frozen atoms: rank 0 keeps their state
    if (owners[i].empty())
      owners[i].push_back({0, 0, params[i].weight.rank() > 0 ? params[i].weight.dim(0) : 1});
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

class ShardedPlan final : public StepPlan {
 public:
  ShardedPlan(const char* op, distributed::Group group, const std::vector<Parameter>& params,
              const StepRule& options)
      : group_(std::move(group)) {
    const auto owners = assign_owners(op, group_, params, options);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor& w = params[i].weight;
      atoms_.push_back({w.shape(), w.dtype(), w.device(), frozen(params[i]), owners[i], {}});
      Atom& a = atoms_.back();
      // The owners of a split atom share its Newton-Schulz sums (a collective, in atom order).
      if (is_split(a)) a.rows_group = group_.split(block_on(a, group_.rank()) ? 0 : 1);
    }
    order_ = message_order(group_.size());
    counts_.assign(static_cast<std::size_t>(group_.size()), 0);
    for (const Entry& e : order_) {
      const Shape shape = block_shape(atoms_[e.atom], e.block);
      counts_[static_cast<std::size_t>(e.block.rank)] += std::accumulate(
          shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<std::int64_t>());
    }
    for (const std::int64_t n : counts_) total_elements_ += n;
  }

  bool owns(std::size_t i) const override { return block_on(atoms_[i], group_.rank()) != nullptr; }
  Shape local_shape(std::size_t i) const override {
    return block_shape(atoms_[i], *block_on(atoms_[i], group_.rank()));
  }
  bool counts(std::size_t i) const override {
    return atoms_[i].blocks.front().rank == group_.rank();
  }

  void check_everywhere(const char* op, const std::function<void()>& checks) const override {
    std::string error;
    try {
      checks();
    } catch (const Error& e) {
      error = e.what();
    }
    // One flag per rank, summed: every rank learns which ranks refused their input.
    std::vector<double> flags(static_cast<std::size_t>(group_.size()), 0.0);
    flags[static_cast<std::size_t>(group_.rank())] = error.empty() ? 0.0 : 1.0;
    const Tensor local = Tensor::from_vector_f64(flags, {group_.size()}).to(device());
    const std::vector<double> refused = distributed::all_sum(local, group_).to_vector_f64();
    if (!error.empty()) throw Error(error);
    for (int r = 0; r < group_.size(); ++r)
      if (refused[static_cast<std::size_t>(r)] > 0.0)
        fail(op, "rank " + std::to_string(r) + " of " + std::to_string(group_.size()) +
                     " refused its gradients (its message says why); nothing changed");
  }

  std::vector<Tensor> gradients(const std::vector<Parameter>& params) const override {
    std::vector<Tensor> grads(params.size());
    if (order_.empty()) return grads;
    std::vector<Tensor> parts;
    for (const Entry& e : order_)
      parts.push_back(is_split(atoms_[e.atom]) ? rows_of(params[e.atom].grad, e.block)
                                               : params[e.atom].grad);
    const Tensor mine = distributed::sum_scatter(pack(parts, {total_elements_}), group_, counts_);
    const std::vector<Entry> owned = owned_by(group_.rank());
    const std::vector<Tensor> sums = unpack(mine, shapes_of(owned));
    for (std::size_t k = 0; k < owned.size(); ++k) grads[owned[k].atom] = sums[k];
    return grads;
  }

  std::vector<Tensor> dualize(const std::vector<Parameter>& params, const std::vector<Tensor>& u,
                              const std::vector<std::size_t>& atoms,
                              const OrthogonalizeOptions& options) const override {
    // Atoms owned whole as the tree's duality map; a split atom's rows with its other owners.
    std::vector<std::size_t> whole;
    for (const std::size_t i : atoms)
      if (!is_split(atoms_[i])) whole.push_back(i);
    std::vector<Tensor> out = dualize_atoms(params, u, whole, options);
    for (const std::size_t i : atoms)
      if (is_split(atoms_[i]))
        out[i] = for_parameter("Optimizer.step", params[i].name, [&] {
          // Only a norm that orthogonalizes is split (plan_shards): its map is the shape
          // factor times U V^T, so this is Module::dualize's dualize_l(u) / c_l.
          const Tensor O = orthogonalize_rows_checked({u[i]}, atoms_[i].rows_group, options)[0];
          return scale(O,
                       params[i].norm.rule().shape_factor(atoms_[i].shape) / params[i].coefficient);
        });
    return out;
  }

  double sum_over_rows(std::size_t i, double value) const override {
    const Atom& a = atoms_[i];
    if (!is_split(a)) return value;
    const Tensor local = Tensor::from_vector_f64({value}, {1}).to(a.device);
    return distributed::all_sum(local, a.rows_group).item();
  }

  double norm_over_rows(std::size_t i, double local) const override {
    if (!is_split(atoms_[i])) return local;
    return std::sqrt(sum_over_rows(i, local * local));
  }

  double sum_over_ranks(double value) const override {
    const Tensor local = Tensor::from_vector_f64({value}, {1}).to(device());
    return distributed::all_sum(local, group_).item();
  }

  Tensor rows(std::size_t i, const Tensor& whole) const override {
    return is_split(atoms_[i]) ? rows_of(whole, *block_on(atoms_[i], group_.rank())) : whole;
  }

  Tensor update_buffer(std::size_t i, const Tensor& update) const override {
    const Atom& a = atoms_[i];
    return is_split(a) ? Tensor::zeros(local_shape(i), a.dtype, a.device) : update;
  }

  void gather_updates(const std::vector<Tensor>& formed,
                      std::vector<Tensor>& updates) const override {
    if (order_.empty()) return;
    std::vector<Tensor> parts;
    for (const Entry& e : owned_by(group_.rank())) parts.push_back(formed[e.atom]);
    const std::int64_t count = counts_[static_cast<std::size_t>(group_.rank())];
    const Atom& any = atoms_[order_[0].atom];
    const Tensor packed =
        parts.empty() ? Tensor::empty({0}, any.dtype, any.device) : pack(parts, {count});
    const std::vector<Tensor> all =
        unpack(distributed::all_gather(packed, group_, counts_), shapes_of(order_));
    // A split atom's blocks arrive in row order: laid end to end they are its update.
    std::vector<std::vector<Tensor>> blocks(atoms_.size());
    for (std::size_t k = 0; k < order_.size(); ++k) blocks[order_[k].atom].push_back(all[k]);
    for (std::size_t i = 0; i < atoms_.size(); ++i)
      if (!blocks[i].empty())
        axpy(1.0, blocks[i].size() == 1 ? blocks[i][0] : pack(blocks[i], atoms_[i].shape),
             updates[i], 0.0);
  }

  Tensor whole(std::size_t i, const Tensor& buffer, const Shape& shape) const override {
    // A buffer lives on its atom's owner, which sends it to every rank; a split atom's rows on
    // its owners, whose blocks every rank gathers in row order.
    const Atom& a = atoms_[i];
    const bool mine = owns(i);
    if (!is_split(a)) {
      const Tensor local = mine ? buffer : Tensor::zeros(shape, a.dtype, a.device);
      return distributed::broadcast(local, a.blocks[0].rank, group_);
    }
    std::vector<std::int64_t> counts(static_cast<std::size_t>(group_.size()), 0);
    for (const RowBlock& block : a.blocks)
      counts[static_cast<std::size_t>(block.rank)] = block.rows;
    Shape none = shape;
    none[0] = 0;
    const Tensor local = mine ? buffer : Tensor::zeros(none, a.dtype, a.device);
    return distributed::all_gather(local, group_, counts);
  }

 private:
  // The entries that travel (all but the frozen atoms) in message order: rank 0's first, then
  // rank 1's, ..., each rank's in parameter order. A split atom's blocks appear in rank order,
  // which is its row order.
  std::vector<Entry> message_order(int size) const {
    std::vector<Entry> order;
    for (int r = 0; r < size; ++r)
      for (std::size_t i = 0; i < atoms_.size(); ++i)
        if (const RowBlock* b = block_on(atoms_[i], r); b && !atoms_[i].frozen)
          order.push_back({i, *b});
    return order;
  }

  // The entries of `rank`, in message order.
  std::vector<Entry> owned_by(int rank) const {
    std::vector<Entry> out;
    for (const Entry& e : order_)
      if (e.block.rank == rank) out.push_back(e);
    return out;
  }

  std::vector<Shape> shapes_of(const std::vector<Entry>& entries) const {
    std::vector<Shape> out;
    for (const Entry& e : entries) out.push_back(block_shape(atoms_[e.atom], e.block));
    return out;
  }

  // Where the step's small messages live: the parameters' device (the group's).
  Device device() const { return atoms_.empty() ? Device::cpu : atoms_[0].device; }

  distributed::Group group_;          // the ranks that share the step
  std::vector<Atom> atoms_;           // one per parameter
  std::vector<Entry> order_;          // the message order (message_order)
  std::vector<std::int64_t> counts_;  // elements each rank owns (the messages' block lengths)
  std::int64_t total_elements_ = 0;   // elements of every non-frozen parameter
};

}  // namespace

std::unique_ptr<StepPlan> make_sharded_plan(const char* op, distributed::Group group,
                                            const std::vector<Parameter>& params,
                                            const StepRule& options) {
  return std::make_unique<ShardedPlan>(op, std::move(group), params, options);
}

}  // namespace modnorm::detail
