// Compiled instead of nccl.cpp when NCCL is not built (no CUDA backend, no MPI, or no nccl.h):
// asking for the NCCL backend throws.
#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"

namespace modnorm::distributed::detail {

bool nccl_built() {
  return false;
}

std::shared_ptr<Communicator> nccl_world(Seconds) {
  modnorm::fail("init",
                "modnorm was built without NCCL (it needs the CUDA backend, MPI and "
                "nccl.h from the CUDA Toolkit)");
}

}  // namespace modnorm::distributed::detail
