// Elementwise maps, their vector-Jacobian products, binary ops, axpy and the finiteness check.
#include <cmath>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

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
      return static_cast<T>(0.5 * x * std::erfc(-x * kInvSqrt2));
    case Unary::abs:
      return std::abs(x);
    case Unary::sign:
      return sign_of(x);
  }
  return x;
}

// d op / dx; relu'(0) = 0 and |.|'(0) = 0 (the subgradients PyTorch uses).
template <class T>
T derivative(Unary op, T x) {
  switch (op) {
    case Unary::relu:
      return x > T(0) ? T(1) : T(0);
    case Unary::gelu: {
      const double cdf = 0.5 * std::erfc(-x * kInvSqrt2);  // no cancellation for x < 0
      const double pdf = kInvSqrt2Pi * std::exp(-0.5 * double(x) * double(x));
      return static_cast<T>(cdf + x * pdf);
    }
    case Unary::abs:
      return sign_of(x);
    case Unary::sign:
      return T(0);
  }
  return T(0);
}

}  // namespace

void CpuBackend::unary(Unary op, const Tensor& x_in, Tensor& out_in) {
  const Tensor x = cpu::widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::array<T>(out.get()) = cpu::array<T>(x).unaryExpr([op](T v) { return apply(op, v); });
  });
  out.commit();
}

void CpuBackend::unary_backward(Unary op, const Tensor& x_in, const Tensor& dy_in, Tensor& out_in) {
  const Tensor x = cpu::widen(x_in), dy = cpu::widen(dy_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::array<T>(out.get()) =
        cpu::array<T>(dy) * cpu::array<T>(x).unaryExpr([op](T v) { return derivative(op, v); });
  });
  out.commit();
}

void CpuBackend::binary(Binary op, const Tensor& a_in, const Tensor& b_in, Tensor& out_in) {
  const Tensor a = cpu::widen(a_in), b = cpu::widen(b_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto A = cpu::array<T>(a);
    auto B = cpu::array<T>(b);
    auto C = cpu::array<T>(out.get());
    switch (op) {
      case Binary::add:
        C = A + B;
        break;
      case Binary::sub:
        C = A - B;
        break;
      case Binary::mul:
        C = A * B;
        break;
    }
  });
  out.commit();
}

void CpuBackend::axpy(double alpha, const Tensor& x_in, double beta, Tensor& y_in) {
  const Tensor x = cpu::widen(x_in);
  cpu::WideOut y(y_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto Y = cpu::array<T>(y.get());
    if (beta == 1.0)
      Y += static_cast<T>(alpha) * cpu::array<T>(x);
    else if (beta == 0.0)  // y's old content is ignored, NaN included
      Y = static_cast<T>(alpha) * cpu::array<T>(x);
    else
      Y = static_cast<T>(alpha) * cpu::array<T>(x) + static_cast<T>(beta) * Y;
  });
  y.commit();
}

bool CpuBackend::all_finite(const Tensor& x_in) {
  const Tensor x = cpu::widen(x_in);
  bool finite = true;
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    finite = cpu::array<T>(x).isFinite().all();
  });
  return finite;
}

}  // namespace modnorm::detail
