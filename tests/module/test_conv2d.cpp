// Conv2D: forward against a direct float64 convolution (both norms: per tap and flattened),
// backward against central finite differences, and its norm and duality map against SVDs in
// float64 (norm 1 after initialize() and for the duality map, the pairing with the dual norm,
// Hoelder), on odd sizes, strides 1-2, paddings 0-2, kernels 1-5 and one input channel. float64
// runs im2col + GEMM; f32 runs oneDNN's convolutions where modnorm is built with them
// (modnorm::cpu_conv()), checked against those float64 references, against finite differences
// of its own forward, and against im2col + GEMM in f32 on the same input.
#include <Eigen/Dense>
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "module/module_support.hpp"

namespace mt = modnorm::test;
using namespace modnorm;
namespace tt = boost::test_tools;

namespace {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Case {
  std::int64_t n, h, w, c_in, c_out, k, stride, padding;
};

const Case kCases[] = {
    {2, 5, 7, 3, 4, 3, 1, 1},  // odd sizes, same padding
    {1, 6, 5, 2, 3, 3, 2, 0},  // stride 2, no padding
    {2, 5, 5, 1, 2, 3, 2, 2},  // one input channel, padding 2
    {2, 4, 3, 3, 2, 1, 1, 0},  // 1x1
    {1, 4, 4, 2, 5, 2, 1, 1},  // even kernel, wide
    {1, 3, 4, 4, 1, 3, 1, 1},  // one output channel
    {1, 7, 9, 2, 3, 5, 2, 2},  // 5x5, stride 2, padding 2, batch 1
    {2, 5, 6, 1, 3, 5, 1, 0},  // 5x5 over a 5-row image: one output row
    {1, 2, 3, 2, 3, 3, 4, 5},  // padding and stride beyond the kernel: pixels no window reads
};

// f32 cases beyond kCases: channel counts the blocked kernels of oneDNN take (multiples of 8 and
// 16, and odd ones beside them), as in the residual CNN.
const Case kWideCases[] = {
    {2, 9, 8, 16, 32, 3, 1, 1},  // a ResCNN stage, same padding
    {3, 8, 7, 32, 16, 3, 2, 1},  // stride 2 down-sampling
    {2, 6, 6, 17, 24, 1, 2, 0},  // 1x1 stride 2 (a shortcut), odd c_in
    {1, 11, 10, 8, 5, 5, 1, 2},  // 5x5, odd c_out
};

Conv2DOptions options_for(ConvNorm conv_norm) {
  Conv2DOptions o;
  o.conv_norm = conv_norm;
  o.dtype = DType::f64;
  return o;
}

Module conv_of(const Case& t, ConvNorm conv_norm, DType dtype = DType::f64) {
  Conv2DOptions o = options_for(conv_norm);
  o.dtype = dtype;
  return Conv2D(t.c_in, t.c_out, t.k, t.stride, t.padding, o);
}

// Tap (a, b) of the weight as a [c_out x c_in] matrix, whatever the layout.
MatD tap(const Tensor& weight, ConvNorm conv_norm, const Case& t, std::int64_t a, std::int64_t b) {
  const std::vector<double> w = weight.to_vector_f64();
  MatD m(t.c_out, t.c_in);
  const std::int64_t index = a * t.k + b;
  for (std::int64_t o = 0; o < t.c_out; ++o)
    for (std::int64_t c = 0; c < t.c_in; ++c)
      m(o, c) = conv_norm == ConvNorm::per_tap
                    ? w[static_cast<std::size_t>((index * t.c_out + o) * t.c_in + c)]
                    : w[static_cast<std::size_t>(o * t.k * t.k * t.c_in + index * t.c_in + c)];
  return m;
}

// y[n, i, j, o] = f sum_{a, b, c} W_ab[o, c] x[n, i s - p + a, j s - p + b, c], in double.
std::vector<double> direct_conv(const Tensor& x_t, const Tensor& weight, ConvNorm conv_norm,
                                const Case& t) {
  const std::vector<double> x = x_t.to_vector_f64();
  const double f = conv_norm == ConvNorm::per_tap ? 1.0 / static_cast<double>(t.k * t.k) : 1.0;
  const std::int64_t ho = (t.h + 2 * t.padding - t.k) / t.stride + 1;
  const std::int64_t wo = (t.w + 2 * t.padding - t.k) / t.stride + 1;
  std::vector<double> y(static_cast<std::size_t>(t.n * ho * wo * t.c_out), 0.0);
  for (std::int64_t a = 0; a < t.k; ++a)
    for (std::int64_t b = 0; b < t.k; ++b) {
      const MatD w = tap(weight, conv_norm, t, a, b);
      for (std::int64_t n = 0; n < t.n; ++n)
        for (std::int64_t i = 0; i < ho; ++i)
          for (std::int64_t j = 0; j < wo; ++j) {
            const std::int64_t r = i * t.stride - t.padding + a, s = j * t.stride - t.padding + b;
            if (r < 0 || r >= t.h || s < 0 || s >= t.w) continue;
            for (std::int64_t o = 0; o < t.c_out; ++o) {
              double sum = 0;
              for (std::int64_t c = 0; c < t.c_in; ++c)
                sum +=
                    w(o, c) * x[static_cast<std::size_t>(((n * t.h + r) * t.w + s) * t.c_in + c)];
              y[static_cast<std::size_t>(((n * ho + i) * wo + j) * t.c_out + o)] += f * sum;
            }
          }
    }
  return y;
}

// The taps side by side, [W_00 ... W_(k-1)(k-1)] [c_out x k^2 c_in] (the flattened matrix).
MatD side_by_side(const Tensor& weight, ConvNorm conv_norm, const Case& t) {
  MatD m(t.c_out, t.k * t.k * t.c_in);
  for (std::int64_t a = 0; a < t.k; ++a)
    for (std::int64_t b = 0; b < t.k; ++b)
      m.middleCols((a * t.k + b) * t.c_in, t.c_in) = tap(weight, conv_norm, t, a, b);
  return m;
}

// The singular values of the matrices the norm measures: every tap (per tap), or the taps side
// by side (flattened), from Jacobi SVDs; and the shape factor sqrt(d_out/d_in) of those.
struct Spectra {
  std::vector<Eigen::VectorXd> sigma;
  double shape;
};
Spectra spectra(const Tensor& weight, ConvNorm conv_norm, const Case& t) {
  const double c_in = static_cast<double>(t.c_in), c_out = static_cast<double>(t.c_out);
  if (conv_norm == ConvNorm::flattened)
    return {{Eigen::JacobiSVD<MatD>(side_by_side(weight, conv_norm, t)).singularValues()},
            std::sqrt(c_out / (static_cast<double>(t.k * t.k) * c_in))};
  Spectra s{{}, std::sqrt(c_out / c_in)};
  for (std::int64_t a = 0; a < t.k; ++a)
    for (std::int64_t b = 0; b < t.k; ++b)
      s.sigma.push_back(Eigen::JacobiSVD<MatD>(tap(weight, conv_norm, t, a, b)).singularValues());
  return s;
}

// The norm of the docs: max over the measured matrices of sigma_max / shape factor.
double reference_norm(const Tensor& weight, ConvNorm conv_norm, const Case& t) {
  const Spectra s = spectra(weight, conv_norm, t);
  double largest = 0;
  for (const Eigen::VectorXd& sigma : s.sigma) largest = std::max(largest, sigma(0));
  return largest / s.shape;
}

// The dual norm: the sum over the measured matrices of shape factor * nuclear norm.
double reference_dual_norm(const Tensor& g, ConvNorm conv_norm, const Case& t) {
  const Spectra s = spectra(g, conv_norm, t);
  double total = 0;
  for (const Eigen::VectorXd& sigma : s.sigma) total += sigma.sum();
  return s.shape * total;
}

DualizeOptions exact() {
  DualizeOptions o;
  o.orthogonalize.method = OrthogonalizeMethod::svd;
  return o;
}

std::string describe(const Case& t, ConvNorm conv_norm) {
  return "x [" + std::to_string(t.n) + "x" + std::to_string(t.h) + "x" + std::to_string(t.w) + "x" +
         std::to_string(t.c_in) + "], " + std::to_string(t.c_in) + " -> " +
         std::to_string(t.c_out) + " k " + std::to_string(t.k) + " stride " +
         std::to_string(t.stride) + " padding " + std::to_string(t.padding) + ", " +
         to_string(conv_norm);
}

const ConvNorm kNorms[] = {ConvNorm::per_tap, ConvNorm::flattened};

// fn(case, conv_norm, conv) for every case and both norms, conv initialised and in f64.
template <class Fn>
void for_every_conv(Generator& gen, Fn&& fn) {
  for (const Case& t : kCases)
    for (const ConvNorm conv_norm : kNorms) {
      BOOST_TEST_INFO_SCOPE(describe(t, conv_norm));
      Module conv = conv_of(t, conv_norm);
      conv.initialize(gen);
      fn(t, conv_norm, conv);
    }
}

// A Conv2D in f32 holding `weight` rounded to f32.
Module f32_conv(const Case& t, ConvNorm conv_norm, const Tensor& weight) {
  Module conv = conv_of(t, conv_norm, DType::f32);
  Tensor w = conv.parameters()[0].weight;
  axpy(1.0, weight.to(DType::f32), w, 0.0);
  return conv;
}

Shape output_of(const Case& t) {
  return {t.n, (t.h + 2 * t.padding - t.k) / t.stride + 1,
          (t.w + 2 * t.padding - t.k) / t.stride + 1, t.c_out};
}

// An initialised Conv2D of the case in `dtype`.
Module initialized(const Case& t, ConvNorm conv_norm, DType dtype, Generator& gen) {
  Module conv = conv_of(t, conv_norm, dtype);
  conv.initialize(gen);
  return conv;
}

// fn(case, conv_norm) for every case of kCases and kWideCases and both norms.
template <class Fn>
void for_every_f32_case(Fn&& fn) {
  std::vector<Case> cases(std::begin(kCases), std::end(kCases));
  cases.insert(cases.end(), std::begin(kWideCases), std::end(kWideCases));
  for (const Case& t : cases)
    for (const ConvNorm conv_norm : kNorms) {
      BOOST_TEST_INFO_SCOPE(describe(t, conv_norm) << ", f32 on " << cpu_conv());
      fn(t, conv_norm);
    }
}

boost::test_tools::assertion_result built_with_onednn(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result built(std::string(cpu_conv()) == "oneDNN");
  built.message() << "modnorm was built without oneDNN: f32 Conv2D runs im2col + GEMM, which "
                     "the other cases test";
  return built;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conv2d)

BOOST_AUTO_TEST_CASE(forward_matches_a_direct_float64_convolution) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_conv(gen, [&](const Case& t, ConvNorm conv_norm, Module& conv) {
    const Tensor weight = conv.parameters()[0].weight;
    const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen, DType::f64);
    const std::vector<double> expected = direct_conv(x, weight, conv_norm, t);
    const Tensor y = conv.forward(x);
    BOOST_TEST(y.dim(3) == t.c_out);
    BOOST_TEST(mt::rel_error(y.to_vector_f64(), expected) <= 1e-13);
    // f32 computes the same within its rounding.
    Module low = f32_conv(t, conv_norm, weight);
    BOOST_TEST(mt::rel_error(low.forward(x.to(DType::f32)).to_vector_f64(), expected) <= 1e-5);
  });
}

// The two layouts hold the same kernel when the flattened matrix is [W_00 ... W_(k-1)(k-1)] / k^2:
// then they compute the same convolution, forward and backward.
BOOST_AUTO_TEST_CASE(per_tap_and_flattened_agree_on_the_same_kernel) {
  MODNORM_FRESH_GENERATOR(gen);
  const Case t{2, 5, 6, 3, 4, 3, 1, 1};
  Module taps = conv_of(t, ConvNorm::per_tap), flat = conv_of(t, ConvNorm::flattened);
  taps.initialize(gen);
  const Tensor w = taps.parameters()[0].weight;  // [9, 4, 3]
  Tensor flat_w = flat.parameters()[0].weight;   // [4, 27]
  axpy(1.0 / 9.0, permute(w, {1, 0, 2}).reshape({4, 27}), flat_w, 0.0);
  const Tensor x = Tensor::randn({2, 5, 6, 3}, gen, DType::f64);
  BOOST_TEST(mt::rel_error(taps.forward(x).to_vector_f64(), flat.forward(x).to_vector_f64()) <=
             1e-14);
  const Tensor dy = Tensor::randn({2, 5, 6, 4}, gen, DType::f64);
  BOOST_TEST(mt::rel_error(taps.backward(dy).to_vector_f64(), flat.backward(dy).to_vector_f64()) <=
             1e-14);
  // Per tap the forward's 1/9 multiplies the gradient: dL/dW_ab = (1/9) dL/dWm[:, ab].
  const Tensor taps_grad = permute(taps.parameters()[0].grad, {1, 0, 2}).reshape({4, 27});
  BOOST_TEST(mt::rel_error(taps_grad.to_vector_f64(),
                           scale(flat.parameters()[0].grad, 1.0 / 9.0).to_vector_f64()) <= 1e-14);
}

BOOST_AUTO_TEST_CASE(backward_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_conv(gen, [&](const Case& t, ConvNorm, Module& conv) {
    mt::check_gradients(conv, Tensor::randn({t.n, t.h, t.w, t.c_in}, gen, DType::f64), gen);
  });
}

BOOST_AUTO_TEST_CASE(without_the_input_gradient_the_weight_gradient_is_the_same) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const ConvNorm conv_norm : kNorms)
    for (const DType dtype : {DType::f64, DType::f32}) {  // im2col; oneDNN where built
      Module conv = initialized(kCases[0], conv_norm, dtype, gen);
      const Tensor x = Tensor::randn({2, 5, 7, 3}, gen, dtype);
      const Tensor dy = Tensor::randn({2, 5, 7, 4}, gen, dtype);
      conv.forward(x);
      conv.backward(dy);
      const std::vector<double> with = conv.parameters()[0].grad.to_vector_f64();
      conv.zero_grad();
      conv.forward(x);
      BOOST_TEST(conv.backward(dy, false).numel() == 0);
      BOOST_TEST(conv.parameters()[0].grad.to_vector_f64() == with);
    }
}

// Well-normed initialisation (norm 1), the duality map of norm 1 that pairs with the gradient
// to the dual norm, the dual norm against SVDs, and Hoelder's inequality, for both norms.
BOOST_AUTO_TEST_CASE(norm_and_duality_map_match_svd_references) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_conv(gen, [&](const Case& t, ConvNorm conv_norm, Module& conv) {
    const Parameter p = conv.parameters()[0];
    BOOST_TEST((p.norm == Norm::spectral));
    BOOST_TEST(reference_norm(p.weight, conv_norm, t) == 1.0, tt::tolerance(1e-12));
    SpectralNormOptions svd;
    svd.exact = true;
    BOOST_TEST(norm(p.weight, p.norm, svd) == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(norm(p.weight, p.norm) == 1.0, tt::tolerance(1e-4));  // power iteration

    // A gradient with one tap much larger and one tap zero (per tap: the max over taps).
    Tensor g = Tensor::randn(p.weight.shape(), gen, DType::f64);
    if (conv_norm == ConvNorm::per_tap && t.k > 1) {
      std::vector<double> v = g.to_vector_f64();
      const std::size_t tap_size = static_cast<std::size_t>(t.c_out * t.c_in);
      for (std::size_t i = 0; i < tap_size; ++i) {
        v[i] *= 1e3;
        v[tap_size + i] = 0.0;
      }
      g = Tensor::from_vector_f64(v, g.shape());
    }
    const Tensor d = dualize(g, p.norm, exact());
    BOOST_TEST(reference_norm(d, conv_norm, t) == 1.0, tt::tolerance(1e-12));
    const double dual = reference_dual_norm(g, conv_norm, t);
    BOOST_TEST(dual_norm(g, p.norm) == dual, tt::tolerance(1e-9));
    BOOST_TEST(dot(g, d) == dual, tt::tolerance(1e-9));
    BOOST_TEST(dual_pairing(g, p.norm, exact()) == dual, tt::tolerance(1e-9));
    for (int trial = 0; trial < 20; ++trial) {  // <G, T> <= ||G||^dagger ||T||
      const Tensor u = Tensor::randn(p.weight.shape(), gen, DType::f64);
      BOOST_TEST(dot(g, u) <= dual * reference_norm(u, conv_norm, t) * (1 + 1e-12));
    }
    // The default Newton-Schulz map stays inside the quintic's band: norm in [0.68, 1.21].
    const double approx = reference_norm(dualize(g.to(DType::f32), p.norm), conv_norm, t);
    BOOST_TEST(approx >= 0.68);
    BOOST_TEST(approx <= 1.21);
  });
}

// f32 (oneDNN where built) against the float64 references on the same f32-rounded weights and
// inputs: the forward against the direct convolution, the input and weight gradients against
// float64 Conv2D's (which backward_matches_finite_differences checks).
BOOST_AUTO_TEST_CASE(f32_forward_and_backward_match_float64) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_f32_case([&](const Case& t, ConvNorm conv_norm) {
    Module exact = conv_of(t, conv_norm);
    exact.initialize(gen);
    Module low = f32_conv(t, conv_norm, exact.parameters()[0].weight);
    Tensor w64 = exact.parameters()[0].weight;
    axpy(1.0, low.parameters()[0].weight.to(DType::f64), w64, 0.0);
    const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen);
    const Tensor dy = Tensor::randn(output_of(t), gen);
    const Tensor y = low.forward(x);
    BOOST_TEST(mt::rel_error(y.to_vector_f64(), direct_conv(x, w64, conv_norm, t)) <= 1e-5);
    const Tensor dx = low.backward(dy);
    exact.forward(x.to(DType::f64));
    const Tensor dx64 = exact.backward(dy.to(DType::f64));
    BOOST_TEST(mt::rel_error(dx.to_vector_f64(), dx64.to_vector_f64()) <= 1e-5);
    BOOST_TEST(mt::rel_error(low.parameters()[0].grad.to_vector_f64(),
                             exact.parameters()[0].grad.to_vector_f64()) <= 1e-5);
  });
}

// L = <r, conv(x)> is linear in x and in the weight W, so its central difference along any v
// with step 1 is exact up to rounding: (L(x + v) - L(x - v)) / 2 = <dL/dx, v>, and likewise for
// W. Each f32 forward y is off by ~1e-7 |y| (sums of <= k^2 c_in products), so each L by
// <= ~1e-7 |r| |y|; the tolerance is 1e-5 |r| (|y+| + |y-|), while a wrong tap, layout or factor
// is off by O(|<dL/dx, v>|). This checks f32 backward against f32 forward (oneDNN's three
// primitives against each other where built), with backward called twice to see the weight
// gradient accumulate.
BOOST_AUTO_TEST_CASE(f32_backward_matches_finite_differences_of_its_forward) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_f32_case([&](const Case& t, ConvNorm conv_norm) {
    Module conv = initialized(t, conv_norm, DType::f32, gen);
    const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen);
    const Tensor r = Tensor::randn(output_of(t), gen);
    conv.forward(x);
    conv.backward(r);
    conv.forward(x);
    const Tensor dx = conv.backward(r);
    const Tensor grad = scale(conv.parameters()[0].grad, 0.5);
    const auto check = [&](double analytic, const Tensor& y_plus, const Tensor& y_minus) {
      const double fd = (dot(r, y_plus) - dot(r, y_minus)) / 2;
      const double bound = frobenius_norm(r) * (frobenius_norm(y_plus) + frobenius_norm(y_minus));
      BOOST_TEST_INFO("backward " << analytic << ", finite difference " << fd);
      BOOST_TEST(std::abs(analytic - fd) <= 1e-5 * bound);
    };
    Tensor w = conv.parameters()[0].weight;
    const Tensor w0 = w.clone();
    for (int trial = 0; trial < 2; ++trial) {
      const Tensor v = Tensor::randn(x.shape(), gen);
      check(dot(dx, v), conv.forward(add(x, v)), conv.forward(sub(x, v)));
      const Tensor u = Tensor::randn(w.shape(), gen);
      axpy(1.0, add(w0, u), w, 0.0);
      const Tensor y_plus = conv.forward(x);
      axpy(1.0, sub(w0, u), w, 0.0);
      check(dot(grad, u), y_plus, conv.forward(x));
      axpy(1.0, w0, w, 0.0);
    }
  });
}

// oneDNN's convolutions against the im2col + GEMM path on the same f32 input, through the same
// public ops Conv2D's im2col path calls: y = f X Wm^T, dWm = f dy^T X, dx = col2im(f dy Wm).
BOOST_AUTO_TEST_CASE(f32_onednn_matches_im2col_and_gemm,
                     *boost::unit_test::precondition(built_with_onednn)) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_f32_case([&](const Case& t, ConvNorm conv_norm) {
    Module conv = initialized(t, conv_norm, DType::f32, gen);
    const Tensor x = Tensor::randn({t.n, t.h, t.w, t.c_in}, gen);
    const Tensor dy = Tensor::randn(output_of(t), gen);
    const double f = conv_norm == ConvNorm::per_tap ? 1.0 / static_cast<double>(t.k * t.k) : 1.0;
    const Tensor w = conv.parameters()[0].weight;
    const std::int64_t width = t.k * t.k * t.c_in;
    const auto as_matrix = [&](const Tensor& stored) {  // [c_out x k*k*c_in]
      return conv_norm == ConvNorm::flattened
                 ? stored
                 : permute(stored, {1, 0, 2}).reshape({t.c_out, width});
    };
    const Window2D window{t.k, t.stride, t.padding};
    const Tensor cols = im2col(x, window);
    const Tensor rows = cols.reshape({cols.numel() / width, width});
    const Tensor dy2 = dy.reshape({rows.dim(0), t.c_out});
    const Tensor y = scale(matmul(rows, as_matrix(w), false, true), f);
    const Tensor d_matrix = scale(matmul(dy2, rows, true, false), f);
    const Tensor dx =
        col2im(scale(matmul(dy2, as_matrix(w)), f).reshape(cols.shape()), x.shape(), window);
    BOOST_TEST(mt::rel_error(conv.forward(x).to_vector_f64(), y.to_vector_f64()) <= 1e-5);
    BOOST_TEST(mt::rel_error(conv.backward(dy).to_vector_f64(), dx.to_vector_f64()) <= 1e-5);
    BOOST_TEST(mt::rel_error(as_matrix(conv.parameters()[0].grad).to_vector_f64(),
                             d_matrix.to_vector_f64()) <= 1e-5);
  });
}

// Zeros in give exact zeros out: a zero image gives y = 0 and a zero weight gradient, a zero
// gradient gives dx = 0, in f32 as in f64.
BOOST_AUTO_TEST_CASE(zero_inputs_give_exact_zeros) {
  MODNORM_FRESH_GENERATOR(gen);
  for_every_f32_case([&](const Case& t, ConvNorm conv_norm) {
    for (const DType dtype : {DType::f32, DType::f64}) {
      Module conv = initialized(t, conv_norm, dtype, gen);
      const Tensor y = conv.forward(Tensor::zeros({t.n, t.h, t.w, t.c_in}, dtype));
      BOOST_TEST(max_abs(y) == 0.0);
      conv.backward(Tensor::randn(output_of(t), gen, dtype));
      BOOST_TEST(max_abs(conv.parameters()[0].grad) == 0.0);
      conv.forward(Tensor::randn({t.n, t.h, t.w, t.c_in}, gen, dtype));
      BOOST_TEST(max_abs(conv.backward(Tensor::zeros(output_of(t), dtype))) == 0.0);
    }
  });
}

BOOST_AUTO_TEST_CASE(weights_have_the_layout_of_their_norm_and_print_it) {
  const Module taps = Conv2D(3, 8, 5, 2, 2);
  BOOST_TEST((taps.parameters()[0].weight.shape() == Shape{25, 8, 3}));
  Conv2DOptions flat;
  flat.conv_norm = ConvNorm::flattened;
  flat.mass = 0.5;
  const Module wide = Conv2D(3, 8, 5, 2, 2, flat);
  BOOST_TEST((wide.parameters()[0].weight.shape() == Shape{8, 75}));
  BOOST_TEST(wide.mass() == 0.5);
  BOOST_TEST(taps.sensitivity() == 1.0);
  BOOST_TEST(taps.impl().describe() == "Conv2D(3 -> 8, 5x5, stride 2, padding 2, per_tap)");
  BOOST_TEST(wide.impl().describe() == "Conv2D(3 -> 8, 5x5, stride 2, padding 2, flattened)");
  Conv2DOptions sign;
  sign.norm = Norm::sign;
  BOOST_TEST((Conv2D(2, 2, 3, 1, 1, sign).parameters()[0].norm == Norm::sign));
  Conv2DOptions column;
  column.norm = Norm::column;  // a batch of matrices has no column norm
  mt::expect_error([&] { Conv2D(2, 2, 3, 1, 1, column); }, {"[Conv2D]", "column", "[9x2x2]"});
}

BOOST_AUTO_TEST_CASE(bad_sizes_and_inputs_are_refused_naming_the_module) {
  mt::expect_error([] { Conv2D(0, 4, 3); }, {"[Conv2D]", "c_in and c_out", "0"});
  mt::expect_error([] { Conv2D(2, 4, 0); }, {"[Conv2D]", "kernel and stride"});
  mt::expect_error([] { Conv2D(2, 4, 3, 0); }, {"[Conv2D]", "stride 0"});
  mt::expect_error([] { Conv2D(2, 4, 3, 1, -1); }, {"[Conv2D]", "padding -1"});
  mt::expect_error([] { Conv2D(1 << 20, 1 << 20, 1024); }, {"[Conv2D]", "2^40"});
  Module bare = Conv2D(2, 4, 3, 1, 0);
  mt::expect_error(
      [&] {
        bare.backward(Tensor::zeros({1, 3, 3, 4}));
      },
      {"[Conv2D.backward]", "before forward"});
  Module conv = Sequential{bare};
  mt::expect_error(
      [&] {
        conv.forward(Tensor::zeros({2, 5, 5}));
      },
      {"[Conv2D.forward]", "module '0'", "[2x5x5]", "[N, H, W, 2]"});
  mt::expect_error(
      [&] {
        conv.forward(Tensor::zeros({2, 5, 5, 3}));
      },
      {"[Conv2D.forward]", "[2x5x5x3]", "[N, H, W, 2]"});
  mt::expect_error(
      [&] {
        conv.forward(Tensor::zeros({2, 2, 5, 2}));
      },
      {"[Conv2D.forward]", "[2x2x5x2]", "smaller than the window 3x3"});
  mt::expect_error(
      [&] {
        conv.forward(Tensor::zeros({1, 5, 5, 2}, DType::f64));
      },
      {"[Conv2D.forward]", "f64", "f32"});
  conv.forward(Tensor::zeros({1, 5, 5, 2}));
  mt::expect_error(
      [&] {
        conv.backward(Tensor::zeros({1, 3, 3, 5}));
      },
      {"[Conv2D.backward]", "[1x3x3x5]", "[1x3x3x4]"});
}

BOOST_AUTO_TEST_SUITE_END()
