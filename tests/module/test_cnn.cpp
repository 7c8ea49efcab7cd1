// The bonds a CNN needs (AvgPool2D, GlobalAvgPool, MeanSubtract, RMSNorm per example) against
// explicit loops and central finite differences, with their documented sensitivities; and
// ResCNN: its masses, sensitivity and every coefficient against the composition rules worked
// by hand, and the whole network's backward against finite differences.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "module/module_support.hpp"

namespace mt = modnorm::test;
using modnorm::test::randn64;
using modnorm::test::to_f64;
using namespace modnorm;
namespace tt = boost::test_tools;

namespace {

double rms(const Tensor& t) {
  return frobenius_norm(t) / std::sqrt(static_cast<double>(t.numel()));
}

// y[n, i, j, c] = sum over the window of x (zero in the padding) / k^2.
std::vector<double> avg_pool_loops(const Tensor& x_t, const Window2D& w) {
  const std::vector<double> x = x_t.to_vector_f64();
  const std::int64_t n = x_t.dim(0), h = x_t.dim(1), wd = x_t.dim(2), c = x_t.dim(3);
  const std::int64_t ho = (h + 2 * w.padding - w.kernel) / w.stride + 1;
  const std::int64_t wo = (wd + 2 * w.padding - w.kernel) / w.stride + 1;
  std::vector<double> y;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < ho; ++i)
      for (std::int64_t j = 0; j < wo; ++j)
        for (std::int64_t ch = 0; ch < c; ++ch) {
          double sum = 0;
          for (std::int64_t p = 0; p < w.kernel; ++p)
            for (std::int64_t q = 0; q < w.kernel; ++q) {
              const std::int64_t r = i * w.stride - w.padding + p;
              const std::int64_t s = j * w.stride - w.padding + q;
              if (r >= 0 && r < h && s >= 0 && s < wd)
                sum += x[static_cast<std::size_t>(((b * h + r) * wd + s) * c + ch)];
            }
          y.push_back(sum / static_cast<double>(w.kernel * w.kernel));
        }
  return y;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cnn)

BOOST_AUTO_TEST_CASE(avg_pool_matches_loops_and_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const struct {
    Shape x;
    Window2D w;
  } cases[] = {{{2, 6, 4, 3}, {2, 2, 0}},
               {{1, 7, 5, 2}, {3, 2, 1}},
               {{2, 5, 5, 1}, {3, 1, 0}},
               {{1, 3, 4, 2}, {2, 3, 2}}};
  for (const auto& t : cases) {
    BOOST_TEST_INFO_SCOPE(to_string(t.x) << ", window " << t.w.kernel << " stride " << t.w.stride
                                         << " padding " << t.w.padding);
    Module pool = AvgPool2D(t.w.kernel, t.w.stride, t.w.padding);
    const Tensor x = randn64(t.x, gen);
    BOOST_TEST(mt::rel_error(pool.forward(x).to_vector_f64(), avg_pool_loops(x, t.w)) <= 1e-14);
    mt::check_gradients(pool, x, gen);
  }
  BOOST_TEST(AvgPool2D(3).impl().describe() == "AvgPool2D(3x3, stride 3, padding 0)");
}

BOOST_AUTO_TEST_CASE(global_avg_pool_matches_loops_and_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor x = randn64({3, 4, 5, 2}, gen);
  const std::vector<double> v = x.to_vector_f64();
  std::vector<double> expected(6, 0.0);
  for (std::size_t k = 0; k < v.size(); ++k) expected[(k / 40) * 2 + k % 2] += v[k] / 20.0;
  Module pool = GlobalAvgPool();
  const Tensor y = pool.forward(x);
  BOOST_TEST((y.shape() == Shape{3, 2}));
  BOOST_TEST(mt::rel_error(y.to_vector_f64(), expected) <= 1e-14);
  mt::check_gradients(pool, x, gen);
}

BOOST_AUTO_TEST_CASE(mean_subtract_and_rms_norm_per_example_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const NormAxes axes : {NormAxes::last, NormAxes::example}) {
    mt::check_gradients(MeanSubtract(axes), randn64({3, 2, 3, 2}, gen), gen);
    mt::check_gradients(RMSNorm(0.5, axes), randn64({3, 2, 3, 2}, gen), gen);
  }
  // Per example: every image has mean 0 (MeanSubtract) or RMS 1 (RMSNorm with eps 0).
  const Tensor x = scale(randn64({4, 3, 2, 5}, gen), 7.0);
  const Tensor centered = MeanSubtract(NormAxes::example).forward(x).reshape({4, 30});
  for (const double m : mean(centered, 1).to_vector_f64()) BOOST_TEST(std::abs(m) <= 1e-14);
  const Tensor unit = RMSNorm(0.0, NormAxes::example).forward(x).reshape({4, 30});
  for (const double r : row_norms(unit).to_vector_f64())
    BOOST_TEST(r / std::sqrt(30.0) == 1.0, tt::tolerance(1e-14));
  BOOST_TEST(MeanSubtract().impl().describe() == "MeanSubtract");
  BOOST_TEST(MeanSubtract(NormAxes::example).impl().describe() == "MeanSubtract(per example)");
  BOOST_TEST(RMSNorm(0.5, NormAxes::example).impl().describe() == "RMSNorm(eps 0.5, per example)");
}

// The sensitivities the bonds declare (1 each) bound the RMS gain on random and extreme inputs:
// pooling is tight on a constant image, MeanSubtract on a mean-free one.
BOOST_AUTO_TEST_CASE(cnn_bonds_have_their_documented_sensitivity) {
  MODNORM_FRESH_GENERATOR(gen);
  for (Module bond : {Module(AvgPool2D(2)), Module(GlobalAvgPool()),
                      Module(MeanSubtract(NormAxes::example)), Module(MeanSubtract())}) {
    BOOST_TEST_INFO_SCOPE(bond.impl().describe());
    BOOST_TEST(bond.sensitivity() == 1.0);
    BOOST_TEST(bond.mass() == 0.0);
    for (int trial = 0; trial < 10; ++trial) {
      // Random, and a single spike (all energy in one pixel).
      const Tensor x = randn64({2, 6, 4, 3}, gen);
      BOOST_TEST(rms(bond.forward(x)) <= rms(x) * (1 + 1e-12));
      std::vector<double> spike(144, 0.0);
      spike[static_cast<std::size_t>(gen.below(144))] = 1.0;
      const Tensor s = Tensor::from_vector_f64(spike, {2, 6, 4, 3});
      BOOST_TEST(rms(bond.forward(s)) <= rms(s) * (1 + 1e-12));
    }
  }
  const Tensor flat = Tensor::full({2, 6, 4, 3}, 0.5, DType::f64);
  for (Module pool : {Module(AvgPool2D(2)), Module(GlobalAvgPool())})
    BOOST_TEST(rms(pool.forward(flat)) == rms(flat), tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(bad_pooling_inputs_are_refused_naming_the_module) {
  mt::expect_error([] { AvgPool2D(0); }, {"[AvgPool2D]", "kernel and stride"});
  mt::expect_error([] { AvgPool2D(2, 2, -1); }, {"[AvgPool2D]", "padding -1"});
  Module pool = AvgPool2D(3);
  mt::expect_error(
      [&] {
        pool.forward(Tensor::zeros({2, 9, 9}));
      },
      {"[AvgPool2D.forward]", "[2x9x9]", "NHWC"});
  mt::expect_error(
      [&] {
        pool.forward(Tensor::zeros({2, 2, 9, 1}));
      },
      {"[AvgPool2D.forward]", "smaller than the window 3x3"});
  pool.forward(Tensor::zeros({1, 6, 6, 2}));
  mt::expect_error(
      [&] {
        pool.backward(Tensor::zeros({1, 3, 3, 2}));
      },
      {"[AvgPool2D.backward]", "[1x3x3x2]", "[1x2x2x2]"});
  Module global = GlobalAvgPool();
  mt::expect_error(
      [&] {
        global.forward(Tensor::zeros({2, 0, 3, 1}));
      },
      {"[GlobalAvgPool.forward]", "[2x0x3x1]"});
  mt::expect_error([&] { MeanSubtract(NormAxes::example).forward(Tensor::zeros({4})); },
                   {"[MeanSubtract.forward]", "[4]", "no axis"});
  mt::expect_error(
      [&] {
        RMSNorm(0.1).forward(Tensor::zeros({4, 0}));
      },
      {"[RMSNorm.forward]", "[4x0]", "empty"});
}

// modula's ResCNN (one stage): masses 1 (stem), 20 (body, tared), 1 (head), sensitivity 1.
// Coefficients: stem and head M / 1 = 22; a block conv (22 / 20) (body: 20 / 20) (repeat of
// `blocks`: blocks) (residual scale: 1/L, L = blocks) (residues: block_depth) = 1.1 block_depth.
// Two stages (widths {3, 4}, 2 blocks each, depth 1, L = 4): 5 body atoms of mass 4; the body's
// Sequential gives each stage's blocks 20 / 8 and the transition conv 20 / 4; then a block conv
// is 1.1 * 2.5 * 2 * (1/4) = 1.375 and the transition 1.1 * 5 = 5.5.
BOOST_AUTO_TEST_CASE(rescnn_follows_the_composition_rules) {
  for (const std::int64_t blocks : {1, 3})
    for (const std::int64_t depth : {1, 2}) {
      ResCNNOptions o;
      o.widths = {4};
      o.blocks = blocks;
      o.block_depth = depth;
      Module net = ResCNN(o);
      BOOST_TEST_INFO_SCOPE("blocks " << blocks << ", depth " << depth);
      BOOST_TEST(net.mass() == 22.0, tt::tolerance(1e-14));
      BOOST_TEST(net.sensitivity() == 1.0, tt::tolerance(1e-14));
      const std::vector<Parameter> p = net.parameters();
      BOOST_TEST_REQUIRE(p.size() == static_cast<std::size_t>(2 + blocks * depth));
      BOOST_TEST(p.front().name == "stem.weight");
      BOOST_TEST(p.back().name == "head.1.weight");
      BOOST_TEST(p.front().coefficient == 22.0, tt::tolerance(1e-12));
      BOOST_TEST(p.back().coefficient == 22.0, tt::tolerance(1e-12));
      for (std::size_t l = 1; l + 1 < p.size(); ++l) {
        BOOST_TEST_INFO(p[l].name);
        BOOST_TEST(p[l].coefficient == 1.1 * static_cast<double>(depth), tt::tolerance(1e-12));
        BOOST_TEST(p[l].mass == 20.0 / static_cast<double>(blocks * depth), tt::tolerance(1e-14));
        BOOST_TEST((p[l].weight.shape() == Shape{9, 4, 4}));
      }
    }
  ResCNNOptions two;
  two.in_channels = 2;
  two.classes = 3;
  two.widths = {3, 4};
  two.blocks = 2;
  two.conv_norm = ConvNorm::flattened;
  Module net = ResCNN(two);
  const std::vector<Parameter> p = net.parameters();
  BOOST_TEST_REQUIRE(p.size() == 7u);
  const double expected[] = {22.0, 1.375, 1.375, 5.5, 1.375, 1.375, 22.0};
  for (std::size_t l = 0; l < p.size(); ++l) {
    BOOST_TEST_INFO(p[l].name);
    BOOST_TEST(p[l].coefficient == expected[l], tt::tolerance(1e-12));
  }
  BOOST_TEST((p[3].weight.shape() == Shape{4, 27}));  // the transition, flattened
  BOOST_TEST(net.mass() == 22.0, tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(rescnn_backward_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  ResCNNOptions o;
  o.in_channels = 2;
  o.classes = 3;
  o.widths = {2, 3};
  o.blocks = 1;
  Module net = to_f64(ResCNN(o), gen);
  const Tensor x = randn64({2, 4, 4, 2}, gen);
  BOOST_TEST((net.forward(x).shape() == Shape{2, 3}));
  mt::check_gradients(net, x, gen);
}

BOOST_AUTO_TEST_CASE(rescnn_refuses_bad_sizes) {
  ResCNNOptions o;
  o.kernel = 4;
  mt::expect_error([&] { ResCNN(o); }, {"[ResCNN]", "odd"});
  o = {};
  o.widths = {};
  mt::expect_error([&] { ResCNN(o); }, {"[ResCNN]", "stage"});
  o = {};
  o.widths = {8, 0};
  mt::expect_error([&] { ResCNN(o); }, {"[ResCNN]", "width", "0"});
  o = {};
  o.blocks = 0;
  mt::expect_error([&] { ResCNN(o); }, {"[ResCNN]", "blocks"});
  o = {};
  o.blocks_mass = -1;
  mt::expect_error([&] { ResCNN(o); }, {"[ResCNN]", "blocks_mass"});
}

BOOST_AUTO_TEST_SUITE_END()
