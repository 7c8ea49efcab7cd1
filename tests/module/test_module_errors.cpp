// Bad input to modules: each a modnorm::Error naming the module by its dotted path and quoting
// what was received.
#include <boost/test/unit_test.hpp>
#include <iostream>

#include "module/module_support.hpp"

using namespace modnorm;

using modnorm::test::expect_error;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(module_errors)

BOOST_AUTO_TEST_CASE(wrong_input_width_names_the_module_path_and_shape) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = Sequential{Linear(4, 3), ReLU(), Linear(5, 2)};
  net.initialize(gen);
  expect_error(
      [&] {
        net.forward(Tensor::randn({2, 4}, gen));
      },
      {"[Linear.forward]", "module '2' (Linear(5 -> 2))", "[2x3]", "5"});
  Module nested = Sequential({{"block", Sequential{Linear(3, 3), Bias(3)}}});
  expect_error([&] { nested.forward(Tensor::randn({2, 4}, gen)); }, {"module 'block.0'", "[2x4]"});
}

// Ids are i32: a float id is refused, not rounded (a bf16 257 would be read as 256), and an id
// outside the vocabulary names its position.
BOOST_AUTO_TEST_CASE(token_ids_out_of_range_or_not_i32_are_rejected) {
  Module embed = Embed(10, 4);
  expect_error(
      [&] {
        embed.forward(Tensor::from_vector_i32({1, 12}, {2}));
      },
      {"[Embed.forward]", "module (root) (Embed(10 -> 4))", "12", "position 1", "[0, 10)"});
  expect_error([&] { embed.forward(Tensor::from_vector_i32({-1}, {1})); }, {"-1", "position 0"});
  expect_error([&] { embed.forward(Tensor::from_vector({2.0f}, {1})); },
               {"[Embed.forward]", "token ids must be i32", "f32", "to(DType::i32)"});
  expect_error([&] { embed.forward(Tensor::from_vector({257.0f}, {1}).to(DType::bf16)); },
               {"token ids must be i32", "bf16"});
  expect_error([&] { embed.forward(Tensor::zeros({1, 2, 3}, DType::i32)); }, {"[1x2x3]"});
}

BOOST_AUTO_TEST_CASE(backward_before_forward_is_an_error) {
  expect_error(
      [] {
        Module(Linear(3, 2)).backward(Tensor::zeros({1, 2}));
      },
      {"[Linear.backward]", "backward called before forward"});
  Module net = Sequential{Linear(3, 2), ReLU()};
  expect_error(
      [&] {
        net.backward(Tensor::zeros({1, 2}));
      },
      {"[ReLU.backward]", "module '1' (ReLU)"});
  for (Module m : {Module(Embed(3, 2)), Module(Bias(2)), Module(Flatten()), Module(Mean(0)),
                   Module(RMSNorm()), Module(Identity()), Module(GELU())})
    expect_error([&] { m.backward(Tensor::zeros({1, 2})); }, {"backward called before forward"});
}

BOOST_AUTO_TEST_CASE(gradient_of_the_wrong_shape_is_an_error) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = Linear(3, 2);
  net.initialize(gen);
  net.forward(Tensor::randn({4, 3}, gen));
  expect_error(
      [&] {
        net.backward(Tensor::zeros({4, 3}));
      },
      {"[Linear.backward]", "[4x3]", "[4x2]"});
}

BOOST_AUTO_TEST_CASE(bad_construction_arguments_are_rejected) {
  AtomOptions negative;
  negative.mass = -1;
  expect_error([&] { Linear(3, 2, negative); }, {"[Linear]", "mass", "-1"});
  AtomOptions nan_mass;
  nan_mass.mass = std::nan("");
  expect_error([&] { Bias(3, nan_mass); }, {"[Bias]", "mass"});
  expect_error([] { Linear(0, 2); }, {"[Linear]", "0"});
  expect_error([] { Embed(5, 0); }, {"[Embed]"});
  expect_error([] { Scale(std::nan("")); }, {"[Scale]"});
  expect_error([] { RMSNorm(-1.0); }, {"[RMSNorm]", "eps"});
  expect_error([] { Sequential(std::vector<Child>{}); }, {"[Sequential]"});
  expect_error([] { Add(std::vector<Child>{}); }, {"[Add]"});
  AtomOptions spectral;
  spectral.norm = Norm::spectral;
  expect_error([&] { Bias(3, spectral); }, {"[Bias]", "norm spectral needs a matrix", "[3]"});
}

BOOST_AUTO_TEST_CASE(add_with_mismatched_branch_shapes_names_both_shapes) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = Sequential{Linear(4, 4), Add{Linear(4, 3), Linear(4, 2)}};
  net.initialize(gen);
  expect_error(
      [&] {
        net.forward(Tensor::randn({2, 4}, gen));
      },
      {"[Add.forward]", "module '1' (Add)", "[2x2]", "[2x3]"});
}

BOOST_AUTO_TEST_CASE(input_dtype_or_device_unlike_the_weights_is_an_error) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net = Linear(3, 2);
  expect_error(
      [&] {
        net.forward(Tensor::randn({1, 3}, gen, DType::f64));
      },
      {"[Linear.forward]", "f64", "f32"});
}

BOOST_AUTO_TEST_CASE(mean_axis_out_of_range_is_an_error) {
  expect_error(
      [] {
        Module(Mean(2)).forward(Tensor::zeros({2, 3}));
      },
      {"[Mean.forward]", "axis 2", "[2x3]"});
}

BOOST_AUTO_TEST_CASE(unflatten_refuses_bad_shapes_and_inputs) {
  expect_error([] { Unflatten({}); }, {"[Unflatten]", "[]"});
  expect_error([] { Unflatten({2, 0}); }, {"[Unflatten]", "[2x0]"});
  expect_error([] { Unflatten({1, 2, 3, 4}); }, {"[Unflatten]", "1 to 3"});
  expect_error(
      [] {
        Module(Unflatten({28, 28, 1})).forward(Tensor::zeros({2, 783}));
      },
      {"[Unflatten.forward]", "[2x783]", "[B x 784]"});
  expect_error(
      [] {
        Module(Unflatten({2, 2})).forward(Tensor::zeros({2, 2, 2}));
      },
      {"[Unflatten.forward]", "[2x2x2]"});
}

// A block shared by two trees: each tree's forward + backward in turn is fine (and gives the
// gradients of a lone tree); another tree's forward in between is refused at backward instead
// of giving the gradients of the wrong input.
BOOST_AUTO_TEST_CASE(a_module_shared_by_two_trees_never_gives_wrong_gradients) {
  MODNORM_FRESH_GENERATOR(gen);
  AtomOptions f64;
  f64.dtype = DType::f64;
  Module shared = Linear(4, 4, f64);
  Module one = Linear(3, 4, f64) >> shared, two = Linear(5, 4, f64) >> shared;
  one.initialize(gen);
  two.initialize(gen);
  const Tensor x1 = Tensor::randn({2, 3}, gen, DType::f64),
               x5 = Tensor::randn({2, 5}, gen, DType::f64);
  const Tensor dy = Tensor::randn({2, 4}, gen, DType::f64);
  one.forward(x1);
  one.backward(dy);
  const std::vector<double> alone = shared.parameters()[0].grad.to_vector_f64();
  shared.zero_grad();
  one.forward(x1);
  two.forward(x5);  // refills shared's cache with tree two's input
  expect_error([&] { one.backward(dy); },
               {"[Module.backward]", "Linear(4 -> 4)", "another tree", "clone()"});
  two.backward(dy);  // the last forward's tree is fine
  shared.zero_grad();
  one.forward(x1);
  one.backward(dy);
  BOOST_TEST(shared.parameters()[0].grad.to_vector_f64() == alone, tt::per_element());
}

BOOST_AUTO_TEST_CASE(a_moved_from_module_throws) {
  Module net = Linear(3, 2);
  Module moved = std::move(net);
  BOOST_TEST(moved.mass() == 1.0);
  expect_error([&] { net.mass(); }, {"[Module]", "moved from"});
  expect_error([&] { net.parameters(); }, {"moved from"});
  expect_error([&] { net.forward(Tensor::zeros({1, 3})); }, {"moved from"});
  expect_error([&] { std::cout << net; }, {"moved from"});
}

BOOST_AUTO_TEST_SUITE_END()
