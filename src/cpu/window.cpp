// The windows of NHWC images: im2col (a gather of element bits) and its adjoint col2im (a gather
// of sums: each pixel adds up the window entries that came from it, so no two threads write one
// place and no atomics are needed). Both run in parallel over rows (im2col: output windows;
// col2im: input pixels).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// T is an unsigned integer of the element's size: bits move unchanged, and the all-zero
// pattern is +0 in every float dtype.
template <class T>
void im2col_as(const Tensor& x, const WindowGeometry& g, Tensor& out) {
  const T* src = static_cast<const T*>(x.raw());
  T* dst = static_cast<T*>(out.raw());
  const std::int64_t windows = g.n * g.ho * g.wo, row = g.kernel * g.kernel * g.c;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < windows; ++r) {
    const std::int64_t n = r / (g.ho * g.wo), i = (r / g.wo) % g.ho, j = r % g.wo;
    T* cell = dst + r * row;
    for (std::int64_t a = 0; a < g.kernel; ++a) {
      const std::int64_t y = i * g.stride - g.padding + a;
      for (std::int64_t b = 0; b < g.kernel; ++b, cell += g.c) {
        const std::int64_t x_col = j * g.stride - g.padding + b;
        if (y < 0 || y >= g.h || x_col < 0 || x_col >= g.w)
          std::fill(cell, cell + g.c, T{0});
        else
          std::memcpy(cell, src + ((n * g.h + y) * g.w + x_col) * g.c,
                      static_cast<std::size_t>(g.c) * sizeof(T));
      }
    }
  }
}

// Window index i covers pixel row y through tap a = y + padding - i * stride; the windows that
// reach y are those with a in [0, kernel) and i in [0, ho), i.e. i in [first, last].
struct Taps {
  std::int64_t first, last;
};
Taps windows_over(std::int64_t y, std::int64_t kernel, std::int64_t stride, std::int64_t padding,
                  std::int64_t count) {
  const std::int64_t top = y + padding;  // a = top - i * stride
  const std::int64_t first = top < kernel ? 0 : (top - kernel) / stride + 1;
  const std::int64_t last = std::min(top / stride, count - 1);
  return {first, last};
}

}  // namespace

void CpuBackend::im2col(const Tensor& x, const WindowGeometry& g, Tensor& out) {
  if (out.numel() == 0) return;
  visit_bits(x.dtype(), [&](auto tag) { im2col_as<decltype(tag)>(x, g, out); });
}

void CpuBackend::col2im(const Tensor& cols_in, const WindowGeometry& g, Tensor& out_in) {
  if (out_in.numel() == 0) return;
  const Tensor cols = widen(cols_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(cols.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(cols.raw());
    T* dst = static_cast<T*>(out.get().raw());
    const std::int64_t pixels = g.n * g.h * g.w, row = g.kernel * g.kernel * g.c;
#pragma omp parallel for schedule(static)
    for (std::int64_t q = 0; q < pixels; ++q) {
      const std::int64_t n = q / (g.h * g.w), y = (q / g.w) % g.h, x = q % g.w;
      T* pixel = dst + q * g.c;
      std::fill(pixel, pixel + g.c, T{0});
      const Taps rows = windows_over(y, g.kernel, g.stride, g.padding, g.ho);
      const Taps cols_of = windows_over(x, g.kernel, g.stride, g.padding, g.wo);
      for (std::int64_t i = rows.first; i <= rows.last; ++i)
        for (std::int64_t j = cols_of.first; j <= cols_of.last; ++j) {
          const std::int64_t a = y + g.padding - i * g.stride, b = x + g.padding - j * g.stride;
          const T* entry = src + ((n * g.ho + i) * g.wo + j) * row + (a * g.kernel + b) * g.c;
          for (std::int64_t c = 0; c < g.c; ++c) pixel[c] += entry[c];
        }
    }
  });
  out.commit();
}

}  // namespace modnorm::detail
