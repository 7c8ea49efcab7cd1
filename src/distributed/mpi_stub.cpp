// Compiled instead of mpi.cpp when MPI is not built (MODNORM_MPI=OFF or not found), like
// src/cuda_stub.cpp: init() then gives the one-process group, and asking for MPI by name throws.
#include "distributed/communicator.hpp"
#include "modnorm/error.hpp"

namespace modnorm::distributed::detail {

bool mpi_built() {
  return false;
}

std::shared_ptr<Communicator> mpi_world(Seconds) {
  modnorm::fail("init",
                "modnorm was built without MPI (install libopenmpi-dev and configure "
                "with MODNORM_MPI=ON)");
}

}  // namespace modnorm::distributed::detail
