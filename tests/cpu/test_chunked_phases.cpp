// The phases of one parallel region whose chunks any thread claims (src/cpu/chunked_phases.hpp,
// the one-region Newton-Schulz): every chunk runs exactly once, a phase starts only after every
// chunk of the one before it is done, and the threads that run do not wait for one that does not.
#include <omp.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "cpu/chunked_phases.hpp"

using modnorm::detail::cpu::ChunkedPhases;

BOOST_AUTO_TEST_SUITE(chunked_phases)

namespace {

// The most chunks of a phase below.
constexpr std::size_t kMost = 40;

// Chunk counts of the phases: none, one, fewer than the threads, many.
std::vector<int> chunk_counts() {
  const std::vector<int> counts = {0, 1, 2, 7, static_cast<int>(kMost)};
  std::vector<int> chunks;
  for (std::size_t p = 0; p < 60; ++p) chunks.push_back(counts[p % counts.size()]);
  return chunks;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_chunk_runs_once_and_phases_run_in_order) {
  const std::vector<int> chunks = chunk_counts();
  for (const int threads : {1, 2, 3}) {
    BOOST_TEST_CONTEXT(threads << " threads") {
      ChunkedPhases phases(static_cast<int>(chunks.size()));
      std::vector<std::atomic<int>> runs(chunks.size() * kMost);
      std::atomic<int> early{0};  // chunks that ran before the phase before theirs was done
#pragma omp parallel num_threads(threads)
      for (std::size_t p = 0; p < chunks.size(); ++p)
        phases.run(static_cast<int>(p), chunks[p], [&](int k) {
          if (p > 0)
            for (int j = 0; j < chunks[p - 1]; ++j)
              if (runs[(p - 1) * kMost + static_cast<std::size_t>(j)].load() != 1) ++early;
          ++runs[p * kMost + static_cast<std::size_t>(k)];
        });
      BOOST_TEST(early.load() == 0);
      for (std::size_t p = 0; p < chunks.size(); ++p)
        for (std::size_t k = 0; k < kMost; ++k)
          BOOST_TEST(runs[p * kMost + k].load() == (static_cast<int>(k) < chunks[p] ? 1 : 0),
                     "phase " << p << " chunk " << k);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_running_threads_finish_without_an_absent_one) {
  // Thread 2 stops before phase 5 until the other two have run every phase (at most 30 s; a
  // barrier's wait for it would keep them from getting there): they take its chunks.
  const std::vector<int> chunks = chunk_counts();
  ChunkedPhases phases(static_cast<int>(chunks.size()));
  std::atomic<int> finished{0}, total{0};
  bool others_finished_first = false;
  int team = 0;
#pragma omp parallel num_threads(3)
  {
#pragma omp single nowait
    team = omp_get_num_threads();
    const bool absent = omp_get_thread_num() == 2 && omp_get_num_threads() == 3;
    for (std::size_t p = 0; p < chunks.size(); ++p) {
      if (absent && p == 5) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (finished.load() < 2 && std::chrono::steady_clock::now() < give_up)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        others_finished_first = finished.load() == 2;
      }
      phases.run(static_cast<int>(p), chunks[p], [&](int) { ++total; });
    }
    if (!absent) ++finished;
  }
  BOOST_TEST(team == 3);  // OMP_DYNAMIC or a thread limit would give a smaller team
  BOOST_TEST(others_finished_first);
  int expected = 0;
  for (const int c : chunks) expected += c;
  BOOST_TEST(total.load() == expected);
}

BOOST_AUTO_TEST_SUITE_END()
