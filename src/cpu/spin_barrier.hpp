#pragma once
// A barrier for the threads of one OpenMP parallel region whose shares of the work are equal, so
// that they arrive within microseconds of each other (Newton-Schulz on a small matrix in one
// region, cpu/newton_schulz.cpp). Under the passive wait policy of modnorm's programs
// (docs/benchmarks.md, "Threads between operations") the OpenMP barrier puts a waiting thread to
// sleep at once, and waking it costs tens of microseconds in a VM, as much as a small product.
// This one spins for a few microseconds, then yields the core on every further check, so a
// partner that was descheduled (a loaded machine) costs the waiter nothing but its time slice.
#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace modnorm::detail::cpu {

class SpinBarrier {
 public:
  /// For `threads` threads, each calling wait() once per phase.
  explicit SpinBarrier(int threads) : threads_(threads) {}

  /// Returns once every thread has called wait() in this phase; everything the threads wrote
  /// before their call is visible to all of them after it.
  void wait() {
    const int generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int checks = 0; generation_.load(std::memory_order_acquire) == generation; ++checks) {
      if (checks < kSpins)
        pause();
      else
        std::this_thread::yield();
    }
  }

 private:
  // About 10 us of pause instructions on a current x86-64 core.
  static constexpr int kSpins = 1 << 10;

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }

  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<int> generation_{0};
};

}  // namespace modnorm::detail::cpu
