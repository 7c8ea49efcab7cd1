#pragma once
// The engines behind modnorm::distributed::Group (MPI, NCCL, one process): one small interface
// on raw buffers, implemented in mpi.cpp and nccl.cpp (or their stubs when not built) and in
// group.cpp for one process. Tensors, shapes and the checks between ranks are group.cpp's;
// an engine trusts its arguments and only moves and sums bytes.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "modnorm/distributed.hpp"

namespace modnorm::distributed::detail {

/// One engine's communicator. Buffers are host pointers for Device::cpu engines and device
/// pointers for NCCL; counts are in elements of `dtype`.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual Transport transport() const = 0;
  virtual Device device() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::shared_ptr<Communicator> split(int color, int key) = 0;

  /// Element-wise maximum of `values` over the group, on the host, in place: how ranks check
  /// that they agree (each rank passes v and -v, so that max and min come back).
  virtual void max_int64(std::vector<std::int64_t>& values, const char* op) = 0;
  /// out = sum of in over the group (count elements; in may equal out).
  virtual void all_sum(const void* in, void* out, std::int64_t count, DType dtype,
                       const char* op) = 0;
  /// out = this rank's block of the sum of in; counts[r] elements per rank r.
  virtual void sum_scatter(const void* in, void* out, const std::vector<std::int64_t>& counts,
                           DType dtype, const char* op) = 0;
  /// out = every rank's in (counts[r] elements each) in rank order.
  virtual void all_gather(const void* in, void* out, const std::vector<std::int64_t>& counts,
                          DType dtype, const char* op) = 0;
  /// buffer = root's buffer (count elements).
  virtual void broadcast(void* buffer, std::int64_t count, DType dtype, int root,
                         const char* op) = 0;

  /// The group's counters (Group::stats); collectives.cpp adds to them.
  Stats stats;
  /// Buffers of collectives that timed out: the engine may still write them (a collective
  /// cannot be cancelled), so they live as long as the communicator.
  std::vector<Tensor> abandoned;
};

/// The communicator behind a group (Group's friend).
}  // namespace modnorm::distributed::detail
namespace modnorm::distributed {
detail::Communicator& communicator(const Group& group);
}  // namespace modnorm::distributed
namespace modnorm::distributed::detail {

/// Seconds a collective may wait (InitOptions::timeout_seconds), as a duration.
using Seconds = std::chrono::duration<double>;

/// "[op] rank r of W: <call> failed with <engine> error <code> (<text>)": the one message
/// shape of a failed engine call.
[[noreturn]] void fail_call(const char* op, int rank, int size, const char* call,
                            const std::string& engine_error);

/// "[op] rank r of W: <call> did not complete within T s ...".
[[noreturn]] void fail_timeout(const char* op, int rank, int size, const char* call,
                               Seconds timeout);

/// True when an MPI launcher started this process (OMPI_COMM_WORLD_SIZE, PMIX_RANK or
/// PMI_SIZE is set).
bool launched_by_mpi();

// ---- mpi.cpp (or mpi_stub.cpp) ----------------------------------------------------------------
/// Whether MPI was built in.
bool mpi_built();
/// MPI_COMM_WORLD (MPI started on first use, stopped at exit).
std::shared_ptr<Communicator> mpi_world(Seconds timeout);

// ---- nccl.cpp (or nccl_stub.cpp) --------------------------------------------------------------
/// Whether NCCL was built in.
bool nccl_built();
/// One NCCL communicator over MPI_COMM_WORLD, each rank on GPU (local rank mod device count).
std::shared_ptr<Communicator> nccl_world(Seconds timeout);

}  // namespace modnorm::distributed::detail
