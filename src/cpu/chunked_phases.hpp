#pragma once
// Work of one OpenMP parallel region as a sequence of phases, each split into chunks that the
// threads claim one at a time (Newton-Schulz on a small matrix in one region,
// cpu/newton_schulz.cpp). A phase ends when its last chunk is done, not when every thread has
// arrived: on a loaded machine a thread that lost its core misses a phase and the others take its
// chunks, so the region slows to the threads that run instead of waiting for one that does not
// (a barrier after static shares waits a whole time slice). Between phases a thread spins for a
// few microseconds, then yields the core on every further check: under the passive wait policy of
// modnorm's programs (docs/benchmarks.md, "Threads between operations") the OpenMP barrier puts a
// waiting thread to sleep at once, and waking it costs tens of microseconds in a VM, as much as a
// small product.
#include <atomic>
#include <memory>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace modnorm::detail::cpu {

class ChunkedPhases {
 public:
  /// For a region of `phases` phases; every thread of the region passes through all of them in
  /// order, calling run() once per phase.
  explicit ChunkedPhases(int phases) : state_(new Phase[static_cast<std::size_t>(phases)]()) {}

  /// Calls work(k) for the chunks k in [0, chunks) of phase `phase` that this thread claims (each
  /// chunk is claimed by exactly one thread), then returns once every chunk of the phase is done;
  /// everything the chunks wrote is visible to the caller after it.
  template <class Work>
  void run(int phase, int chunks, const Work& work) {
    Phase& p = state_[static_cast<std::size_t>(phase)];
    int mine = 0;
    for (int k; (k = p.claimed.fetch_add(1, std::memory_order_relaxed)) < chunks; ++mine) work(k);
    if (mine > 0) p.done.fetch_add(mine, std::memory_order_release);
    for (int checks = 0; p.done.load(std::memory_order_acquire) < chunks; ++checks) {
      if (checks < kSpins)
        pause();
      else
        std::this_thread::yield();
    }
  }

 private:
  // About 10 us of pause instructions on a current x86-64 core.
  static constexpr int kSpins = 1 << 10;

  struct Phase {
    std::atomic<int> claimed{0};
    std::atomic<int> done{0};
  };

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

  const std::unique_ptr<Phase[]> state_;
};

}  // namespace modnorm::detail::cpu
