// MLP (models/mlp.hpp): the layers, names and masses of the `>>` chain it stands for, its
// forward against explicit products, depth 1, and the errors.
#include <boost/test/unit_test.hpp>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using namespace modnorm;
namespace mt = modnorm::test;

BOOST_AUTO_TEST_SUITE(mlp)

BOOST_AUTO_TEST_CASE(layers_names_and_masses_are_those_of_the_chain) {
  MLPOptions o;
  o.inputs = 6;
  o.width = 5;
  o.depth = 4;
  o.classes = 3;
  const Module net = MLP(o);
  const Module chain =
      Linear(6, 5) >> ReLU() >> Linear(5, 5) >> ReLU() >> Linear(5, 5) >> ReLU() >> Linear(5, 3);
  const std::vector<Parameter> got = net.parameters(), want = chain.parameters();
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (std::size_t l = 0; l < got.size(); ++l) {
    BOOST_TEST(got[l].name == want[l].name);
    BOOST_TEST(got[l].weight.shape() == want[l].weight.shape());
    BOOST_TEST(got[l].coefficient == want[l].coefficient);
  }
  BOOST_TEST(net.mass() == 4.0);
  BOOST_TEST(net.sensitivity() == 1.0);
  BOOST_TEST(net.impl().children().size() == 7u);
}

BOOST_AUTO_TEST_CASE(forward_is_the_products_with_relu_between) {
  MODNORM_FRESH_GENERATOR(gen);
  MLPOptions o;
  o.inputs = 7;
  o.width = 6;
  o.depth = 3;
  o.classes = 4;
  Module net = MLP(o);
  net.initialize(gen);
  const Tensor x = Tensor::randn({5, 7}, gen, DType::f32);
  const std::vector<Parameter> p = net.parameters();
  Tensor h = x;
  for (std::size_t l = 0; l < p.size(); ++l) {
    h = matmul(h, p[l].weight, false, true);
    if (l + 1 < p.size()) h = relu(h);
  }
  BOOST_TEST(mt::max_abs_diff(net.forward(x).to_vector_f64(), h.to_vector_f64()) == 0.0);
}

BOOST_AUTO_TEST_CASE(depth_one_is_one_linear) {
  MLPOptions o;
  o.depth = 1;
  const Module net = MLP(o);
  BOOST_REQUIRE_EQUAL(net.parameters().size(), 1u);
  BOOST_TEST((net.parameters()[0].weight.shape() == Shape{10, 784}));
}

BOOST_AUTO_TEST_CASE(sizes_below_one_are_refused) {
  for (const auto& [depth, width] : {std::pair<std::int64_t, std::int64_t>{0, 5}, {2, 0}}) {
    MLPOptions o;
    o.depth = depth;
    o.width = width;
    mt::expect_error([&] { MLP(o); },
                     {"[MLP]", "depth " + std::to_string(depth), "width " + std::to_string(width)});
  }
}

BOOST_AUTO_TEST_SUITE_END()
