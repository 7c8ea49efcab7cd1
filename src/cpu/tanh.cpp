// tanh and its derivative on the host (Backend::tanh, Backend::tanh_backward), evaluated in
// double for every dtype and rounded once, so that f32 matches the CUDA kernels (tanh.cu). The
// derivative is 1 / cosh(x)^2 from x: 1 - tanh(x)^2 would cancel to 0 wherever tanh(x) rounds
// to +-1.
#include <cmath>
#include <cstdint>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// out[i] = scale[i] * f(x[i]) in double, with scale = dy when given and 1 otherwise.
template <class F>
void map_in_double(const Tensor& x_in, const Tensor* dy_in, Tensor& out_in, F f) {
  const Tensor x = widen(x_in), dy = dy_in ? widen(*dy_in) : x;
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw());
    const T* pdy = dy_in ? static_cast<const T*>(dy.raw()) : nullptr;
    T* po = static_cast<T*>(out.get().raw());
    cpu::in_chunks(
        x.numel(),
        [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) {
            const double v = f(static_cast<double>(px[i]));
            po[i] = static_cast<T>(pdy ? static_cast<double>(pdy[i]) * v : v);
          }
        },
        cpu::kParallelCostly);  // tanh and cosh in double
  });
  out.commit();
}

// sech(x)^2, squared after the division so that it underflows to 0 rather than to NaN.
double sech_squared(double x) {
  const double s = 1.0 / std::cosh(x);
  return s * s;
}

}  // namespace

void CpuBackend::tanh(const Tensor& x, Tensor& out) {
  map_in_double(x, nullptr, out, [](double v) { return std::tanh(v); });
}

void CpuBackend::tanh_backward(const Tensor& x, const Tensor& dy, Tensor& out) {
  map_in_double(x, &dy, out, sech_squared);
}

}  // namespace modnorm::detail
