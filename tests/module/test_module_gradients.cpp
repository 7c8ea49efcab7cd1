// Every atom, bond and compound's backward against central finite differences in float64,
// on random inputs and weights; and the bonds' documented sensitivities.
#include <boost/test/unit_test.hpp>

#include "module/module_support.hpp"

namespace mt = modnorm::test;
using modnorm::test::randn64;
using namespace modnorm;
using modnorm::test::token_ids;

namespace {

Module initialized(Module net, Generator& gen) {
  net.initialize(gen);
  return net;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(module_gradients)

BOOST_AUTO_TEST_CASE(linear_matches_finite_differences_for_matrix_and_sequence_inputs) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(initialized(Linear(5, 3, mt::f64_atom()), gen), randn64({4, 5}, gen), gen);
  mt::check_gradients(initialized(Linear(4, 2, mt::f64_atom()), gen), randn64({2, 3, 4}, gen), gen);
  mt::check_gradients(initialized(Linear(1, 1, mt::f64_atom()), gen), randn64({1, 1}, gen), gen);
}

BOOST_AUTO_TEST_CASE(bias_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(initialized(Bias(6, mt::f64_atom()), gen), randn64({3, 6}, gen), gen);
  mt::check_gradients(initialized(Bias(2, mt::f64_atom()), gen), randn64({2, 3, 2}, gen), gen);
}

BOOST_AUTO_TEST_CASE(embed_weight_gradient_matches_finite_differences_with_repeated_ids) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(initialized(Embed(5, 3, mt::f64_atom()), gen), token_ids({7}, 5, gen), gen,
                      false);
  mt::check_gradients(initialized(Embed(4, 2, mt::f64_atom()), gen), token_ids({3, 5}, 4, gen), gen,
                      false);
}

BOOST_AUTO_TEST_CASE(elementwise_bonds_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  for (Module bond :
       {Module(ReLU()), Module(GELU()), Module(Abs()), Module(Identity()), Module(Scale(-1.5))})
    mt::check_gradients(bond, randn64({4, 5}, gen), gen);
}

BOOST_AUTO_TEST_CASE(shape_bonds_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(Flatten(), randn64({2, 3, 4}, gen), gen);
  mt::check_gradients(Mean(1), randn64({2, 3, 4}, gen), gen);
  mt::check_gradients(Mean(-1), randn64({3, 5}, gen), gen);
  mt::check_gradients(Mean(0), randn64({4, 2}, gen), gen);
  mt::check_gradients(Unflatten({3, 2}), randn64({2, 6}, gen), gen);
  Module images = Unflatten({2, 3, 1});
  BOOST_TEST((images.forward(randn64({4, 6}, gen)).shape() == Shape{4, 2, 3, 1}));
  BOOST_TEST(images.impl().describe() == "Unflatten([2x3x1])");
}

BOOST_AUTO_TEST_CASE(rms_norm_matches_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  mt::check_gradients(RMSNorm(), randn64({4, 6}, gen), gen);
  mt::check_gradients(RMSNorm(0.5), randn64({2, 3, 5}, gen), gen);
}

BOOST_AUTO_TEST_CASE(mlp_residual_and_embedding_nets_match_finite_differences) {
  MODNORM_FRESH_GENERATOR(gen);
  const auto a = [] { return mt::f64_atom(); };
  Module mlp = Linear(6, 5, a()) >> Bias(5, a()) >> ReLU() >> Linear(5, 4, a()) >> GELU() >>
               Linear(4, 3, mt::f64_atom(2.0));
  mt::check_gradients(initialized(mlp, gen), randn64({5, 6}, gen), gen);

  Module block = Linear(4, 4, a()) >> RMSNorm() >> GELU();
  Module residual = Sequential{Linear(6, 4, a()), Add{Scale(0.75), Scale(0.25, block)}, ReLU(),
                               Linear(4, 2, a())};
  mt::check_gradients(initialized(residual, gen), randn64({3, 6}, gen), gen);

  Module embedding =
      Sequential{Embed(7, 3, a()), Flatten(), Linear(12, 5, a()), Abs(), Linear(5, 2, a())};
  mt::check_gradients(initialized(embedding, gen), token_ids({3, 4}, 7, gen), gen, false);

  Module pooled = Embed(7, 3, a()) >> Mean(1) >> Linear(3, 2, a());
  mt::check_gradients(initialized(pooled, gen), token_ids({2, 5}, 7, gen), gen, false);

  Module branches =
      Add{Linear(3, 2, a()), Linear(3, 2, a()) >> ReLU(), Scale(-2.0, Linear(3, 2, a()))};
  mt::check_gradients(initialized(branches, gen), randn64({4, 3}, gen), gen);
}

BOOST_AUTO_TEST_CASE(backward_without_input_grad_gives_the_same_weight_gradients) {
  // input_grad = false skips dL/dx where the input is data; the weight gradients must not
  // change. The nets put a Linear, an Add, a Scale(a, M) and an Embed where the input enters.
  MODNORM_FRESH_GENERATOR(gen);
  const auto a = [] { return mt::f64_atom(); };
  struct Case {
    Module net;
    Tensor x;
  };
  std::vector<Case> cases;
  cases.push_back({Linear(6, 5, a()) >> ReLU() >> Linear(5, 3, a()), randn64({4, 6}, gen)});
  cases.push_back({Add{Linear(6, 3, a()), Linear(6, 3, a()) >> GELU()} >> Linear(3, 2, a()),
                   randn64({4, 6}, gen)});
  cases.push_back(
      {Scale(-2.0, Linear(4, 3, a()) >> RMSNorm()) >> Linear(3, 2, a()), randn64({5, 4}, gen)});
  cases.push_back({Embed(7, 3, a()) >> Mean(1) >> Linear(3, 2, a()), token_ids({2, 5}, 7, gen)});
  for (Case& c : cases) {
    BOOST_TEST_CONTEXT(c.net.impl().describe()) {
      c.net.initialize(gen);
      const Tensor dy = randn64(c.net.forward(c.x).shape(), gen);
      c.net.zero_grad();
      c.net.backward(dy);
      std::vector<std::vector<double>> full;
      for (const Parameter& p : c.net.parameters()) full.push_back(p.grad.to_vector_f64());
      c.net.zero_grad();
      c.net.forward(c.x);
      const Tensor dx = c.net.backward(dy, false);
      BOOST_TEST(dx.numel() == 0);
      const auto params = c.net.parameters();
      for (std::size_t l = 0; l < params.size(); ++l) {
        BOOST_TEST_INFO(params[l].name);
        BOOST_TEST(params[l].grad.to_vector_f64() == full[l]);  // the same arithmetic, bit for bit
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_until_zero_grad) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = initialized(Linear(3, 2, mt::f64_atom()), gen);
  const Tensor x = randn64({4, 3}, gen), dy = randn64({4, 2}, gen);
  net.forward(x);
  net.backward(dy);
  const std::vector<double> once = net.parameters()[0].grad.to_vector_f64();
  net.forward(x);
  net.backward(dy);
  const std::vector<double> twice = net.parameters()[0].grad.to_vector_f64();
  for (std::size_t k = 0; k < once.size(); ++k)
    BOOST_TEST(twice[k] == 2 * once[k], boost::test_tools::tolerance(1e-12));
  net.zero_grad();
  BOOST_TEST(max_abs(net.parameters()[0].grad) == 0.0);
}

// The documented sensitivities: sup of |f'| over the real line (ReLU, Abs: 1; GELU / g: 1).
BOOST_AUTO_TEST_CASE(elementwise_bonds_have_their_documented_sensitivity) {
  const std::int64_t n = 120001;
  std::vector<double> grid(n);
  for (std::int64_t k = 0; k < n; ++k)
    grid[static_cast<std::size_t>(k)] = -6.0 + 12.0 * static_cast<double>(k) / (n - 1);
  const Tensor x = Tensor::from_vector_f64(grid, {1, n});
  for (Module bond : {Module(ReLU()), Module(GELU()), Module(Abs())}) {
    bond.forward(x);
    const double slope = max_abs(bond.backward(Tensor::full({1, n}, 1.0, DType::f64)));
    BOOST_TEST_INFO(bond.impl().describe());
    BOOST_TEST(slope <= bond.sensitivity() * (1 + 1e-12));
    BOOST_TEST(slope >= bond.sensitivity() * (1 - 1e-8));
  }
  BOOST_TEST(Scale(-2.5).sensitivity() == 2.5);
  BOOST_TEST(Scale(-2.5, Scale(0.5)).sensitivity() == 1.25);
}

// RMSNorm: unit-RMS rows out; and 1-Lipschitz (||J dy||_RMS <= ||dy||_RMS) at inputs with
// row RMS >= 1, as its documented sensitivity 1 claims.
BOOST_AUTO_TEST_CASE(rms_norm_outputs_unit_rms_rows_and_is_one_lipschitz_at_unit_scale) {
  MODNORM_FRESH_GENERATOR(gen);
  Module rms = RMSNorm(0.0);
  for (double scale_x : {1.0, 3.0, 100.0}) {
    const Tensor x = scale(randn64({8, 16}, gen), scale_x);
    const Tensor y = rms.forward(x);
    const std::vector<double> norms = row_norms(y).to_vector_f64();
    for (double n : norms) BOOST_TEST(n / 4.0 == 1.0, boost::test_tools::tolerance(1e-12));
    const std::vector<double> x_norms = row_norms(x).to_vector_f64();
    for (int trial = 0; trial < 20; ++trial) {
      const Tensor dy = randn64({8, 16}, gen);
      const Tensor dx = rms.backward(dy);
      const std::vector<double> in = row_norms(dy).to_vector_f64(),
                                out = row_norms(dx).to_vector_f64();
      for (std::size_t i = 0; i < in.size(); ++i)
        if (x_norms[i] >= 4.0) BOOST_TEST(out[i] <= in[i] * (1 + 1e-12));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
