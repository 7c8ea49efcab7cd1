// The process groups and their collectives (distributed.hpp), run as one process by CTest and
// as 2 and 3 ranks under mpirun: each collective against sums and concatenations every rank
// computes itself in float64 from every rank's seeded input, errors that must reach every rank,
// and a collective that a peer never joins timing out instead of hanging. The collectives' checks
// run again on the NCCL engine with CUDA tensors when every rank has a GPU of its own.
#include <chrono>
#include <numeric>
#include <thread>

#include "distributed/distributed_support.hpp"
#include "modnorm/ops.hpp"

namespace dist = modnorm::distributed;
using modnorm::Device;
using modnorm::DType;
using modnorm::Error;
using modnorm::Generator;
using modnorm::Shape;
using modnorm::Tensor;
using modnorm::test::shared_seed;
using modnorm::test::world;

namespace {

// Rank r's input: Gaussian entries from seed + r, in `dtype` (i32: integers in [-50, 50]).
Tensor input_of(int r, std::uint64_t seed, const Shape& shape, DType dtype) {
  Generator gen(seed + static_cast<std::uint64_t>(r));
  const Tensor x = Tensor::randn(shape, gen, DType::f64);
  if (dtype != DType::i32) return x.to(dtype);
  std::vector<std::int32_t> ids;
  for (const double v : x.to_vector_f64()) ids.push_back(static_cast<std::int32_t>(v * 16) % 51);
  return Tensor::from_vector_i32(ids, shape);
}

// Every rank's input, as this rank computes them.
std::vector<std::vector<double>> all_inputs(int size, std::uint64_t seed, const Shape& shape,
                                            DType dtype) {
  std::vector<std::vector<double>> out;
  for (int r = 0; r < size; ++r) out.push_back(input_of(r, seed, shape, dtype).to_vector_f64());
  return out;
}

std::vector<double> elementwise_sum(const std::vector<std::vector<double>>& inputs) {
  std::vector<double> sum(inputs[0].size(), 0.0);
  for (const auto& v : inputs)
    for (std::size_t i = 0; i < v.size(); ++i) sum[i] += v[i];
  return sum;
}

// Tolerance of a sum of W terms in `dtype`, relative to the largest term (i32: exact).
double tolerance(DType dtype, int size) {
  switch (dtype) {
    case DType::f64:
      return 1e-14 * size;
    case DType::f32:
      return 1e-6 * size;
    case DType::bf16:
      return 1e-2 * size;
    case DType::i32:
      return 0.0;
  }
  return 0.0;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected, double tol) {
  BOOST_REQUIRE_EQUAL(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(got[i] - expected[i]) <= tol * (1.0 + std::abs(expected[i])),
               "element " << i << ": " << got[i] << " vs " << expected[i]);
}

// Runs f and requires that it throws modnorm::Error whose message contains `part`.
template <typename F>
void require_error(F&& f, const std::string& part) {
  try {
    f();
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find(part) != std::string::npos,
               "message '" << e.what() << "' lacks '" << part << "'");
    return;
  }
  BOOST_FAIL("no modnorm::Error containing '" << part << "'");
}

const DType kDtypes[] = {DType::f32, DType::f64, DType::bf16, DType::i32};

void check_all_sum(const dist::Group& group, Device device) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed);
  const int w = group.size();
  for (const DType dtype : kDtypes)
    for (const Shape& shape : {Shape{}, Shape{7}, Shape{3, 5}, Shape{2, 3, 4, 2}, Shape{0, 3}}) {
      BOOST_TEST_INFO("dtype " << dtype << " shape " << modnorm::to_string(shape));
      const Tensor x = input_of(group.rank(), seed, shape, dtype).to(device);
      const Tensor s = dist::all_sum(x, group);
      BOOST_TEST(s.shape() == shape);
      BOOST_TEST(s.dtype() == dtype);
      BOOST_TEST(!s.same_storage(x));
      check_close(s.to_vector_f64(), elementwise_sum(all_inputs(w, seed, shape, dtype)),
                  tolerance(dtype, w));
    }
}

void check_sum_scatter(const dist::Group& group, Device device) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed);
  const int w = group.size(), me = group.rank();
  // Equal blocks, then uneven ones with an empty block (the last rank gets none).
  std::vector<std::int64_t> uneven(static_cast<std::size_t>(w));
  for (int r = 0; r < w; ++r) uneven[static_cast<std::size_t>(r)] = r + 1 == w && w > 1 ? 0 : r + 2;
  const std::int64_t uneven_total = std::accumulate(uneven.begin(), uneven.end(), std::int64_t{0});
  for (const DType dtype : kDtypes)
    for (const auto& counts : {std::vector<std::int64_t>{}, uneven}) {
      const std::int64_t rows = counts.empty() ? 2 * w : uneven_total;
      const Shape shape{rows, 3};
      const Tensor mine =
          dist::sum_scatter(input_of(me, seed, shape, dtype).to(device), group, counts);
      const std::vector<double> sum = elementwise_sum(all_inputs(w, seed, shape, dtype));
      std::int64_t begin = 0;
      for (int r = 0; r < me; ++r)
        begin += counts.empty() ? 2 : counts[static_cast<std::size_t>(r)];
      const std::int64_t n = counts.empty() ? 2 : counts[static_cast<std::size_t>(me)];
      BOOST_TEST(mine.shape() == (Shape{n, 3}));
      check_close(mine.to_vector_f64(),
                  std::vector<double>(sum.begin() + begin * 3, sum.begin() + (begin + n) * 3),
                  tolerance(dtype, w));
    }
}

void check_all_gather(const dist::Group& group, Device device) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed);
  const int w = group.size(), me = group.rank();
  for (const DType dtype : kDtypes) {
    // Equal parts of [2 x 3]; then rank r contributes r rows (rank 0 none).
    const Tensor equal = dist::all_gather(input_of(me, seed, {2, 3}, dtype).to(device), group);
    std::vector<double> expected;
    for (const auto& v : all_inputs(w, seed, {2, 3}, dtype))
      expected.insert(expected.end(), v.begin(), v.end());
    BOOST_TEST(equal.shape() == (Shape{2 * w, 3}));
    check_close(equal.to_vector_f64(), expected, 0.0);

    std::vector<std::int64_t> counts;
    expected.clear();
    for (int r = 0; r < w; ++r) {
      counts.push_back(r);
      const auto v = input_of(r, seed, {r, 3}, dtype).to_vector_f64();
      expected.insert(expected.end(), v.begin(), v.end());
    }
    const Tensor uneven =
        dist::all_gather(input_of(me, seed, {me, 3}, dtype).to(device), group, counts);
    BOOST_TEST(uneven.shape() == (Shape{w * (w - 1) / 2, 3}));
    check_close(uneven.to_vector_f64(), expected, 0.0);
  }
}

void check_broadcast(const dist::Group& group, Device device) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed);
  for (int root = 0; root < group.size(); ++root)
    for (const DType dtype : kDtypes) {
      const Tensor got =
          dist::broadcast(input_of(group.rank(), seed, {4, 2}, dtype).to(device), root, group);
      check_close(got.to_vector_f64(), input_of(root, seed, {4, 2}, dtype).to_vector_f64(), 0.0);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(distributed)

BOOST_AUTO_TEST_CASE(world_matches_the_launcher) {
  const dist::Group& g = world();
  BOOST_TEST(g.size() >= 1);
  BOOST_TEST(g.rank() >= 0);
  BOOST_TEST(g.rank() < g.size());
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  if (launched && dist::is_available(dist::Transport::mpi)) {
    BOOST_TEST((g.transport() == dist::Transport::mpi));
    BOOST_TEST(g.size() == std::atoi(std::getenv("OMPI_COMM_WORLD_SIZE")));
  } else {
    BOOST_TEST((g.transport() == dist::Transport::single));
    BOOST_TEST(g.size() == 1);
  }
  BOOST_TEST(dist::Group().size() == 1);
  BOOST_TEST(dist::is_available(dist::Transport::single));
  BOOST_TEST(std::string(dist::to_string(dist::Transport::nccl)) == "nccl");
}

BOOST_AUTO_TEST_CASE(all_sum_is_the_sum_of_every_rank) {
  check_all_sum(world(), Device::cpu);
}

BOOST_AUTO_TEST_CASE(sum_scatter_gives_each_rank_its_block_of_the_sum) {
  check_sum_scatter(world(), Device::cpu);
}

BOOST_AUTO_TEST_CASE(all_gather_concatenates_in_rank_order) {
  check_all_gather(world(), Device::cpu);
}

BOOST_AUTO_TEST_CASE(broadcast_copies_the_root_everywhere) {
  check_broadcast(world(), Device::cpu);
}

// The same checks on the NCCL engine with CUDA tensors (one GPU per rank; skipped otherwise).
BOOST_AUTO_TEST_CASE(nccl_collectives_are_the_sums_and_copies_of_every_rank,
                     *boost::unit_test::precondition(modnorm::test::nccl_ranks)) {
  const dist::Group& nccl = *modnorm::test::nccl_world();
  BOOST_TEST((nccl.transport() == dist::Transport::nccl));
  check_all_sum(nccl, Device::cuda);
  check_sum_scatter(nccl, Device::cuda);
  check_all_gather(nccl, Device::cuda);
  check_broadcast(nccl, Device::cuda);
  BOOST_TEST(nccl.stats().calls > 0);
}

// Stats::seconds counts the wait for a late rank: the last rank reaches an all_sum 1 s after the
// others, and every other rank's time in collectives covers most of that (half: a loaded
// machine may start a rank late).
BOOST_AUTO_TEST_CASE(stats_count_the_wait_for_a_late_rank,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  const int w = world().size(), me = world().rank();
  const dist::Group group = world().split(0);                // fresh counts
  dist::all_sum(Tensor::full({1}, 1.0, DType::f64), group);  // everyone present
  const double before = group.stats().seconds;
  if (me == w - 1) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  dist::all_sum(Tensor::full({1}, 1.0, DType::f64), group);
  const double waited = group.stats().seconds - before;
  if (me != w - 1) BOOST_TEST(waited > 0.5);
}

BOOST_AUTO_TEST_CASE(split_makes_independent_groups) {
  const int w = world().size(), me = world().rank();
  // Evens and odds, each ordered by descending world rank (key).
  const dist::Group half = world().split(me % 2, w - me);
  std::vector<int> members;
  for (int r = 0; r < w; ++r)
    if (r % 2 == me % 2) members.push_back(r);
  BOOST_TEST(half.size() == static_cast<int>(members.size()));
  BOOST_TEST(half.rank() ==
             static_cast<int>(members.size()) - 1 -
                 static_cast<int>(std::find(members.begin(), members.end(), me) - members.begin()));
  const Tensor s = dist::all_sum(Tensor::full({1}, me, DType::f64), half);
  BOOST_TEST(s.item() == std::accumulate(members.begin(), members.end(), 0.0));
  const dist::Stats stats = half.stats();
  BOOST_TEST(stats.calls == (half.size() > 1 ? 1 : 0));
  BOOST_TEST(stats.bytes_sent == (half.size() > 1 ? 2 * (8 - 8 / half.size()) : 0));
  require_error([&] { world().split(-1); }, "[Group.split] color must be >= 0, got -1");
}

BOOST_AUTO_TEST_CASE(share_cuts_a_batch_into_contiguous_parts) {
  const dist::Share part = dist::share(10, world());
  const int w = world().size(), me = world().rank();
  std::int64_t begin = 0;
  for (int r = 0; r < me; ++r) begin += 10 / w + (r < 10 % w ? 1 : 0);
  BOOST_TEST(part.begin == begin);
  BOOST_TEST(part.count == 10 / w + (me < 10 % w ? 1 : 0));
  const std::int64_t total =
      dist::all_sum(Tensor::full({1}, part.count, DType::f64), world()).item();
  BOOST_TEST(total == 10);
  require_error([&] { dist::share(-1, world()); }, "[share] n must be >= 0, got -1");
}

BOOST_AUTO_TEST_CASE(bad_input_is_an_error_on_every_rank) {
  const int w = world().size();
  if (w > 1)
    require_error([&] { dist::sum_scatter(Tensor::zeros({2 * w + 1}), world()); },
                  "does not divide into");
  require_error(
      [&] {
        dist::sum_scatter(Tensor::zeros({3}), world(), {1, 1, 1, 1, 1});
      },
      "counts has 5 entries for");
  require_error([&] { dist::all_gather(Tensor::full({}, 1.0), world()); },
                "needs a tensor of rank >= 1");
  require_error([&] { dist::broadcast(Tensor::zeros({2}), w, world()); },
                "root " + std::to_string(w) + " is not a rank of a group of");
  require_error(
      [&] {
        dist::init({dist::Transport::nccl, 1.0});
      },
      dist::is_available(dist::Transport::nccl) ? "" : "built without NCCL");
  require_error([&] { dist::init({std::nullopt, 0.0}); }, "timeout_seconds must be > 0");
  // The world still works after every refusal.
  BOOST_TEST(dist::all_sum(Tensor::full({1}, 1.0, DType::f64), world()).item() == w);
}

BOOST_AUTO_TEST_CASE(one_rank_refused_makes_every_rank_throw,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  const int me = world().rank();
  // Rank 0 passes counts that do not sum to its rows; the others valid ones.
  std::vector<std::int64_t> counts(static_cast<std::size_t>(world().size()), 1);
  if (me == 0) counts[0] = 2;
  require_error([&] { dist::sum_scatter(Tensor::zeros({world().size()}), world(), counts); },
                me == 0 ? "counts sums to" : "another rank's input was refused");
}

BOOST_AUTO_TEST_CASE(disagreeing_ranks_are_an_error_not_a_hang,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  const int me = world().rank();
  require_error([&] { dist::all_sum(Tensor::zeros({me == 0 ? 3 : 4}), world()); },
                "the ranks disagree on a dimension of the tensor (from 3 to 4");
  require_error(
      [&] { dist::all_sum(Tensor::zeros({3}, me == 0 ? DType::f32 : DType::f64), world()); },
      "the ranks disagree on the dtype");
  // Two different collectives at the same point.
  require_error(
      [&] {
        if (me == 0)
          dist::all_sum(Tensor::zeros({world().size()}), world());
        else
          dist::all_gather(Tensor::zeros({1}), world());
      },
      "the ranks disagree on the collective called");
  BOOST_TEST(dist::all_sum(Tensor::full({1}, 1.0, DType::f64), world()).item() == world().size());
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_joins_times_out,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  // A group of ranks 0 and 1 with a one-second timeout: rank 0 waits in a collective that rank 1
  // never joins, so rank 0 throws, naming the call and its rank (the abandoned collective's
  // buffers stay with the group, which is never used again).
  dist::InitOptions quick_options;
  quick_options.timeout_seconds = 1.0;
  const dist::Group quick = dist::init(quick_options).split(world().rank() < 2 ? 0 : 1);
  const int me = world().rank();
  if (me == 0) {
    const auto start = std::chrono::steady_clock::now();
    require_error([&] { dist::all_sum(Tensor::zeros({4}), quick); },
                  "[all_sum] rank 0 of " + std::to_string(quick.size()) +
                      ": MPI_Iallreduce did not complete within");
    BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::seconds(3)));
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  BOOST_TEST(dist::all_sum(Tensor::full({1}, 1.0, DType::f64), world()).item() == world().size());
}

BOOST_AUTO_TEST_SUITE_END()
