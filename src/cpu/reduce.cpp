// Reductions along one axis, accumulated in double. The axis splits x into [outer, n, inner];
// the loop runs k (the reduced index) outside i so both axis 0 and the last axis stream memory.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// One accumulation step; NaN wins in max so that it is never hidden.
double accumulate(Reduce op, double acc, double v) {
  switch (op) {
    case Reduce::sum:
    case Reduce::mean:
      return acc + v;
    case Reduce::l2:
      return acc + v * v;
    case Reduce::max:
      return (std::isnan(v) || v > acc) ? v : acc;
    case Reduce::max_abs:
      return (std::isnan(v) || std::abs(v) > acc) ? std::abs(v) : acc;
  }
  return acc;
}

double finish(Reduce op, double acc, std::int64_t n) {
  if (op == Reduce::mean) return acc / static_cast<double>(n);
  if (op == Reduce::l2) return std::sqrt(acc);
  return acc;
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
  const double init = (op == Reduce::max) ? -std::numeric_limits<double>::infinity() : 0.0;
  std::vector<double> acc(static_cast<std::size_t>(inner));
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.raw());
    T* dst = static_cast<T*>(out.get().raw());
    for (std::int64_t o = 0; o < outer; ++o) {
      std::fill(acc.begin(), acc.end(), init);
      for (std::int64_t k = 0; k < n; ++k) {
        const T* row = src + (o * n + k) * inner;
        for (std::int64_t i = 0; i < inner; ++i) acc[i] = accumulate(op, acc[i], row[i]);
      }
      for (std::int64_t i = 0; i < inner; ++i)
        dst[o * inner + i] = static_cast<T>(finish(op, acc[i], n));
    }
  });
  out.commit();
}

}  // namespace modnorm::detail
