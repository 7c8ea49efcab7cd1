// Reductions along one axis, accumulated in double. The axis splits x into [outer, n, inner];
// the loop runs k (the reduced index) outside i so both axis 0 and the last axis stream memory,
// and a reduction along the last axis (inner == 1) keeps 8 partial accumulations.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// One accumulation step; NaN wins in max so that it is never hidden.
template <Reduce kOp>
double accumulate(double acc, double v) {
  if constexpr (kOp == Reduce::sum || kOp == Reduce::mean) return acc + v;
  if constexpr (kOp == Reduce::l2) return acc + v * v;
  if constexpr (kOp == Reduce::max) return (std::isnan(v) || v > acc) ? v : acc;
  if constexpr (kOp == Reduce::max_abs)
    return (std::isnan(v) || std::abs(v) > acc) ? std::abs(v) : acc;
  return acc;
}

template <Reduce kOp>
double finish(double acc, std::int64_t n) {
  if constexpr (kOp == Reduce::mean) return acc / static_cast<double>(n);
  if constexpr (kOp == Reduce::l2) return std::sqrt(acc);
  return acc;
}

// The identity of an accumulation (-Inf for max: a row of -Inf has max -Inf).
template <Reduce kOp>
constexpr double identity() {
  return kOp == Reduce::max ? -std::numeric_limits<double>::infinity() : 0.0;
}

// Two partial accumulations into one: sums add, maxima take the larger (NaN wins).
template <Reduce kOp>
double merge(double a, double b) {
  if constexpr (kOp == Reduce::max || kOp == Reduce::max_abs) return accumulate<Reduce::max>(a, b);
  return a + b;
}

// A contiguous run of n values (inner == 1: a row of a matrix): 8 independent partial
// accumulations instead of one chain of dependent steps, so the loop vectorises (the order of
// the steps is fixed: results are reproducible).
template <Reduce kOp, class T>
double run(const T* row, std::int64_t n) {
  constexpr int kLanes = 8;
  double lane[kLanes];
  std::fill(lane, lane + kLanes, identity<kOp>());
  std::int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int u = 0; u < kLanes; ++u)
      lane[u] = accumulate<kOp>(lane[u], static_cast<double>(row[k + u]));
  double acc = identity<kOp>();
  for (; k < n; ++k) acc = accumulate<kOp>(acc, static_cast<double>(row[k]));
  for (int u = 0; u < kLanes; ++u) acc = merge<kOp>(acc, lane[u]);
  return acc;
}

// The op is a template argument, so the loop over `inner` has no branch on it and vectorises.
template <Reduce kOp, class T>
void reduce_as(const T* src, T* dst, std::int64_t outer, std::int64_t n, std::int64_t inner) {
  if (inner == 1) {
    for (std::int64_t o = 0; o < outer; ++o)
      dst[o] = static_cast<T>(finish<kOp>(run<kOp>(src + o * n, n), n));
    return;
  }
  std::vector<double> acc(static_cast<std::size_t>(inner));
  for (std::int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), identity<kOp>());
    for (std::int64_t k = 0; k < n; ++k) {
      const T* row = src + (o * n + k) * inner;
      for (std::int64_t i = 0; i < inner; ++i)
        acc[static_cast<std::size_t>(i)] =
            accumulate<kOp>(acc[static_cast<std::size_t>(i)], static_cast<double>(row[i]));
    }
    for (std::int64_t i = 0; i < inner; ++i)
      dst[o * inner + i] = static_cast<T>(finish<kOp>(acc[static_cast<std::size_t>(i)], n));
  }
}

}  // namespace

void CpuBackend::reduce(Reduce op, const Tensor& x_in, int axis, Tensor& out_in) {
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  const Shape& shape = x.shape();
  const std::int64_t outer = checked_numel(Shape(shape.begin(), shape.begin() + axis), "reduce");
  const std::int64_t inner = checked_numel(Shape(shape.begin() + axis + 1, shape.end()), "reduce");
  const std::int64_t n = x.dim(axis);
  if (outer == 0 || inner == 0) return;  // an empty result: nothing to reduce or write
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.raw());
    T* dst = static_cast<T*>(out.get().raw());
    switch (op) {
      case Reduce::sum:
        return reduce_as<Reduce::sum>(src, dst, outer, n, inner);
      case Reduce::mean:
        return reduce_as<Reduce::mean>(src, dst, outer, n, inner);
      case Reduce::max:
        return reduce_as<Reduce::max>(src, dst, outer, n, inner);
      case Reduce::l2:
        return reduce_as<Reduce::l2>(src, dst, outer, n, inner);
      case Reduce::max_abs:
        return reduce_as<Reduce::max_abs>(src, dst, outer, n, inner);
    }
  });
  out.commit();
}

}  // namespace modnorm::detail
