#pragma once
// Wall-clock timing shared by the benchmarks (bench/orthogonalize.cpp, bench/peers/ours.cpp).

#include <algorithm>
#include <chrono>
#include <vector>

namespace modnorm::bench {

struct Timing {
  double median_s;              // median of the timed calls
  double min_s;                 // fastest timed call
  std::vector<double> times_s;  // every timed call, in order
};

// `warmup` untimed calls (page faults, OpenMP threads, allocator), then `repeats` timed ones.
template <class Fn>
Timing time_calls(Fn&& fn, int warmup, int repeats) {
  for (int w = 0; w < warmup; ++w) fn();
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return {median, sorted.front(), times};
}

}  // namespace modnorm::bench
