#pragma once
// Shared by the distributed suites, which CTest runs as one process and under
// `mpirun -np 2` and `-np 3` (tests/CMakeLists.txt): the world group, a seed every rank agrees
// on, and a precondition for cases that need several ranks.

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>

#include "modnorm/distributed.hpp"
#include "support.hpp"

namespace modnorm::test {

/// The world of this run (one process unless started by mpirun); a collective that waits more
/// than two minutes fails the test instead of hanging it.
inline distributed::Group& world() {
  static distributed::Group group = [] {
    distributed::InitOptions options;
    options.timeout_seconds = 120;
    return distributed::init(options);
  }();
  return group;
}

/// The NCCL group over the world's ranks, or nullptr unless this build has NCCL, the run has
/// several ranks and every rank its own GPU (NCCL refuses two ranks on one device).
inline const distributed::Group* nccl_world() {
  static const std::optional<distributed::Group> group = []() -> std::optional<distributed::Group> {
    const bool fits = distributed::is_available(distributed::Transport::nccl) &&
                      world().size() >= 2 && cuda_device_count() >= world().size();
    // Every rank decides alike: none unless it fits on every rank.
    const double unfit =
        distributed::all_sum(Tensor::full({1}, fits ? 0.0 : 1.0, DType::f64), world()).item();
    if (unfit > 0) return std::nullopt;
    distributed::InitOptions options;
    options.transport = distributed::Transport::nccl;
    options.timeout_seconds = 120;
    return distributed::init(options);
  }();
  return group ? &*group : nullptr;
}

/// fresh_seed() of rank 0, on every rank (printed on failure by the caller's BOOST_TEST_INFO).
inline std::uint64_t shared_seed() {
  const auto local = static_cast<double>(fresh_seed() % (std::uint64_t{1} << 52));
  return static_cast<std::uint64_t>(
      distributed::broadcast(Tensor::from_vector_f64({local}, {1}), 0, world()).item());
}

/// A Boost.Test precondition: false, with the reason CTest turns into "skipped", unless the
/// world has at least two ranks.
inline boost::test_tools::assertion_result several_ranks(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(world().size() >= 2);
  ok.message() << "needs 2 or more ranks (run under mpirun)";
  return ok;
}

/// A Boost.Test precondition: nccl_world() exists.
inline boost::test_tools::assertion_result nccl_ranks(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(nccl_world() != nullptr);
  ok.message() << "needs a build with NCCL and one GPU per rank, 2 or more ranks (mpirun)";
  return ok;
}

}  // namespace modnorm::test
