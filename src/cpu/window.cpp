// The windows of NHWC images: im2col (a gather of element bits) and its adjoint col2im (a gather
// of sums: each pixel adds up the window entries that came from it, so no two threads write one
// place and no atomics are needed). Both run in parallel over rows (im2col: output windows;
// col2im: input pixels).
#include <algorithm>
#include <cstdint>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// T is an unsigned integer of the element's size: bits move unchanged, and the all-zero
// pattern is +0 in every float dtype. Per window row a, the taps b that fall inside the image
// are consecutive pixels, one contiguous copy of their channels.
template <class T>
void im2col_as(const Tensor& x, const WindowGeometry& g, Tensor& out) {
  const T* src = static_cast<const T*>(x.raw());
  T* dst = static_cast<T*>(out.raw());
  const std::int64_t windows = g.n * g.ho * g.wo, span = g.kernel * g.c;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < windows; ++r) {
    const std::int64_t n = r / (g.ho * g.wo), i = (r / g.wo) % g.ho, j = r % g.wo;
    const std::int64_t left = j * g.stride - g.padding;  // image column of tap b = 0
    // Taps [b0, b1) are inside the image horizontally.
    const std::int64_t b0 = std::clamp<std::int64_t>(-left, 0, g.kernel);
    const std::int64_t b1 = std::clamp<std::int64_t>(g.w - left, b0, g.kernel);
    for (std::int64_t a = 0; a < g.kernel; ++a) {
      T* cell = dst + r * g.kernel * span + a * span;
      const std::int64_t y = i * g.stride - g.padding + a;
      if (y < 0 || y >= g.h) {
        std::fill(cell, cell + span, T{0});
        continue;
      }
      std::fill(cell, cell + b0 * g.c, T{0});
      if (b1 > b0)
        std::copy_n(src + ((n * g.h + y) * g.w + left + b0) * g.c, (b1 - b0) * g.c,
                    cell + b0 * g.c);
      std::fill(cell + b1 * g.c, cell + span, T{0});
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
