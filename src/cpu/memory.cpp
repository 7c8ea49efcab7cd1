// Host memory, copies, fill and dtype conversion (and the check that float -> i32 is exact).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

constexpr std::size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like

template <class Out>
Out from_double(double v);
template <>
float from_double<float>(double v) {
  return static_cast<float>(v);
}
template <>
double from_double<double>(double v) {
  return v;
}
template <>
std::uint16_t from_double<std::uint16_t>(double v) {
  return double_to_bf16(v);
}
template <>
std::int32_t from_double<std::int32_t>(double v) {
  return static_cast<std::int32_t>(v);  // an integer in range: Tensor::to checked it
}

template <class In>
double to_double(In v) {
  return static_cast<double>(v);
}
template <>
double to_double<std::uint16_t>(std::uint16_t v) {
  return bf16_to_float(v);
}

template <class T>
void fill_as(Tensor& out, double value) {
  const T v = from_double<T>(value);
  T* p = static_cast<T*>(out.raw());
  cpu::in_chunks(out.numel(),
                 [&](std::int64_t begin, std::int64_t end) { std::fill(p + begin, p + end, v); });
}

template <class In, class Out>
void convert_as(const Tensor& in, Tensor& out) {
  const In* src = static_cast<const In*>(in.raw());
  Out* dst = static_cast<Out*>(out.raw());
  const std::int64_t n = in.numel();
  for (std::int64_t i = 0; i < n; ++i) dst[i] = from_double<Out>(to_double(src[i]));
}

// Dispatches fn<T>() over the four storage types.
template <template <class> class F, class... Args>
void visit_storage(DType dtype, Args&&... args) {
  switch (dtype) {
    case DType::f32:
      return F<float>::run(std::forward<Args>(args)...);
    case DType::f64:
      return F<double>::run(std::forward<Args>(args)...);
    case DType::bf16:
      return F<std::uint16_t>::run(std::forward<Args>(args)...);
    case DType::i32:
      return F<std::int32_t>::run(std::forward<Args>(args)...);
  }
}

template <class Out>
struct ConvertTo {
  template <class In>
  struct From {
    static void run(const Tensor& in, Tensor& out) { convert_as<In, Out>(in, out); }
  };
};

template <class T>
struct Fill {
  static void run(Tensor& out, double value) { fill_as<T>(out, value); }
};

}  // namespace

void* CpuBackend::allocate(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const std::size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr)
    throw Error("[allocate] out of host memory allocating " + std::to_string(nbytes) + " bytes");
  return p;
}

void CpuBackend::deallocate(void* ptr) noexcept {
  std::free(ptr);
}

void CpuBackend::copy_from_host(const void* host, void* dst, std::size_t nbytes) {
  if (nbytes) std::memcpy(dst, host, nbytes);
}

void CpuBackend::copy_to_host(const void* src, void* host, std::size_t nbytes) {
  if (nbytes) std::memcpy(host, src, nbytes);
}

void CpuBackend::copy(const void* src, void* dst, std::size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void CpuBackend::fill(Tensor& out, double value) {
  visit_storage<Fill>(out.dtype(), out, value);
}

void CpuBackend::convert(const Tensor& in, Tensor& out) {
  switch (out.dtype()) {
    case DType::f32:
      return visit_storage<ConvertTo<float>::From>(in.dtype(), in, out);
    case DType::f64:
      return visit_storage<ConvertTo<double>::From>(in.dtype(), in, out);
    case DType::bf16:
      return visit_storage<ConvertTo<std::uint16_t>::From>(in.dtype(), in, out);
    case DType::i32:
      return visit_storage<ConvertTo<std::int32_t>::From>(in.dtype(), in, out);
  }
}

std::int64_t CpuBackend::first_non_i32(const Tensor& x_in) {
  const Tensor x = widen(x_in);
  std::int64_t first = -1;
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(x.raw());
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n && first < 0; ++i) {
      const double v = p[i];  // NaN fails every comparison
      if (!(v >= -2147483648.0 && v <= 2147483647.0 && std::trunc(v) == v)) first = i;
    }
  });
  return first;
}

}  // namespace modnorm::detail
