// One rank dies in the middle of a run: rank 1 exits without a word while rank 0 waits in a
// collective. Run only by tests/distributed/rank_dies.sh under mpirun, which checks that the
// job ends promptly with an error instead of hanging; as one process it reports itself skipped.
#include <cstdlib>

#include "distributed/distributed_support.hpp"

BOOST_AUTO_TEST_SUITE(distributed_rank_dies,
                      *boost::unit_test::precondition(modnorm::test::several_ranks))

BOOST_AUTO_TEST_CASE(a_dead_rank_ends_the_job) {
  auto& world = modnorm::test::world();
  if (world.rank() == 1) std::_Exit(3);
  modnorm::distributed::all_sum(modnorm::Tensor::zeros({4}), world);
  BOOST_FAIL("rank " << world.rank() << " finished a collective that rank 1 never joined");
}

BOOST_AUTO_TEST_SUITE_END()
