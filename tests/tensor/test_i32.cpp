// The i32 dtype (integer token ids): making, converting in both directions, reading back,
// saving; a float -> i32 conversion that would round is refused, and so is every operation.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

#include "modnorm/ops.hpp"
#include "modnorm/safetensors.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::expect_error;

BOOST_AUTO_TEST_SUITE(i32)

BOOST_AUTO_TEST_CASE(from_vector_i32_keeps_values_shape_and_order) {
  const std::vector<std::int32_t> ids = {5, 0, -7, 2147483647, -2147483647 - 1, 42};
  const auto t = Tensor::from_vector_i32(ids, {2, 3});
  BOOST_TEST((t.shape() == Shape{2, 3}));
  BOOST_TEST(t.dtype() == DType::i32);
  BOOST_TEST(itemsize(DType::i32) == 4u);
  BOOST_TEST(t.nbytes() == 24u);
  BOOST_TEST(t.describe() == "[2x3] i32 cpu");
  BOOST_TEST(std::string(to_string(DType::i32)) == "i32");
  const std::int32_t* p = t.data<std::int32_t>();
  BOOST_TEST((std::vector<std::int32_t>(p, p + 6) == ids));
  const std::vector<double> as_doubles(ids.begin(), ids.end());
  BOOST_TEST((t.to_vector_f64() == as_doubles));  // exact, extremes included
  BOOST_TEST(Tensor::from_vector_i32({9}, {}).item() == 9.0);
  std::ostringstream os;
  os << Tensor::from_vector_i32({1, 2}, {2});
  BOOST_TEST(os.str() == "Tensor([2] i32 cpu {1, 2})");
  // Every rank, empty included; reshape and clone keep the dtype.
  BOOST_TEST(Tensor::from_vector_i32({}, {0, 3}).numel() == 0);
  BOOST_TEST(Tensor::from_vector_i32({1, 2, 3, 4}, {1, 2, 1, 2}).reshape({4}).dtype() ==
             DType::i32);
  const auto c = t.clone();
  BOOST_TEST((!c.same_storage(t) && c.to_vector_f64() == as_doubles));
  expect_error(
      [] {
        Tensor::from_vector_i32({1, 2, 3}, {2, 2});
      },
      {"[Tensor::from_vector_i32] 3 values", "[2x2]"});
  expect_error([] { Tensor::from_vector_i32({1}, {1}).data<float>(); },
               {"[Tensor::data]", "i32", "f32"});
}

BOOST_AUTO_TEST_CASE(float_integers_round_trip_through_i32_in_every_dtype) {
  const std::vector<double> values = {0, 1, -1, 3, 255, -256, 4096, -65536, 1e6};
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      const auto x = Tensor::from_vector_f64(values, {3, 3}).to(dt);  // all exact in bf16 too
      const auto ids = x.to(DType::i32);
      BOOST_TEST(ids.dtype() == DType::i32);
      BOOST_TEST((ids.shape() == Shape{3, 3}));
      BOOST_TEST((ids.to_vector_f64() == x.to_vector_f64()));
      BOOST_TEST((ids.to(dt).to_vector_f64() == x.to_vector_f64()));
    }
  }
  // The extremes of i32 are exact in f64, and -0 becomes 0.
  const auto extremes = Tensor::from_vector_f64({2147483647.0, -2147483648.0, -0.0}, {3});
  const auto e = extremes.to(DType::i32);
  BOOST_TEST(e.data<std::int32_t>()[0] == std::numeric_limits<std::int32_t>::max());
  BOOST_TEST(e.data<std::int32_t>()[1] == std::numeric_limits<std::int32_t>::min());
  BOOST_TEST(e.data<std::int32_t>()[2] == 0);
  // i32 -> f32 rounds above 2^24 like any integer does (documented); i32 -> f64 is exact.
  const auto big = Tensor::from_vector_i32({16777217}, {1});
  BOOST_TEST(big.to(DType::f32).to_vector()[0] == 16777216.0f);
  BOOST_TEST(big.to(DType::f64).item() == 16777217.0);
  BOOST_TEST(Tensor::from_vector_i32({257}, {1}).to(DType::bf16).item() == 256.0);
  // Factories.
  BOOST_TEST((Tensor::zeros({2, 2}, DType::i32).to_vector_f64() == std::vector<double>(4, 0.0)));
  BOOST_TEST((Tensor::full({3}, -4.0, DType::i32).to_vector_f64() == std::vector<double>(3, -4.0)));
  BOOST_TEST((Tensor::eye(2, DType::i32).to_vector_f64() == std::vector<double>{1, 0, 0, 1}));
}

BOOST_AUTO_TEST_CASE(float_to_i32_refuses_what_it_would_have_to_round) {
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      expect_error(
          [&] {
            Tensor::from_vector_f64({1, 2.5, 3}, {3}).to(dt).to(DType::i32);
          },
          {"[Tensor::to] element 1 of [3] " + std::string(to_string(dt)) +
               " cpu is 2.5, not an integer in the range of i32",
           "round or clamp it"});
      expect_error(
          [&] {
            Tensor::from_vector_f64({0, std::nan("")}, {2}).to(dt).to(DType::i32);
          },
          {"element 1", "is nan"});
      expect_error([&] { Tensor::from_vector_f64({-INFINITY}, {1}).to(dt).to(DType::i32); },
                   {"element 0", "-inf"});
      expect_error(
          [&] {
            Tensor::from_vector_f64({0, 0, 4294967296.0}, {3}).to(dt).to(DType::i32);
          },
          {"element 2", "4294967296", "[-2147483648, 2147483647]"});
    }
  }
  expect_error([] { Tensor::from_vector_f64({2147483648.0}, {1}).to(DType::i32); },
               {"element 0", "2147483648,"});
  expect_error([] { Tensor::from_vector_f64({-2147483649.0}, {1}).to(DType::i32); },
               {"element 0", "-2147483649"});
  expect_error([] { Tensor::full({2}, 0.5, DType::i32); },
               {"[Tensor::full] value 0.5 is not an integer in the range of i32"});
  expect_error([] { Tensor::full({2}, 3e9, DType::i32); }, {"[Tensor::full] value 3000000000"});
  Generator gen(1);
  expect_error([&] { Tensor::randn({2}, gen, DType::i32); },
               {"[Tensor::randn]", "float dtype", "i32"});
}

BOOST_AUTO_TEST_CASE(every_operation_refuses_i32_naming_itself) {
  const auto ids = Tensor::from_vector_i32({1, 2, 3, 4}, {2, 2});
  const auto f = Tensor::zeros({2, 2});
  const std::string what = "expects a floating-point tensor (f32, bf16 or f64), got [2x2] i32 cpu";
  auto refused = [&](const char* op, auto&& call) {
    BOOST_TEST_CONTEXT(op) {
      expect_error(call, {std::string("[") + op + "] " + what});
    }
  };
  refused("matmul", [&] { matmul(ids, ids); });
  refused("matmul", [&] { matmul(f, ids); });
  auto out = Tensor::zeros({2, 2}, DType::i32);
  refused("gemm", [&] { gemm(1, ids, false, ids, false, 0, out); });
  refused("dot", [&] { dot(ids, ids); });
  refused("add", [&] { add(ids, ids); });
  refused("sub", [&] { sub(ids, f); });
  refused("mul", [&] { mul(ids, ids); });
  refused("div", [&] { div(ids, ids); });
  refused("scale", [&] { scale(ids, 2.0); });
  auto y = ids.clone();
  refused("axpy", [&] { axpy(1.0, ids, y); });
  refused("fill", [&] { fill(y, 0.0); });
  refused("relu", [&] { relu(ids); });
  refused("gelu", [&] { gelu(ids); });
  refused("abs", [&] { abs(ids); });
  refused("sign", [&] { sign(ids); });
  refused("sqrt", [&] { modnorm::sqrt(ids); });
  refused("exp", [&] { modnorm::exp(ids); });
  refused("log", [&] { modnorm::log(ids); });
  refused("relu_backward", [&] { relu_backward(ids, ids); });
  refused("exp_backward", [&] { exp_backward(ids, ids); });
  refused("log_backward", [&] { log_backward(ids, ids); });
  refused("all_finite", [&] { all_finite(ids); });
  refused("frobenius_norm", [&] { frobenius_norm(ids); });
  refused("max_abs", [&] { max_abs(ids); });
  refused("row_norms", [&] { row_norms(ids); });
  refused("col_norms", [&] { col_norms(ids); });
  refused("sum", [&] { sum(ids, 0); });
  refused("mean", [&] { mean(ids); });
  refused("max", [&] { max(ids); });
  refused("transpose", [&] { transpose(ids); });
  refused("permute", [&] { permute(ids, {1, 0}); });
  refused("softmax", [&] { softmax(ids); });
  refused("softmax_backward", [&] { softmax_backward(ids, ids); });
  refused("tril", [&] { tril(ids, 0.0); });
  refused("gather_rows", [&] { gather_rows(ids, {0}); });
  refused("gather_cols", [&] { gather_cols(ids, {0}); });
  refused("scatter_add_rows", [&] { scatter_add_rows(y, {0}, Tensor::zeros({1, 2}, DType::i32)); });
  refused("scatter_add_cols", [&] { scatter_add_cols(y, {0}, Tensor::zeros({2, 1}, DType::i32)); });
  refused("softmax_cross_entropy", [&] { softmax_cross_entropy(ids, {0, 1}); });
  BOOST_TEST((y.to_vector_f64() == ids.to_vector_f64()));  // nothing was written
}

BOOST_AUTO_TEST_CASE(safetensors_saves_and_loads_i32_as_I32) {
  modnorm::test::TempDir dir;
  const auto ids = Tensor::from_vector_i32({3, -1, 2147483647, 0, 7, 9}, {3, 2});
  save_safetensors(dir.file("ids.safetensors"), {{"ids", ids}, {"w", Tensor::zeros({2})}});
  const auto file = load_safetensors(dir.file("ids.safetensors"));
  const auto& back = file.at("ids");
  BOOST_TEST(back.dtype() == DType::i32);
  BOOST_TEST((back.shape() == Shape{3, 2}));
  BOOST_TEST((back.to_vector_f64() == ids.to_vector_f64()));
}

BOOST_AUTO_TEST_SUITE_END()
