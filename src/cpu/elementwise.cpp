// Elementwise maps, their vector-Jacobian products, binary ops (with NumPy broadcasting), axpy
// and the finiteness check. Large tensors are split over the OpenMP threads (cpu::in_chunks).
#include <atomic>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"
#include "cpu/gelu.hpp"

namespace modnorm::detail {
namespace {

template <class T>
T sign_of(T x) {
  return static_cast<T>((x > T(0)) - (x < T(0)));
}

template <class T>
T apply(Unary op, T x) {
  switch (op) {
    case Unary::relu:
      return x > T(0) ? x : T(0);
    case Unary::gelu:
      return static_cast<T>(cpu::gelu_value(x));
    case Unary::abs:
      return std::abs(x);
    case Unary::sign:
      return sign_of(x);
    case Unary::sqrt:
      return std::sqrt(x);  // IEEE: negative -> NaN
    case Unary::exp:
      return std::exp(x);
    case Unary::log:
      return std::log(x);  // IEEE: 0 -> -Inf, negative -> NaN
  }
  return x;
}

// d op / dx; relu'(0) = 0 and |.|'(0) = 0 (the subgradients PyTorch uses).
template <class T>
T derivative(Unary op, T x) {
  switch (op) {
    case Unary::relu:
      return x > T(0) ? T(1) : T(0);
    case Unary::gelu:
      return static_cast<T>(cpu::gelu_slope(x));
    case Unary::abs:
      return sign_of(x);
    case Unary::sign:
      return T(0);
    case Unary::sqrt:
      return T(0.5) / std::sqrt(x);
    case Unary::exp:
      return std::exp(x);
    case Unary::log:
      return T(1) / x;
  }
  return T(0);
}

// Calls fn(f) with the scalar functor of `op`: the one definition of each binary op, shared by
// the equal-shape and the broadcast loops (the switch runs once per call, not per element).
template <class Fn>
void with_binary(Binary op, Fn&& fn) {
  switch (op) {
    case Binary::add:
      return fn([](auto x, auto y) { return x + y; });
    case Binary::sub:
      return fn([](auto x, auto y) { return x - y; });
    case Binary::mul:
      return fn([](auto x, auto y) { return x * y; });
    case Binary::div:
      return fn([](auto x, auto y) { return x / y; });  // IEEE: x / 0 -> +-Inf or NaN
  }
}

// out = f(a, b) over out's elements in row-major order, a and b read through the broadcast
// strides. The innermost axis is contiguous in out; there each operand's stride is 1, or 0 when
// it is broadcast: kA and kB fix it at compile time so the row loop vectorises like the
// equal-shape one.
template <int kA, int kB, class T, class F>
void broadcast_loop(F f, const BroadcastStrides s, const T* a, const T* b, T* out) {
  const std::int64_t n = s.dims[3];
  for (std::int64_t i0 = 0; i0 < s.dims[0]; ++i0)
    for (std::int64_t i1 = 0; i1 < s.dims[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < s.dims[2]; ++i2, out += n) {
        const T* ar = a + i0 * s.a_stride[0] + i1 * s.a_stride[1] + i2 * s.a_stride[2];
        const T* br = b + i0 * s.b_stride[0] + i1 * s.b_stride[1] + i2 * s.b_stride[2];
        for (std::int64_t i = 0; i < n; ++i) out[i] = f(ar[i * kA], br[i * kB]);
      }
}

template <class T, class F>
void broadcast(F f, const BroadcastStrides& s, const T* a, const T* b, T* out) {
  const bool a_runs = s.a_stride[3] != 0, b_runs = s.b_stride[3] != 0;
  if (a_runs && b_runs)
    broadcast_loop<1, 1>(f, s, a, b, out);
  else if (a_runs)
    broadcast_loop<1, 0>(f, s, a, b, out);
  else if (b_runs)
    broadcast_loop<0, 1>(f, s, a, b, out);
  else
    broadcast_loop<0, 0>(f, s, a, b, out);
}

}  // namespace

void CpuBackend::unary(Unary op, const Tensor& x_in, Tensor& out_in) {
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw());
    T* po = static_cast<T*>(out.get().raw());
    cpu::in_chunks(
        x.numel(),
        [&](std::int64_t begin, std::int64_t end) {
          if constexpr (std::is_same_v<T, float>)
            if (op == Unary::gelu) return cpu::gelu_f32(px + begin, po + begin, end - begin);
          for (std::int64_t i = begin; i < end; ++i) po[i] = apply(op, px[i]);
        },
        cpu::kParallelCostly);
  });
  out.commit();
}

void CpuBackend::unary_backward(Unary op, const Tensor& x_in, const Tensor& dy_in, Tensor& out_in) {
  const Tensor x = widen(x_in), dy = widen(dy_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw());
    const T* pdy = static_cast<const T*>(dy.raw());
    T* po = static_cast<T*>(out.get().raw());
    cpu::in_chunks(
        x.numel(),
        [&](std::int64_t begin, std::int64_t end) {
          if constexpr (std::is_same_v<T, float>)
            if (op == Unary::gelu)
              return cpu::gelu_backward_f32(px + begin, pdy + begin, po + begin, end - begin);
          for (std::int64_t i = begin; i < end; ++i) po[i] = pdy[i] * derivative(op, px[i]);
        },
        cpu::kParallelCostly);
  });
  out.commit();
}

void CpuBackend::binary(Binary op, const Tensor& a_in, const Tensor& b_in, Tensor& out_in) {
  if (out_in.numel() == 0) return;
  const Tensor a = widen(a_in), b = widen(b_in);
  cpu::WideOut out(out_in);
  const bool same_shape = a.shape() == b.shape();
  const BroadcastStrides strides =
      same_shape ? BroadcastStrides{} : broadcast_strides(a.shape(), b.shape(), out_in.shape());
  cpu::visit_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.raw());
    const T* pb = static_cast<const T*>(b.raw());
    T* pc = static_cast<T*>(out.get().raw());
    with_binary(op, [&](auto f) {
      if (same_shape) {  // the fast path: contiguous, vectorisable loops
        cpu::in_chunks(out_in.numel(), [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) pc[i] = f(pa[i], pb[i]);
        });
      } else {
        broadcast(f, strides, pa, pb, pc);
      }
    });
  });
  out.commit();
}

void CpuBackend::axpy(double alpha, const Tensor& x_in, double beta, Tensor& y_in) {
  const Tensor x = widen(x_in);
  cpu::WideOut y(y_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::in_chunks(x.numel(), [&](std::int64_t begin, std::int64_t end) {
      auto Y = cpu::array<T>(y.get()).segment(begin, end - begin);
      const auto X = cpu::array<T>(x).segment(begin, end - begin);
      if (beta == 1.0)
        Y += static_cast<T>(alpha) * X;
      else if (beta == 0.0)  // y's old content is ignored, NaN included
        Y = static_cast<T>(alpha) * X;
      else
        Y = static_cast<T>(alpha) * X + static_cast<T>(beta) * Y;
    });
  });
  y.commit();
}

bool CpuBackend::all_finite(const std::vector<Tensor>& xs) {
  for (const Tensor& x_in : xs) {
    const Tensor x = widen(x_in);
    std::atomic<bool> all = true;  // cleared by any thread that finds a NaN or an Inf
    cpu::visit_float(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      cpu::in_chunks(x.numel(), [&](std::int64_t begin, std::int64_t end) {
        if (!cpu::array<T>(x).segment(begin, end - begin).isFinite().all())
          all.store(false, std::memory_order_relaxed);
      });
    });
    if (!all.load()) return false;
  }
  return true;
}

}  // namespace modnorm::detail
