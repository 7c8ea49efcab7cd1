// The attention bonds, Attention and GPT: every backward against central finite differences in
// float64, Attention's forward against explicit loops, and the GPT's masses, sensitivity and
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

GPTOptions tiny() {
  GPTOptions o;
  o.vocab = 5;
  o.heads = 2;
  o.d_embed = 4;
  o.d_query = 2;
  o.d_value = 3;
  o.blocks = 2;
  return o;
}

std::vector<double> at(const Tensor& t) {
  return t.to_vector_f64();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(attention)

BOOST_AUTO_TEST_CASE(bonds_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(SplitIntoHeads(2), randn64({2, 3, 4}, gen), gen);
  mt::check_gradients(MergeHeads(), randn64({2, 2, 3, 2}, gen), gen);
  mt::check_tuple_gradients(AttentionQK(), {randn64({2, 2, 3, 4}, gen), randn64({2, 2, 3, 4}, gen)},
                            gen);
  mt::check_gradients(CausalMask() >> Softmax(0.7), randn64({2, 2, 3, 3}, gen), gen);
  mt::check_gradients(Softmax(1.3), randn64({2, 5}, gen), gen);
  mt::check_tuple_gradients(ApplyAttentionScores(),
                            {randn64({2, 2, 3, 4}, gen), randn64({2, 2, 3, 3}, gen)}, gen);
  mt::check_tuple_gradients(Rope(4), {randn64({1, 2, 5, 4}, gen), randn64({1, 2, 5, 4}, gen)}, gen);
  mt::check_tuple_gradients(Rope(6, 100.0),
                            {randn64({2, 1, 3, 6}, gen), randn64({2, 1, 3, 6}, gen)}, gen);
}

BOOST_AUTO_TEST_CASE(bonds_have_modulas_sensitivities) {
  BOOST_TEST(Softmax(2.5).sensitivity() == 2.5);
  for (Module m : {Module(SplitIntoHeads(2)), Module(MergeHeads()), Module(AttentionQK()),
                   Module(CausalMask()), Module(ApplyAttentionScores()), Module(Rope(4))}) {
    BOOST_TEST(m.sensitivity() == 1.0);
    BOOST_TEST(m.mass() == 0.0);
  }
}

// Rope is orthogonal: it keeps every position's norm; at position 0 (angle 0) it keeps the
// first half and negates the second, as modula's code does; and q . k depends on the positions
// only through their difference.
BOOST_AUTO_TEST_CASE(rope_rotates_each_position) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor q = randn64({1, 1, 4, 6}, gen);
  const std::vector<Tensor> y = Rope(6).forward_tuple({q, q});
  const std::vector<double> a = at(q), b = at(y[0]);
  for (int t = 0; t < 4; ++t) {
    double na = 0, nb = 0;
    for (int i = 0; i < 6; ++i) {
      na += a[t * 6 + i] * a[t * 6 + i];
      nb += b[t * 6 + i] * b[t * 6 + i];
    }
    BOOST_TEST(nb == na, tt::tolerance(1e-12));
  }
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(b[i] == a[i], tt::tolerance(1e-12));
    BOOST_TEST(b[i + 3] == -a[i + 3], tt::tolerance(1e-12));
  }
  // The same vector at positions (0, 2) and (1, 3) of a 4-position sequence: equal scores.
  const std::vector<double> v = at(randn64({6}, gen)), w = at(randn64({6}, gen));
  std::vector<double> qs(24), ks(24);
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 6; ++i) {
      qs[t * 6 + i] = v[i];
      ks[t * 6 + i] = w[i];
    }
  const std::vector<Tensor> r = Rope(6).forward_tuple(
      {Tensor::from_vector_f64(qs, {1, 1, 4, 6}), Tensor::from_vector_f64(ks, {1, 1, 4, 6})});
  const std::vector<double> rq = at(r[0]), rk = at(r[1]);
  const auto score = [&](int tq, int tk) {
    double s = 0;
    for (int i = 0; i < 6; ++i) s += rq[tq * 6 + i] * rk[tk * 6 + i];
    return s;
  };
  BOOST_TEST(score(2, 0) == score(3, 1), tt::tolerance(1e-12));
}

// Attention on a small case with the causal mask, against explicit loops in float64.
BOOST_AUTO_TEST_CASE(attention_forward_matches_explicit_loops) {
  MODNORM_FRESH_GENERATOR(gen);
  const GPTOptions o = tiny();
  Module att = to_f64(Attention(o), gen);
  const std::int64_t B = 2, T = 4, D = o.d_embed, H = o.heads, dq = o.d_query, dv = o.d_value;
  const Tensor x = randn64({B, T, D}, gen);
  const std::vector<double> y = at(att.forward(x));
  const std::vector<Parameter> p = att.parameters();  // V, Q, K, O in tree order
  BOOST_TEST_REQUIRE(p.size() == 4u);
  const std::vector<double> wv = at(p[0].weight), wq = at(p[1].weight), wk = at(p[2].weight),
                            wo = at(p[3].weight), xs = at(x);
  const auto project = [&](const std::vector<double>& w, std::int64_t out, std::int64_t b,
                           std::int64_t t, std::int64_t j) {
    double s = 0;
    for (std::int64_t i = 0; i < D; ++i) s += w[j * D + i] * xs[(b * T + t) * D + i];
    (void)out;
    return s;
  };
  const std::int64_t r = dq / 2;
  const auto rope = [&](const std::vector<double>& w, std::int64_t b, std::int64_t h,
                        std::int64_t t, std::int64_t j) {  // rotated entry j of head h
    const std::int64_t i = j % r;
    const double angle = static_cast<double>(t) * std::pow(10000.0, -static_cast<double>(i) / r);
    const double lo = project(w, H * dq, b, t, h * dq + i),
                 hi = project(w, H * dq, b, t, h * dq + r + i);
    return j < r ? std::cos(angle) * lo + std::sin(angle) * hi
                 : std::sin(angle) * lo - std::cos(angle) * hi;
  };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) {
      std::vector<double> merged(static_cast<std::size_t>(H * dv), 0.0);
      for (std::int64_t h = 0; h < H; ++h) {
        std::vector<double> score(static_cast<std::size_t>(t + 1));
        double top = -std::numeric_limits<double>::infinity();
        for (std::int64_t s = 0; s <= t; ++s) {  // causal: positions s <= t
          double dot = 0;
          for (std::int64_t j = 0; j < dq; ++j) dot += rope(wq, b, h, t, j) * rope(wk, b, h, s, j);
          score[s] = dot / static_cast<double>(dq);
          top = std::max(top, score[s]);
        }
        double total = 0;
        for (double& e : score) total += (e = std::exp(e - top));
        for (std::int64_t s = 0; s <= t; ++s)
          for (std::int64_t j = 0; j < dv; ++j)
            merged[h * dv + j] += score[s] / total * project(wv, H * dv, b, s, h * dv + j) / 3.0;
      }
      for (std::int64_t e = 0; e < D; ++e) {
        double out = 0;
        for (std::int64_t j = 0; j < H * dv; ++j) out += wo[e * H * dv + j] * merged[j];
        BOOST_TEST_INFO("b " << b << " t " << t << " e " << e);
        BOOST_TEST(y[(b * T + t) * D + e] == out, tt::tolerance(1e-12));
      }
    }
}

BOOST_AUTO_TEST_CASE(attention_and_gpt_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(to_f64(Attention(tiny()), gen), randn64({2, 3, 4}, gen), gen);
  GPTOptions no_mask = tiny();
  no_mask.causal = false;
  mt::check_gradients(to_f64(Attention(no_mask), gen), randn64({1, 3, 4}, gen), gen);
  const Tensor ids = Tensor::from_vector_i32({0, 4, 2, 2, 1, 3}, {2, 3});
  mt::check_gradients(to_f64(GPT(tiny()), gen), ids, gen, /*check_input=*/false);
}

// modula's GPT worked by hand (docs/modules.md, "Attention and GPT"): M = 1 + 5 + 1 = 7;
// every block and the tuple (V, scores) have sensitivity 1, so the tree has sensitivity f
// (final_scale). Coefficients: embed and out 7f; inside the blocks (factor 7f/5, then L for a
// pair's share, 1/(2L) for the residual's scale, 3/2 for attention's 4 of a pair's 6 atoms and
// 3 for the MLP's 2): Q, K and V 7f/5, O and both MLP layers 21f/5.
BOOST_AUTO_TEST_CASE(gpt_follows_the_composition_rules) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const double f : {1.0, 2.0})
    for (const std::int64_t blocks : {1, 3}) {
      GPTOptions o = tiny();
      o.blocks = blocks;
      o.final_scale = f;
      Module gpt = GPT(o);
      BOOST_TEST_INFO("final_scale " << f << ", blocks " << blocks);
      BOOST_TEST(gpt.mass() == 7.0, tt::tolerance(1e-14));
      BOOST_TEST(gpt.sensitivity() == f, tt::tolerance(1e-14));
      const std::vector<Parameter> p = gpt.parameters();
      BOOST_TEST_REQUIRE(p.size() == static_cast<std::size_t>(2 + 6 * blocks));
      BOOST_TEST(p.front().coefficient == 7 * f, tt::tolerance(1e-12));  // embed
      BOOST_TEST(p.back().coefficient == 7 * f, tt::tolerance(1e-12));   // out
      for (std::int64_t k = 0; k < blocks; ++k) {
        // a pair's atoms in tree order: V, Q, K, O, then the MLP's two Linears
        const double expected[] = {7 * f / 5,  7 * f / 5,  7 * f / 5,
                                   21 * f / 5, 21 * f / 5, 21 * f / 5};
        for (int j = 0; j < 6; ++j) {
          const Parameter& q = p[static_cast<std::size_t>(1 + 6 * k + j)];
          BOOST_TEST_INFO(q.name);
          BOOST_TEST(q.coefficient == expected[j], tt::tolerance(1e-12));
          BOOST_TEST(q.mass == 5.0 / (6.0 * blocks), tt::tolerance(1e-14));
        }
      }
      gpt.initialize(gen);
      mt::check_duality_map_has_unit_norm(gpt, gen);
    }
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_bond) {
  mt::expect_error([] { SplitIntoHeads(0); }, {"[SplitIntoHeads]", "heads must be >= 1, got 0"});
  mt::expect_error([] { Rope(3); }, {"[Rope]", "even", "3"});
  mt::expect_error([] { Softmax(-1.0); }, {"[Softmax]", "scale", "-1"});
  Module split = SplitIntoHeads(3);
  mt::expect_error(
      [&] {
        split.forward(Tensor::zeros({2, 3, 4}));
      },
      {"[SplitIntoHeads.forward]", "[2x3x4]", "multiple of 3"});
  Module qk = AttentionQK();
  mt::expect_error(
      [&] {
        qk.forward(Tensor::zeros({1, 1, 2, 2}));
      },
      {"[AttentionQK.forward]", "takes the tuple (q, k), got 1 tensors"});
  mt::expect_error(
      [&] {
        qk.forward_tuple({Tensor::zeros({1, 1, 2, 2}), Tensor::zeros({1, 1, 3, 2})});
      },
      {"[AttentionQK.forward]", "[1x1x2x2]", "[1x1x3x2]", "differ"});
  Module rope = Rope(4);
  mt::expect_error(
      [&] {
        rope.forward_tuple({Tensor::zeros({1, 1, 2, 6}), Tensor::zeros({1, 1, 2, 6})});
      },
      {"[Rope.forward]", "not d_head 4"});
}

BOOST_AUTO_TEST_SUITE_END()
