// Bad input gets a modnorm::Error that names the operation and quotes the shapes, dtypes or
// devices it received.
#include <boost/test/unit_test.hpp>

#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;

namespace {

using modnorm::test::expect_error;

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(error_is_a_runtime_error) {
  BOOST_CHECK_THROW(throw Error("x"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(matmul_names_both_shapes) {
  auto a = Tensor::zeros({3, 4}), b = Tensor::zeros({5, 2});
  expect_error([&] { matmul(a, b); }, {"[matmul] inner dimensions differ: [3x4] x [5x2]"});
  expect_error([&] { matmul(a, b, true, false); }, {"[3x4]^T x [5x2]"});
  expect_error([&] { matmul(Tensor::zeros({3}), b); }, {"[matmul]", "rank 2", "[3] f32 cpu"});
  auto out = Tensor::zeros({3, 3});
  expect_error(
      [&] {
        gemm(1, a, false, Tensor::zeros({4, 2}), false, 0, out);
      },
      {"[gemm] output [3x3]", "[3x2]"});
}

BOOST_AUTO_TEST_CASE(mixed_dtypes_and_shapes_are_refused) {
  auto a = Tensor::zeros({2, 2}), b = Tensor::zeros({2, 2}, DType::f64);
  expect_error([&] { add(a, b); }, {"[add] dtypes differ", "[2x2] f32 cpu", "[2x2] f64 cpu"});
  expect_error([&] { matmul(a, b); }, {"[matmul] dtypes differ"});
  expect_error([&] { mul(a, Tensor::zeros({2, 3})); }, {"[mul] shapes differ: [2x2] and [2x3]"});
  auto y = Tensor::zeros({3});
  expect_error([&] { axpy(1.0, a, y); }, {"[axpy] shapes differ"});
  expect_error([&] { dot(a, y); }, {"[dot]"});
}

BOOST_AUTO_TEST_CASE(bad_shapes_are_refused) {
  expect_error([&] { Tensor::zeros({1, 2, 3, 4, 5}); }, {"[Tensor::empty] rank 5", "[1x2x3x4x5]"});
  expect_error([&] { Tensor::zeros({2, -1}); }, {"negative dimension", "[2x-1]"});
  expect_error(
      [&] {
        Tensor::from_vector({1, 2, 3}, {2, 2});
      },
      {"[Tensor::from_vector] 3 values", "[2x2]", "4 elements"});
  expect_error([&] { Tensor::zeros({2, 3}).reshape({4, 2}); }, {"[Tensor::reshape]", "[4x2]"});
  expect_error([&] { Tensor::zeros({2, 3}).dim(2); }, {"[Tensor::dim] axis 2"});
  expect_error([&] { Tensor::zeros({2, 3}).item(); }, {"[Tensor::item]"});
  expect_error([&] { Tensor::eye(-1); }, {"[Tensor::eye]"});
  expect_error([&] { sum(Tensor::zeros({2, 3}), 2); }, {"[sum] axis 2"});
  expect_error([&] { mean(Tensor::zeros({0, 3}), 0); }, {"[mean] axis 0", "is empty"});
  expect_error([&] { max(Tensor::zeros({0})); }, {"[max]", "is empty"});
  expect_error([&] { transpose(Tensor::zeros({2, 3, 4})); }, {"[transpose]"});
  expect_error([&] { row_norms(Tensor::zeros({3})); }, {"[row_norms]"});
}

BOOST_AUTO_TEST_CASE(host_pointer_access_checks_the_type) {
  auto t = Tensor::zeros({2});
  expect_error([&] { t.data<double>(); }, {"[Tensor::data]", "f32", "f64"});
}

BOOST_AUTO_TEST_CASE(indices_out_of_range_are_named) {
  auto table = Tensor::zeros({4, 3});
  const auto ids = [](const std::vector<std::int32_t>& values) {
    return Tensor::from_vector_i32(values, {static_cast<std::int64_t>(values.size())});
  };
  expect_error(
      [&] {
        gather_rows(table, ids({0, 4}));
      },
      {"[gather_rows] id 4 at position 1", "[0, 4) (rows of [4x3] f32 cpu)"});
  expect_error([&] { gather_cols(table, ids({-1})); }, {"[gather_cols] id -1", "[0, 3)"});
  expect_error(
      [&] {
        scatter_add_cols(table, ids({0}), Tensor::zeros({3, 1}));
      },
      {"[scatter_add_cols] source [3x1] should be [4x1]"});
  expect_error(
      [&] {
        scatter_add_rows(table, ids({9}), Tensor::zeros({1, 3}));
      },
      {"[scatter_add_rows] id 9"});
  auto logits = Tensor::zeros({2, 3});
  expect_error([&] { softmax_cross_entropy(logits, ids({0})); },
               {"[softmax_cross_entropy] 1 labels [1] i32 cpu", "2 rows"});
  expect_error(
      [&] {
        softmax_cross_entropy(logits, ids({0, 3}));
      },
      {"label 3 at position 1", "(class labels)"});
  expect_error(
      [&] {
        softmax_cross_entropy(Tensor::zeros({0, 3}), ids({}));
      },
      {"at least one example"});
}

BOOST_AUTO_TEST_CASE(batched_products_name_ranks_batches_and_inner_dimensions) {
  auto a = Tensor::zeros({2, 3, 4}), b = Tensor::zeros({2, 4, 5});
  BOOST_TEST((matmul(a, b).shape() == Shape{2, 3, 5}));
  expect_error(
      [&] {
        matmul(a, Tensor::zeros({4, 5}));
      },
      {"[matmul] ranks differ: [2x3x4] x [4x5]", "reshape [B, T, K] to [B*T, K]"});
  expect_error(
      [&] {
        matmul(a, Tensor::zeros({3, 4, 5}));
      },
      {"[matmul] batch dimensions differ: [2x3x4] x [3x4x5]"});
  expect_error(
      [&] {
        matmul(Tensor::zeros({2, 2, 3, 4}), Tensor::zeros({2, 3, 4, 5}));
      },
      {"batch dimensions differ: [2x2x3x4] x [2x3x4x5]"});
  expect_error([&] { matmul(a, b, false, true); },
               {"[matmul] inner dimensions differ: [2x3x4] x [2x4x5]^T"});
  expect_error([&] { matmul(Tensor::zeros({3}), Tensor::zeros({3})); },
               {"[matmul] expects matrices (rank 2) or batches of matrices (rank 3 or 4)", "[3]"});
  auto out = Tensor::zeros({2, 5, 3});
  expect_error([&] { gemm(1, a, false, b, false, 0, out); },
               {"[gemm] output [2x5x3] does not match the product [2x3x4] x [2x4x5] = [2x3x5]"});
}

BOOST_AUTO_TEST_CASE(permute_needs_a_permutation_of_the_axes) {
  auto x = Tensor::zeros({2, 3, 4});
  expect_error(
      [&] {
        permute(x, {0, 1});
      },
      {"[permute] axes [0, 1] should list each of the 3 axes of [2x3x4] f32 cpu once"});
  expect_error(
      [&] {
        permute(x, {0, 0, 1});
      },
      {"[permute] axes [0, 0, 1] name axis 0 twice", "permutation of 0 .. 2"});
  expect_error(
      [&] {
        permute(x, {0, 3, 1});
      },
      {"[permute] axis 3 in [0, 3, 1] is out of range for [2x3x4] f32 cpu"});
  expect_error([&] { permute(x, {-1, 2, 0}); }, {"[permute]", "name axis 2 twice"});
}

BOOST_AUTO_TEST_CASE(softmax_tril_exp_and_log_name_what_they_received) {
  expect_error([&] { softmax(Tensor::zeros({})); },
               {"[softmax] needs an axis to normalise along, got [] f32 cpu"});
  expect_error(
      [&] {
        softmax_backward(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}));
      },
      {"[softmax_backward] shapes differ: [2x3] and [3x2]"});
  expect_error([&] { softmax_backward(Tensor::zeros({2}), Tensor::zeros({2}, DType::f64)); },
               {"[softmax_backward] dtypes differ"});
  expect_error([&] { tril(Tensor::zeros({5}), 0.0); },
               {"[tril] expects a matrix or a batch of matrices (rank 2 to 4), got [5] f32 cpu"});
  expect_error([&] { exp_backward(Tensor::zeros({2}), Tensor::zeros({3})); },
               {"[exp_backward] shapes differ: [2] and [3]"});
  expect_error([&] { log_backward(Tensor::zeros({2}), Tensor::zeros({2}, DType::bf16)); },
               {"[log_backward] dtypes differ"});
}

BOOST_AUTO_TEST_SUITE_END()
