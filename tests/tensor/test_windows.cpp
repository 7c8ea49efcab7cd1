// im2col and col2im (the windows of NHWC images) against explicit float64 loops, on odd sizes,
// strides, paddings (windows reaching wholly into the padding included), 1x1 windows and one
// channel; col2im as the adjoint of im2col; every dtype; the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using namespace modnorm;
namespace mt = modnorm::test;

namespace {

struct Case {
  std::int64_t n, h, w, c;
  Window2D window;
};

// Odd sizes, stride 2 and 3, padding 0, 1 and 2 (2 > kernel / 2: whole windows of zeros),
// stride larger than the kernel, 1x1 windows, one channel, and a window as large as the image.
const Case kCases[] = {
    {2, 5, 7, 3, {3, 1, 1}}, {1, 6, 5, 2, {3, 2, 0}}, {2, 7, 7, 1, {5, 2, 2}},
    {3, 4, 4, 4, {1, 1, 0}}, {1, 3, 3, 2, {3, 1, 2}}, {1, 5, 6, 1, {2, 3, 1}},
    {2, 4, 3, 2, {1, 2, 1}}, {1, 3, 5, 1, {3, 1, 0}},
};

std::int64_t out_size(std::int64_t size, const Window2D& w) {
  return (size + 2 * w.padding - w.kernel) / w.stride + 1;
}

// The definition: cols[n, i, j, (a k + b) c + ch] = x[n, i s - p + a, j s - p + b, ch] or 0.
std::vector<double> im2col_loops(const std::vector<double>& x, const Case& t) {
  const Window2D& w = t.window;
  const std::int64_t ho = out_size(t.h, w), wo = out_size(t.w, w), k = w.kernel;
  std::vector<double> out;
  for (std::int64_t n = 0; n < t.n; ++n)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j)
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = 0; b < k; ++b)
            for (std::int64_t ch = 0; ch < t.c; ++ch) {
              const std::int64_t y = i * w.stride - w.padding + a;
              const std::int64_t z = j * w.stride - w.padding + b;
              const bool inside = y >= 0 && y < t.h && z >= 0 && z < t.w;
              out.push_back(
                  inside ? x[static_cast<std::size_t>(((n * t.h + y) * t.w + z) * t.c + ch)] : 0.0);
            }
  return out;
}

// The adjoint by scattering: every window entry added to the pixel it came from.
std::vector<double> col2im_loops(const std::vector<double>& cols, const Case& t) {
  const Window2D& w = t.window;
  const std::int64_t ho = out_size(t.h, w), wo = out_size(t.w, w), k = w.kernel;
  std::vector<double> x(static_cast<std::size_t>(t.n * t.h * t.w * t.c), 0.0);
  std::size_t at = 0;
  for (std::int64_t n = 0; n < t.n; ++n)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j)
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = 0; b < k; ++b)
            for (std::int64_t ch = 0; ch < t.c; ++ch, ++at) {
              const std::int64_t y = i * w.stride - w.padding + a;
              const std::int64_t z = j * w.stride - w.padding + b;
              if (y >= 0 && y < t.h && z >= 0 && z < t.w)
                x[static_cast<std::size_t>(((n * t.h + y) * t.w + z) * t.c + ch)] += cols[at];
            }
  return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(windows)

BOOST_AUTO_TEST_CASE(im2col_copies_each_window_exactly_in_every_dtype) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Case& t : kCases) {
    BOOST_TEST_INFO_SCOPE("[" << t.n << "x" << t.h << "x" << t.w << "x" << t.c << "], window "
                              << t.window.kernel << " stride " << t.window.stride << " padding "
                              << t.window.padding);
    for (const DType dtype : {DType::f64, DType::f32, DType::bf16}) {
      // Values representable in every dtype, so that the copy must be exact.
      const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c}, gen, DType::bf16).to(dtype);
      const Tensor cols = im2col(x, t.window);
      BOOST_TEST(cols.dtype() == dtype);
      BOOST_TEST((cols.shape() == Shape{t.n, out_size(t.h, t.window), out_size(t.w, t.window),
                                        t.window.kernel * t.window.kernel * t.c}));
      BOOST_TEST(cols.to_vector_f64() == im2col_loops(x.to_vector_f64(), t));
    }
  }
}

BOOST_AUTO_TEST_CASE(col2im_sums_what_im2col_took_and_is_its_adjoint) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Case& t : kCases) {
    BOOST_TEST_INFO_SCOPE("[" << t.n << "x" << t.h << "x" << t.w << "x" << t.c << "], window "
                              << t.window.kernel << " stride " << t.window.stride << " padding "
                              << t.window.padding);
    const Shape image{t.n, t.h, t.w, t.c};
    const Tensor x = Tensor::randn(image, gen, DType::f64);
    const Tensor c = Tensor::randn(im2col(x, t.window).shape(), gen, DType::f64);
    const Tensor back = col2im(c, image, t.window);
    BOOST_TEST(back.shape() == image);
    const std::vector<double> expected = col2im_loops(c.to_vector_f64(), t);
    BOOST_TEST(mt::max_abs_diff(back.to_vector_f64(), expected) <= 1e-13);
    // <im2col(x), c> = <x, col2im(c)>
    const double lhs = dot(im2col(x, t.window), c), rhs = dot(x, back);
    BOOST_TEST(std::abs(lhs - rhs) <= 1e-12 * (1 + std::abs(lhs)));
    // f32 and bf16 accumulate in f32 and round once.
    for (const DType dtype : {DType::f32, DType::bf16}) {
      const Tensor low = col2im(c.to(dtype), image, t.window);
      BOOST_TEST(low.dtype() == dtype);
      const double tol = dtype == DType::f32 ? 1e-5 : 1e-2;
      BOOST_TEST(mt::rel_error(low.to_vector_f64(), col2im_loops(c.to(dtype).to_vector_f64(), t)) <=
                 tol);
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_batches_give_empty_results) {
  const Tensor x = Tensor::zeros({0, 4, 4, 2});
  BOOST_TEST((im2col(x, {3, 1, 1}).shape() == Shape{0, 4, 4, 18}));
  BOOST_TEST(
      (col2im(Tensor::zeros({0, 4, 4, 18}), {0, 4, 4, 2}, {3, 1, 1}).shape() == Shape{0, 4, 4, 2}));
}

BOOST_AUTO_TEST_CASE(bad_windows_and_shapes_are_refused_by_name) {
  const Tensor x = Tensor::zeros({2, 3, 4, 1});
  mt::expect_error(
      [&] {
        im2col(Tensor::zeros({3, 4, 1}), {1, 1, 0});
      },
      {"[im2col]", "rank 4", "[3x4x1] f32 cpu"});
  mt::expect_error(
      [&] {
        im2col(x, {5, 1, 0});
      },
      {"[im2col]", "window 5 (stride 1, padding 0)", "3x4 image", "[2x3x4x1]"});
  mt::expect_error([&] { im2col(x, {0, 1, 0}); }, {"[im2col]", "kernel and stride"});
  mt::expect_error([&] { im2col(x, {3, 0, 1}); }, {"[im2col]", "stride 0"});
  mt::expect_error([&] { im2col(x, {3, 1, -1}); }, {"[im2col]", "padding -1"});
  mt::expect_error([&] { im2col(x, {3, 1, std::int64_t{1} << 40}); }, {"[im2col]", "2^20"});
  mt::expect_error([&] { im2col(x.to(DType::i32), {1, 1, 0}); }, {"[im2col]", "floating-point"});
  mt::expect_error(
      [&] {
        col2im(Tensor::zeros({2, 3, 4, 8}), {2, 3, 4, 1}, {3, 1, 1});
      },
      {"[col2im]", "[2x3x4x8]", "[2x3x4x1]", "[2x3x4x9]"});
  mt::expect_error(
      [&] {
        col2im(Tensor::zeros({2, 3, 4, 9}), {2, 3, 4}, {3, 1, 1});
      },
      {"[col2im]", "rank 4", "[2x3x4]"});
}

BOOST_AUTO_TEST_SUITE_END()
