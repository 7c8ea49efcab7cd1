// The conv2d op and its two backward products (ops.hpp) against a direct float64 convolution,
// in both weight layouts and every dtype (f32 on oneDNN where built, f64 and bf16 on im2col and
// GEMM), on hard shapes: odd sizes, stride larger than the kernel or not dividing the image,
// padding larger than half the kernel (windows wholly in the padding), 1x1 kernels, a kernel
// as large as the image; the weight gradient accumulates; empty batches; the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using namespace modnorm;
namespace mt = modnorm::test;

namespace {

struct Case {
  std::int64_t n, h, w, c_in, c_out;
  Window2D window;
};

const Case kCases[] = {
    {2, 5, 7, 3, 4, {3, 1, 1}},  // same padding
    {1, 6, 5, 2, 3, {3, 2, 0}},  // stride 2 that does not divide the width
    {2, 7, 7, 1, 2, {5, 2, 2}},  // 5x5, stride 2
    {3, 4, 4, 4, 5, {1, 1, 0}},  // 1x1: a Linear on the channels
    {1, 3, 3, 2, 2, {3, 1, 2}},  // padding 2 > kernel / 2: windows wholly in the padding
    {1, 5, 6, 1, 3, {2, 3, 1}},  // stride larger than the kernel, even kernel
    {2, 4, 3, 2, 1, {1, 2, 1}},  // 1x1 with padding: a border of zeros
    {2, 4, 4, 3, 2, {4, 1, 0}},  // kernel = image: one output pixel
    {1, 3, 3, 2, 3, {5, 1, 1}},  // kernel = padded image
};

std::int64_t out_size(std::int64_t size, const Window2D& w) {
  return (size + 2 * w.padding - w.kernel) / w.stride + 1;
}

Shape output_of(const Case& t) {
  return {t.n, out_size(t.h, t.window), out_size(t.w, t.window), t.c_out};
}

// The entry of tap (a, b), output channel o, input channel c in either layout (rank 3: per tap
// [k*k, c_out, c_in]; rank 2: [c_out, k*k*c_in]).
std::size_t weight_index(int rank, const Case& t, std::int64_t a, std::int64_t b, std::int64_t o,
                         std::int64_t c) {
  const std::int64_t k = t.window.kernel, tap = a * k + b;
  return static_cast<std::size_t>(rank == 3 ? (tap * t.c_out + o) * t.c_in + c
                                            : o * k * k * t.c_in + tap * t.c_in + c);
}

// The definition in float64, and its two adjoints by the same loops:
//   y[n, i, j, o] = alpha sum_{a, b, c} W_ab[o, c] x[n, i s - p + a, j s - p + b, c],
//   dx[n, r, q, c] = alpha sum dy[n, i, j, o] W_ab[o, c] over the (i, j, a, b) that read (r, q),
//   dw_ab[o, c] = alpha sum dy[n, i, j, o] x[n, i s - p + a, j s - p + b, c].
struct Direct {
  std::vector<double> y, dx, dw;
};
Direct direct(const std::vector<double>& x, const std::vector<double>& w,
              const std::vector<double>& dy, int rank, const Case& t, double alpha) {
  const Window2D& win = t.window;
  const std::int64_t ho = out_size(t.h, win), wo = out_size(t.w, win), k = win.kernel;
  Direct d{std::vector<double>(static_cast<std::size_t>(t.n * ho * wo * t.c_out), 0.0),
           std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0)};
  for (std::int64_t n = 0; n < t.n; ++n)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j)
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = 0; b < k; ++b) {
            const std::int64_t r = i * win.stride - win.padding + a;
            const std::int64_t q = j * win.stride - win.padding + b;
            if (r < 0 || r >= t.h || q < 0 || q >= t.w) continue;
            for (std::int64_t o = 0; o < t.c_out; ++o) {
              const auto at_y = static_cast<std::size_t>(((n * ho + i) * wo + j) * t.c_out + o);
              for (std::int64_t c = 0; c < t.c_in; ++c) {
                const auto at_x = static_cast<std::size_t>(((n * t.h + r) * t.w + q) * t.c_in + c);
                const std::size_t at_w = weight_index(rank, t, a, b, o, c);
                d.y[at_y] += alpha * w[at_w] * x[at_x];
                d.dx[at_x] += alpha * dy[at_y] * w[at_w];
                d.dw[at_w] += alpha * dy[at_y] * x[at_x];
              }
            }
          }
  return d;
}

Shape weight_shape(int rank, const Case& t) {
  const std::int64_t taps = t.window.kernel * t.window.kernel;
  return rank == 3 ? Shape{taps, t.c_out, t.c_in} : Shape{t.c_out, taps * t.c_in};
}

std::vector<double> plus(std::vector<double> a, const std::vector<double>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv2d_op)

BOOST_AUTO_TEST_CASE(forward_and_backwards_match_a_direct_float64_convolution) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Case& t : kCases)
    for (const int rank : {3, 2})
      for (const DType dtype : {DType::f64, DType::f32, DType::bf16}) {
        BOOST_TEST_INFO_SCOPE("[" << t.n << "x" << t.h << "x" << t.w << "x" << t.c_in << "] -> "
                                  << t.c_out << ", window " << t.window.kernel << " stride "
                                  << t.window.stride << " padding " << t.window.padding
                                  << ", weight of rank " << rank << ", " << to_string(dtype));
        // Inputs rounded to the dtype first, so that the reference sees what the op sees.
        const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen).to(dtype);
        const Tensor w = Tensor::randn(weight_shape(rank, t), gen).to(dtype);
        const Tensor dy = Tensor::randn(output_of(t), gen).to(dtype);
        const Tensor dw0 = Tensor::randn(w.shape(), gen).to(dtype);
        const double alpha = 1.0 / 3.0;
        const Direct ref =
            direct(x.to_vector_f64(), w.to_vector_f64(), dy.to_vector_f64(), rank, t, alpha);
        const double tol = dtype == DType::f64 ? 1e-12 : dtype == DType::f32 ? 1e-5 : 2e-2;

        const Tensor y = conv2d(x, w, t.window, alpha);
        BOOST_TEST(y.dtype() == dtype);
        BOOST_TEST(y.shape() == output_of(t));
        BOOST_TEST(mt::rel_error(y.to_vector_f64(), ref.y) <= tol);

        const Tensor dx = conv2d_backward_data(dy, w, x.shape(), t.window, alpha);
        BOOST_TEST(dx.shape() == x.shape());
        BOOST_TEST(mt::rel_error(dx.to_vector_f64(), ref.dx) <= tol);

        Tensor dw = Tensor::empty(w.shape(), dtype);
        axpy(1.0, dw0, dw, 0.0);
        conv2d_backward_weights(x, dy, t.window, dw, alpha);  // dw = dw0 + dL/dw
        const std::vector<double> expected = plus(dw0.to_vector_f64(), ref.dw);
        BOOST_TEST(mt::rel_error(dw.to_vector_f64(), expected) <= tol);
      }
}

// The two layouts are one convolution: the same taps give the same y, dx and dw (bit for bit on
// the im2col path, which multiplies the same matrix).
BOOST_AUTO_TEST_CASE(per_tap_and_flattened_layouts_are_the_same_convolution) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Case& t : kCases) {
    const std::int64_t taps = t.window.kernel * t.window.kernel;
    const Tensor per_tap = Tensor::randn({taps, t.c_out, t.c_in}, gen, DType::f64);
    const Tensor flat = permute(per_tap, {1, 0, 2}).reshape({t.c_out, taps * t.c_in});
    const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen, DType::f64);
    const Tensor dy = Tensor::randn(output_of(t), gen, DType::f64);
    BOOST_TEST(conv2d(x, per_tap, t.window).to_vector_f64() ==
               conv2d(x, flat, t.window).to_vector_f64());
    BOOST_TEST(conv2d_backward_data(dy, per_tap, x.shape(), t.window).to_vector_f64() ==
               conv2d_backward_data(dy, flat, x.shape(), t.window).to_vector_f64());
    Tensor dw_tap = Tensor::zeros(per_tap.shape(), DType::f64);
    Tensor dw_flat = Tensor::zeros(flat.shape(), DType::f64);
    conv2d_backward_weights(x, dy, t.window, dw_tap);
    conv2d_backward_weights(x, dy, t.window, dw_flat);
    BOOST_TEST(mt::max_abs_diff(permute(dw_tap, {1, 0, 2}).reshape(flat.shape()).to_vector_f64(),
                                dw_flat.to_vector_f64()) <= 1e-12);
  }
}

BOOST_AUTO_TEST_CASE(empty_batches_give_empty_results) {
  for (const DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = Tensor::zeros({0, 4, 4, 2}, dtype);
    const Tensor w = Tensor::full({9, 3, 2}, 1.0, dtype);
    const Tensor dy = Tensor::zeros({0, 4, 4, 3}, dtype);
    BOOST_TEST((conv2d(x, w, {3, 1, 1}).shape() == Shape{0, 4, 4, 3}));
    BOOST_TEST((conv2d_backward_data(dy, w, x.shape(), {3, 1, 1}).shape() == x.shape()));
    Tensor dw = Tensor::full({9, 3, 2}, 1.0, dtype);
    conv2d_backward_weights(x, dy, {3, 1, 1}, dw);
    BOOST_TEST(dw.to_vector_f64() == Tensor::full({9, 3, 2}, 1.0, dtype).to_vector_f64());
  }
}

BOOST_AUTO_TEST_CASE(bad_images_weights_and_gradients_are_refused_by_name) {
  const Tensor x = Tensor::zeros({2, 5, 5, 3});
  const Tensor w = Tensor::zeros({9, 4, 3});
  const Tensor dy = Tensor::zeros({2, 5, 5, 4});
  const Window2D same{3, 1, 1};
  mt::expect_error(
      [&] {
        conv2d(Tensor::zeros({5, 5, 3}), w, same);
      },
      {"[conv2d]", "rank 4", "[5x5x3] f32 cpu"});
  mt::expect_error([&] { conv2d(x.to(DType::i32), w, same); }, {"[conv2d]", "floating-point"});
  mt::expect_error(
      [&] {
        conv2d(x, w, {9, 1, 1});
      },
      {"[conv2d]", "window 9 (stride 1, padding 1)", "5x5 image"});
  mt::expect_error([&] { conv2d(x, w, {3, 0, 1}); }, {"[conv2d]", "kernel and stride"});
  mt::expect_error(
      [&] {
        conv2d(x, Tensor::zeros({9, 4, 2}), same);
      },
      {"[conv2d]", "weight [9x4x2] f32 cpu", "3 input channels", "window 3 (stride 1, padding 1)",
       "[9, C_out, 3] or [C_out, 27]"});
  mt::expect_error(
      [&] {
        conv2d(x, Tensor::zeros({4, 26}), same);
      },
      {"[conv2d]", "weight [4x26]", "[C_out, 27]"});
  mt::expect_error(
      [&] {
        conv2d(x, Tensor::zeros({9, 0, 3}), same);
      },
      {"[conv2d]", "C_in and C_out >= 1"});
  mt::expect_error(
      [&] {
        conv2d(Tensor::zeros({2, 5, 5, 0}), Tensor::zeros({9, 4, 0}), same);
      },
      {"[conv2d]", "0 input channels"});
  mt::expect_error(
      [&] {
        conv2d(x, Tensor::zeros({3, 3, 4, 3}), same);
      },
      {"[conv2d]", "weight [3x3x4x3]"});
  mt::expect_error([&] { conv2d(x, w.to(DType::f64), same); }, {"[conv2d]", "dtypes differ"});
  mt::expect_error(
      [&] {
        conv2d_backward_data(Tensor::zeros({2, 5, 5, 3}), w, x.shape(), same);
      },
      {"[conv2d_backward_data]", "gradient [2x5x5x3]", "output [2x5x5x4]"});
  mt::expect_error(
      [&] {
        conv2d_backward_data(dy, w, {2, 5, 5}, same);
      },
      {"[conv2d_backward_data]", "rank 4", "image [2x5x5]"});
  mt::expect_error(
      [&] {
        conv2d_backward_data(dy, w, {2, 5, 5, 2}, same);
      },
      {"[conv2d_backward_data]", "2 input channels"});
  Tensor dw = Tensor::zeros({9, 4, 3});
  mt::expect_error(
      [&] {
        conv2d_backward_weights(x, Tensor::zeros({2, 4, 4, 4}), same, dw);
      },
      {"[conv2d_backward_weights]", "gradient [2x4x4x4]", "output [2x5x5x4]"});
  Tensor bad = Tensor::zeros({9, 4, 2});
  mt::expect_error([&] { conv2d_backward_weights(x, dy, same, bad); },
                   {"[conv2d_backward_weights]", "weight [9x4x2]"});
  mt::expect_error([&] { conv2d_backward_weights(x, dy.to(DType::f64), same, dw); },
                   {"[conv2d_backward_weights]", "dtypes differ"});
}

BOOST_AUTO_TEST_SUITE_END()
