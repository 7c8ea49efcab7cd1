// The modern GPT and the bonds it adds (SquaredReLU, SoftCap): backward against central finite
// differences in float64, f32 against float64 on random and hard inputs, the documented
// sensitivities, the zero-initialised residual branches, and the masses, sensitivity and
// coefficients against the composition rules worked by hand.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "module/module_support.hpp"

namespace mt = modnorm::test;
using modnorm::test::randn64;
using modnorm::test::to_f64;
using namespace modnorm;
namespace tt = boost::test_tools;

namespace {

ModernGPTOptions tiny() {
  ModernGPTOptions o;
  o.vocab = 5;
  o.heads = 2;
  o.d_embed = 4;
  o.d_head = 2;
  o.blocks = 2;
  return o;
}

// Every weight random (the zero-initialised projections too, so that every path carries a
// gradient), in the atom's dtype.
Module randomized(Module net, Generator& gen) {
  net.initialize(gen);
  for (const Parameter& p : net.parameters()) {
    Tensor w = p.weight;
    axpy(0.5, Tensor::randn(w.shape(), gen, w.dtype()), w, 0.0);
  }
  return net;
}

// A copy of `net` with every weight and gradient in float64.
Module as_f64(const Module& net) {
  Module copy = net.clone();
  for (const Parameter& p : copy.parameters()) {
    p.atom->weight() = p.weight.to(DType::f64);
    p.atom->grad() = Tensor::zeros(p.weight.shape(), DType::f64);
  }
  return copy;
}

// Values where an elementwise bond goes wrong if it is careless: zero, tiny, huge, infinite.
std::vector<double> hard_values() {
  const double inf = std::numeric_limits<double>::infinity();
  return {0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1.0, -1.0,
          7.5, -7.5, 1e6,   -1e6,   3e38, -3e38, inf, -inf};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modern_gpt)

BOOST_AUTO_TEST_CASE(new_bonds_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(SquaredReLU(), randn64({4, 5}, gen), gen);
  mt::check_gradients(SoftCap(2.0), scale(randn64({4, 5}, gen), 3.0), gen);
  mt::check_gradients(SoftCap(15.0), randn64({2, 3, 4}, gen), gen);
  // QK-norm: RMSNorm over the last axis of [B, h, T, d] normalises each head separately.
  mt::check_gradients(SplitIntoHeads(2) >> RMSNorm(), randn64({2, 3, 6}, gen), gen);
}

// f32 against the float64 formula rounded to f32: on random values and hard ones.
BOOST_AUTO_TEST_CASE(new_bonds_in_f32_match_the_float64_formula) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<double> values = hard_values();
  for (double v : randn64({64}, gen).to_vector_f64()) values.push_back(10 * v);
  const auto n = static_cast<std::int64_t>(values.size());
  const Tensor x = Tensor::from_vector_f64(values, {n}).to(DType::f32);
  const std::vector<double> xs = x.to_vector_f64();
  const Tensor ones = Tensor::full({n}, 1.0);
  const double cap = 15.0;
  Module squared = SquaredReLU(), soft = SoftCap(cap);
  const std::vector<double> sq = squared.forward(x).to_vector_f64(),
                            dsq = squared.backward(ones).to_vector_f64(),
                            sc = soft.forward(x).to_vector_f64(),
                            dsc = soft.backward(ones).to_vector_f64();
  const auto f32 = [](double v) { return static_cast<double>(static_cast<float>(v)); };
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double v = xs[i], r = v > 0 ? v : 0.0;
    BOOST_TEST_INFO("x = " << v);
    BOOST_TEST(sq[i] == f32(r * r));  // one rounding: the exact product fits a double
    BOOST_TEST(dsq[i] == f32(2 * r));
    // SoftCap rounds x / cap, tanh and the product: within a few f32 units.
    const double want = cap * std::tanh(v / cap), s = 1.0 / std::cosh(v / cap);
    BOOST_TEST(std::abs(sc[i] - want) <= 4e-7 * std::abs(want));
    // The slope sech(u)^2 at u = x / cap: u carries up to two f32 roundings (2 eps relative),
    // which the slope's condition number |u d ln sech^2(u)/du| = 2|u tanh u| amplifies; then
    // one rounding of the result. At x = +-Inf the slope is exactly 0.
    const double u = v / cap, eps = std::ldexp(1.0, -24);
    const double slope_tol = std::isinf(u) ? 0.0 : (4 * std::abs(u * std::tanh(u)) + 2) * eps;
    BOOST_TEST(std::abs(dsc[i] - s * s) <= slope_tol * s * s + 1e-38);
    BOOST_TEST(std::abs(sc[i]) <= cap);
  }
}

// The sensitivities as documented: SoftCap's slope is at most 1 everywhere, 1 at 0;
// SquaredReLU's is at most 2 on the box |x_i| <= 1, 2 at x = 1.
BOOST_AUTO_TEST_CASE(new_bonds_have_their_documented_sensitivity) {
  const auto slope_on = [](Module bond, double lo, double hi) {
    const std::int64_t n = 120001;
    std::vector<double> grid(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k)
      grid[static_cast<std::size_t>(k)] = lo + (hi - lo) * static_cast<double>(k) / (n - 1);
    bond.forward(Tensor::from_vector_f64(grid, {1, n}));
    return max_abs(bond.backward(Tensor::full({1, n}, 1.0, DType::f64)));
  };
  for (double cap : {0.5, 15.0}) {
    Module soft = SoftCap(cap);
    BOOST_TEST(soft.sensitivity() == 1.0);
    BOOST_TEST(soft.mass() == 0.0);
    BOOST_TEST(slope_on(soft, -60.0, 60.0) == 1.0, tt::tolerance(1e-12));
  }
  Module squared = SquaredReLU();
  BOOST_TEST(squared.sensitivity() == 2.0);
  BOOST_TEST(squared.mass() == 0.0);
  BOOST_TEST(slope_on(squared, -1.0, 1.0) == 2.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(modern_gpt_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor ids = Tensor::from_vector_i32({0, 4, 2, 2, 1, 3}, {2, 3});
  for (int variant = 0; variant < 3; ++variant) {
    ModernGPTOptions o = tiny();
    if (variant == 1) o.soft_cap = 1.5;
    if (variant == 2) o.activation = MLPActivation::gelu;
    BOOST_TEST_INFO("variant " << variant);
    mt::check_gradients(as_f64(randomized(ModernGPT(o), gen)), ids, gen, /*check_input=*/false);
  }
}

// The same weights in f32 and in float64: logits and every gradient agree to f32 accuracy.
BOOST_AUTO_TEST_CASE(modern_gpt_in_f32_matches_float64) {
  MODNORM_FRESH_GENERATOR(gen);
  ModernGPTOptions o = tiny();
  o.d_embed = 16;
  o.d_head = 4;
  o.vocab = 11;
  o.soft_cap = 3.0;
  Module f32 = randomized(ModernGPT(o), gen);
  Module f64 = as_f64(f32);
  const Tensor ids = mt::token_ids({3, 7}, o.vocab, gen);
  const Tensor y32 = f32.forward(ids), y64 = f64.forward(ids);
  BOOST_TEST(mt::rel_error(y32.to_vector_f64(), y64.to_vector_f64()) <= 1e-5);
  const Tensor dy = randn64(y64.shape(), gen);
  f32.zero_grad();
  f64.zero_grad();
  f32.backward(dy.to(DType::f32));
  f64.backward(dy);
  const std::vector<Parameter> p32 = f32.parameters(), p64 = f64.parameters();
  BOOST_TEST_REQUIRE(p32.size() == p64.size());
  for (std::size_t l = 0; l < p32.size(); ++l) {
    BOOST_TEST_INFO(p32[l].name);
    BOOST_TEST(mt::rel_error(p32[l].grad.to_vector_f64(), p64[l].grad.to_vector_f64()) <= 1e-4);
  }
}

// At initialisation O and the MLP's second Linear are zero, every other atom has norm 1, and
// so every block is the identity: a token's logits do not depend on its context.
BOOST_AUTO_TEST_CASE(residual_branches_start_at_zero) {
  MODNORM_FRESH_GENERATOR(gen);
  const ModernGPTOptions o = tiny();
  Module gpt = ModernGPT(o);
  gpt.initialize(gen);
  int zeros = 0;
  for (const Parameter& p : gpt.parameters()) {
    BOOST_TEST_INFO(p.name);
    if (max_abs(p.weight) == 0.0)
      ++zeros;
    else
      BOOST_TEST(norm(p.weight, p.norm) == 1.0, tt::tolerance(1e-5));
  }
  BOOST_TEST(zeros == 2 * o.blocks);
  const std::vector<double> y =
      gpt.forward(Tensor::from_vector_i32({3, 1, 3, 0, 3, 3}, {2, 3})).to_vector_f64();
  const auto v = static_cast<std::size_t>(o.vocab);
  for (std::size_t position : {2u, 4u, 5u})  // the other places of token 3
    for (std::size_t j = 0; j < v; ++j)
      BOOST_TEST(std::abs(y[position * v + j] - y[j]) <= 1e-6 * (1 + std::abs(y[j])));
}

// The composition rules by hand (docs/theory.md, "A modern GPT"). M = 1 + 5 + 1 = 7; with
// d = d_head, attention has sensitivity s_a = 1 + 2 sqrt d (V, plus Q and K through the
// Softmax's sqrt d) and the MLP s_m (2 for SquaredReLU, 1 for GELU); a pre-norm residual block
// 1 + s, a pair P = (1 + s_a)(1 + s_m), the tree P^L. Atom l in pair k of L (mass 5 / (6L))
// has c_l = 7 / (5 / (6L)) times the sensitivities after it: P^(L-1-k) for the later pairs,
// (1 + s_m) for its own pair's MLP block if l is in attention, and inside its branch sqrt d
// (Q, K), 1 (V, O), s_m (the MLP's first Linear) or 1 (its second). Embed: 7 P^L; out: 7.
BOOST_AUTO_TEST_CASE(modern_gpt_follows_the_composition_rules) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const MLPActivation act : {MLPActivation::squared_relu, MLPActivation::gelu})
    for (const std::int64_t blocks : {1, 3}) {
      ModernGPTOptions o = tiny();
      o.blocks = blocks;
      o.activation = act;
      o.soft_cap = 4.0;
      const double d = std::sqrt(static_cast<double>(o.d_head));
      const double s_a = 1 + 2 * d, s_m = act == MLPActivation::gelu ? 1.0 : 2.0;
      const double pair = (1 + s_a) * (1 + s_m);
      const auto L = static_cast<double>(blocks);
      Module gpt = ModernGPT(o);
      BOOST_TEST_INFO("blocks " << blocks << ", gelu " << (act == MLPActivation::gelu));
      BOOST_TEST(gpt.mass() == 7.0, tt::tolerance(1e-14));
      BOOST_TEST(gpt.sensitivity() == std::pow(pair, L), tt::tolerance(1e-12));
      const std::vector<Parameter> p = gpt.parameters();
      BOOST_TEST_REQUIRE(p.size() == static_cast<std::size_t>(2 + 6 * blocks));
      BOOST_TEST(p.front().name == "embed.weight");
      BOOST_TEST(p.back().name == "out.weight");
      BOOST_TEST(p.front().coefficient == 7 * std::pow(pair, L), tt::tolerance(1e-12));
      BOOST_TEST(p.back().coefficient == 7.0, tt::tolerance(1e-12));
      for (std::int64_t k = 0; k < blocks; ++k) {
        const double base = 7.0 / (5.0 / (6.0 * L)) * std::pow(pair, L - 1 - k);
        // a pair's atoms in tree order: V, Q, K, O, then the MLP's two Linears
        const double expected[] = {base * (1 + s_m), base * d * (1 + s_m), base * d * (1 + s_m),
                                   base * (1 + s_m), base * s_m,           base};
        for (int j = 0; j < 6; ++j) {
          const Parameter& q = p[static_cast<std::size_t>(1 + 6 * k + j)];
          BOOST_TEST_INFO(q.name);
          BOOST_TEST(q.coefficient == expected[j], tt::tolerance(1e-12));
          BOOST_TEST(q.mass == 5.0 / (6.0 * L), tt::tolerance(1e-14));
        }
      }
      gpt.initialize(gen);
      mt::check_duality_map_has_unit_norm(gpt, gen);
    }
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_naming_the_fault) {
  mt::expect_error([] { SoftCap(0.0); }, {"[SoftCap]", "cap", "0"});
  mt::expect_error([] { SoftCap(std::nan("")); }, {"[SoftCap]", "nan"});
  ModernGPTOptions o = tiny();
  o.d_head = 3;
  mt::expect_error([&] { ModernGPT(o); }, {"[ModernGPT]", "d_head", "even", "3"});
  o = tiny();
  o.heads = 0;
  mt::expect_error([&] { ModernGPT(o); }, {"[ModernGPT]", "heads must be >= 1, got 0"});
  o = tiny();
  o.soft_cap = -1.0;
  mt::expect_error([&] { ModernGPT(o); }, {"[ModernGPT]", "soft_cap", "-1"});
  o = tiny();
  o.blocks_mass = -2.0;
  mt::expect_error([&] { ModernGPT(o); }, {"-2"});
}

BOOST_AUTO_TEST_SUITE_END()
