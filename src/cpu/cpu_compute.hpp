#pragma once
// Helpers shared by the CPU kernels: Eigen maps over tensor storage, and the bf16 policy
// (docs/architecture.md): bf16 tensors are widened to f32 (detail::widen), computed, and narrowed
// back (nearest-even).

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>

#include "backend.hpp"

namespace modnorm::detail::cpu {

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>, Eigen::Unaligned>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>, Eigen::Unaligned>;
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Unaligned>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Unaligned>;

/// A rank-2 tensor as an Eigen row-major matrix (no copy).
template <class T>
MatrixMap<T> matrix(Tensor& t) {
  return MatrixMap<T>(static_cast<T*>(t.raw()), t.dim(0), t.dim(1));
}
template <class T>
ConstMatrixMap<T> matrix(const Tensor& t) {
  return ConstMatrixMap<T>(static_cast<const T*>(t.raw()), t.dim(0), t.dim(1));
}
/// Any tensor as a flat Eigen array (no copy).
template <class T>
ArrayMap<T> array(Tensor& t) {
  return ArrayMap<T>(static_cast<T*>(t.raw()), t.numel());
}
template <class T>
ConstArrayMap<T> array(const Tensor& t) {
  return ConstArrayMap<T>(static_cast<const T*>(t.raw()), t.numel());
}

/// An f32/f64 working view of an output tensor (with its current content); commit() narrows
/// it back into a bf16 target and is a no-op otherwise.
class WideOut {
 public:
  explicit WideOut(Tensor& target) : target_(target), work_(widen(target)) {}
  Tensor& get() { return work_; }
  void commit() {
    if (target_.dtype() == DType::bf16) cpu_backend().convert(work_, target_);
  }

 private:
  Tensor& target_;
  Tensor work_;
};

/// Elements from which a memory-bound pass (fill, axpy, a binary op, the finiteness check, a
/// mirror) is split over the threads: about 4 MB of f32. Below it one thread finishes sooner than
/// a sleeping worker wakes (tens of microseconds in a VM) and the pass stays in cache; a parallel
/// region per small op is also what leaves workers spinning between operations
/// (docs/benchmarks.md, "Threads between operations").
constexpr std::int64_t kParallelCheap = std::int64_t{1} << 20;
/// The same for costly per-element work (GELU's erfc, exp, log, softmax rows).
constexpr std::int64_t kParallelCostly = std::int64_t{1} << 15;

/// Calls fn(begin, end) over consecutive ranges covering [0, n): in parallel (OpenMP) when n is
/// at least `parallel_from` (kParallelCheap or kParallelCostly). For work whose every element's
/// result is the same whichever thread computes it (elementwise maps, fills).
/// Example: in_chunks(n, [&](std::int64_t b, std::int64_t e) { std::fill(p + b, p + e, v); });
template <class Fn>
void in_chunks(std::int64_t n, Fn&& fn, std::int64_t parallel_from = kParallelCheap) {
  constexpr std::int64_t kChunk = std::int64_t{1} << 14;
#pragma omp parallel for schedule(static) if (n >= parallel_from)
  for (std::int64_t begin = 0; begin < n; begin += kChunk) fn(begin, std::min(n, begin + kChunk));
}

/// Calls fn(T{}) with T = double for f64 and float otherwise (widened dtypes only).
template <class Fn>
void visit_float(DType dtype, Fn&& fn) {
  if (dtype == DType::f64)
    fn(double{});
  else
    fn(float{});
}

}  // namespace modnorm::detail::cpu
