#pragma once
/// @file distributed.hpp
/// Process groups and their collectives, after `mlx.distributed` (docs/distributed.md): a
/// Group of `size()` processes, each with its `rank()`, and four collectives on Tensors. They
/// run on an existing engine: MPI (CPU tensors) or NCCL (CUDA tensors), or, when neither is
/// built or the program was not started by `mpirun`, a group of one process in which every
/// collective is a copy. The optimizer shards its step over a Group (Optimizer's constructor).
///
/// Every rank of a group must call the same collectives in the same order with tensors of the
/// same dtype and agreeing shapes (each collective states what must agree); a mismatch is
/// detected and reported as a modnorm::Error on every rank instead of a hang or a wrong sum.
/// A failed MPI or NCCL call becomes a modnorm::Error naming the collective, the call, the rank
/// and the engine's error code and text. A collective that does not complete within
/// InitOptions::timeout_seconds (a peer rank died or stopped calling collectives) throws on the
/// ranks still waiting; a rank that dies is noticed by `mpirun`, which then ends the others.
///
/// Example (run with `mpirun -np 4 ./program`):
///   modnorm::distributed::Group world = modnorm::distributed::init();
///   auto x = modnorm::Tensor::full({3}, world.rank());
///   auto total = modnorm::distributed::all_sum(x, world);   // {6, 6, 6} on every rank

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::distributed {

/// The engine behind a Group.
enum class Transport : std::uint8_t {
  single,  ///< one process: every collective is a copy of its input (any device)
  mpi,     ///< MPI (Open MPI, MPICH, ...): CPU tensors
  nccl,    ///< NCCL: CUDA tensors, one GPU per rank; started through MPI
};

/// "single", "mpi", "nccl".
MODNORM_API const char* to_string(Transport transport);

/// Whether `transport` was built into this library (single always is; mpi when CMake found MPI,
/// MODNORM_MPI; nccl when it also found CUDA and nccl.h). Says nothing about GPUs being visible.
///
/// Example: if (modnorm::distributed::is_available(Transport::mpi)) ...
MODNORM_API bool is_available(Transport transport);

/// Options of init().
struct InitOptions {
  /// Which engine. Unset: mpi when it is built and the program was started by `mpirun` (or
  /// another MPI launcher: OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE is set), single
  /// otherwise. nccl must be asked for by name: its collectives take CUDA tensors.
  std::optional<Transport> transport;
  /// A collective that has not completed after this many seconds throws modnorm::Error on the
  /// ranks waiting in it (> 0). Long enough for the slowest rank's compute between collectives.
  double timeout_seconds = 600.0;
};

/// What a Group's collectives have done since the group was made (its splits count apart).
/// `bytes_sent` is what this rank sends under the bandwidth-optimal ring algorithms (all_sum
/// 2 (W-1)/W n elements, sum_scatter n minus its own block, all_gather the total minus the next
/// rank's block, broadcast n on every rank but the last of the ring), in the tensor's dtype; the
/// MPI library or NCCL may pick another algorithm for small messages.
struct Stats {
  std::int64_t calls = 0;       ///< collectives called (checks between ranks not counted)
  std::int64_t bytes_sent = 0;  ///< bytes sent by this rank (ring model, above)
  double seconds = 0.0;         ///< wall time inside collectives (their input checks between ranks
                                ///< and the wait for the other ranks included)
};

namespace detail {
class Communicator;  // src/distributed/communicator.hpp
}

/// A set of processes that run collectives together. A handle: copies share the communicator,
/// which is freed with the last copy. The default Group is the one-process group.
///
/// Example:
///   auto world = modnorm::distributed::init();
///   auto half = world.split(world.rank() % 2);   // evens and odds, each its own group
class MODNORM_API Group {
 public:
  /// The one-process group (rank 0 of size 1, Transport::single).
  Group();
  /// Defined in the library, which exports it: a Group is a defaulted argument
  /// (Optimizer(net, options, group)), and clang-repl based kernels look the destructor of a
  /// defaulted argument up in the library (docs/notebooks.md, "Rich display").
  ~Group();
  Group(const Group&) = default;
  Group& operator=(const Group&) = default;
  Group(Group&&) noexcept = default;
  Group& operator=(Group&&) noexcept = default;
  /// This process's index in the group, 0 to size() - 1.
  int rank() const;
  /// Number of processes in the group.
  int size() const;
  /// The engine.
  Transport transport() const;
  /// A collective over this group: the ranks that pass the same `color` (>= 0) form a new
  /// group, ordered by `key` (ties by rank here; key < 0 means this rank). Every rank of this
  /// group must call it. Throws modnorm::Error for color < 0.
  ///
  /// Example: auto row = world.split(world.rank() / 4);   // groups of 4 consecutive ranks
  Group split(int color, int key = -1) const;
  /// Counters of this group's collectives.
  Stats stats() const;

  /// Wraps a communicator (what init() and split() construct).
  explicit Group(std::shared_ptr<detail::Communicator> communicator);

 private:
  std::shared_ptr<detail::Communicator> communicator_;
  friend detail::Communicator& communicator(const Group& group);
};

/// The group of every process of this program (MPI's COMM_WORLD, or NCCL's over it), per
/// InitOptions; the engine is started on the first call and stopped at exit. Later calls return
/// the same world. Throws modnorm::Error when the transport asked for is not built
/// (is_available), was started with a different one, or fails to start (naming the call).
///
/// Example: auto world = modnorm::distributed::init();  // size() 1 unless run by mpirun
MODNORM_API Group init(const InitOptions& options = {});

/// The elementwise sum of x over the group, on every rank. x: any shape, f32, bf16, f64 or
/// i32; the same shape and dtype on every rank, on the group's device (MPI: CPU, NCCL: CUDA).
/// bf16 sums are rounded once per addition, in the order the engine chooses.
///
/// Example: auto g = all_sum(local_grad, world);
MODNORM_API Tensor all_sum(const Tensor& x, const Group& group);

/// The sum of x over the group, cut along axis 0 into size() consecutive blocks: rank r
/// receives block r (reduce-scatter). `counts` gives each rank's block length (size() entries
/// >= 0 summing to x.dim(0)); empty means equal blocks (x.dim(0) must divide by size()). x has
/// rank >= 1 and the same shape and dtype on every rank; the result is [counts[r], ...].
///
/// Example: auto mine = sum_scatter(flat_grads, world, {600, 400});  // rank 1 gets 400 rows
MODNORM_API Tensor sum_scatter(const Tensor& x, const Group& group,
                               const std::vector<std::int64_t>& counts = {});

/// Every rank's x concatenated along axis 0 in rank order, on every rank. `counts` gives each
/// rank's x.dim(0) (size() entries, counts[rank()] == x.dim(0)); empty means all are equal.
/// The other axes and the dtype agree between ranks; x has rank >= 1.
///
/// Example: auto all = all_gather(mine, world, {600, 400});  // [1000, ...] everywhere
MODNORM_API Tensor all_gather(const Tensor& x, const Group& group,
                              const std::vector<std::int64_t>& counts = {});

/// Rank `root`'s x on every rank. Every rank passes a tensor of the same shape and dtype (the
/// others' values are ignored). Throws modnorm::Error for a root outside [0, size()).
///
/// Example: auto w = broadcast(weights, 0, world);
MODNORM_API Tensor broadcast(const Tensor& x, int root, const Group& group);

/// A contiguous part of n items: [begin, begin + count).
struct Share {
  std::int64_t begin = 0;  ///< first item
  std::int64_t count = 0;  ///< number of items
};

/// This rank's part of n items cut into size() contiguous parts as evenly as possible (the first
/// n % size() ranks get one more): how a global batch is split for data parallelism. A rank's
/// gradient must then be its share of the global mean loss, count / n times the gradient of
/// the mean over its own items, for the sum over ranks to be the global batch's gradient.
/// Throws modnorm::Error for n < 0.
///
/// Example:
///   auto part = modnorm::distributed::share(256, world);       // 86, 85, 85 items for W = 3
///   net.backward(scale(ce.grad, double(part.count) / 256));
MODNORM_API Share share(std::int64_t n, const Group& group);

}  // namespace modnorm::distributed
