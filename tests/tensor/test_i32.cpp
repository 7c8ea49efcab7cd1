// The i32 dtype (integer token ids): making, converting in both directions, reading back,
// saving; a float -> i32 conversion that would round is refused, and so is every operation.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "modnorm/ops.hpp"
#include "modnorm/safetensors.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::expect_error;
using modnorm::test::max_abs_diff;
using modnorm::test::rel_error;

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
  const auto zero = Tensor::from_vector_i32({0}, {1});
  refused("gather_rows", [&] { gather_rows(ids, zero); });
  refused("gather_cols", [&] { gather_cols(ids, zero); });
  refused("scatter_add_rows", [&] {
    scatter_add_rows(y, zero, Tensor::zeros({1, 2}, DType::i32));
  });
  refused("scatter_add_cols", [&] {
    scatter_add_cols(y, zero, Tensor::zeros({2, 1}, DType::i32));
  });
  refused("softmax_cross_entropy", [&] {
    softmax_cross_entropy(ids, Tensor::from_vector_i32({0, 1}, {2}));
  });
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

// ---- the indexing ops take their ids as i32 tensors ----------------------------------------

namespace {

// k random ids in [0, n) (repeats likely), the first valid id 0 and the last n - 1 among them.
std::vector<std::int32_t> random_ids(std::int64_t k, std::int64_t n, Generator& gen) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(k));
  for (std::int32_t& id : ids)
    id = static_cast<std::int32_t>(gen.below(static_cast<std::uint64_t>(n)));
  ids.front() = 0;
  ids.back() = static_cast<std::int32_t>(n - 1);
  return ids;
}

// The bound a sum of f64-exact terms keeps in `dtype` (one rounding per addition).
double sum_band(DType dtype) {
  return dtype == DType::f64 ? 1e-12 : dtype == DType::f32 ? 1e-5 : 3e-2;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gather_and_scatter_add_match_a_float64_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const DType dtype : {DType::f32, DType::bf16, DType::f64}) {
    const std::int64_t n = 2 + static_cast<std::int64_t>(gen.below(7));
    const std::int64_t d = 1 + static_cast<std::int64_t>(gen.below(5));
    const std::int64_t k = 2 * n;  // more ids than rows: some repeat
    BOOST_TEST_CONTEXT(to_string(dtype) << " n " << n << " d " << d) {
      const Tensor table = Tensor::randn({n, d}, gen, dtype);
      const std::vector<double> t = table.to_vector_f64();
      const std::vector<std::int32_t> ids = random_ids(k, n, gen);
      const Tensor flat = Tensor::from_vector_i32(ids, {k}), square = flat.reshape({2, n});

      // gather copies the rows (columns) bit for bit; any shape of ids reads row-major.
      const std::vector<double> rows = gather_rows(table, square).to_vector_f64();
      const std::vector<double> cols = gather_cols(transpose(table), flat).to_vector_f64();
      std::vector<double> expected_rows, expected_cols(static_cast<std::size_t>(d * k));
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t c = 0; c < d; ++c) {
          const double v = t[static_cast<std::size_t>(ids[j] * d + c)];
          expected_rows.push_back(v);
          expected_cols[static_cast<std::size_t>(c * k + j)] = v;
        }
      BOOST_TEST((rows == expected_rows));
      BOOST_TEST((cols == expected_cols));

      // scatter_add: repeated ids sum up.
      const Tensor src = Tensor::randn({k, d}, gen, dtype);
      const std::vector<double> s = src.to_vector_f64();
      std::vector<double> sums = t;
      for (std::int64_t j = 0; j < k; ++j)
        for (std::int64_t c = 0; c < d; ++c)
          sums[static_cast<std::size_t>(ids[j] * d + c)] += s[static_cast<std::size_t>(j * d + c)];
      Tensor by_rows = table.clone(), by_cols = transpose(table);
      scatter_add_rows(by_rows, square, src);
      scatter_add_cols(by_cols, flat, transpose(src));
      BOOST_TEST(rel_error(by_rows.to_vector_f64(), sums) <= sum_band(dtype));
      BOOST_TEST(rel_error(transpose(by_cols).to_vector_f64(), sums) <= sum_band(dtype));
    }
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_matches_a_float64_reference_for_labels_of_any_shape) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::int64_t classes = 2 + static_cast<std::int64_t>(gen.below(9)), b = 3, t = 4;
  const Tensor logits = Tensor::randn({b * t, classes}, gen, DType::f64);
  const std::vector<std::int32_t> labels = random_ids(b * t, classes, gen);
  const std::vector<double> z = logits.to_vector_f64();
  double loss = 0;
  std::vector<double> grad(z.size());
  for (std::int64_t r = 0; r < b * t; ++r) {
    const double* row = z.data() + r * classes;
    double denom = 0;
    for (std::int64_t c = 0; c < classes; ++c) denom += std::exp(row[c]);
    loss += std::log(denom) - row[labels[static_cast<std::size_t>(r)]];
    for (std::int64_t c = 0; c < classes; ++c)
      grad[static_cast<std::size_t>(r * classes + c)] =
          (std::exp(row[c]) / denom - (c == labels[static_cast<std::size_t>(r)])) /
          static_cast<double>(b * t);
  }
  loss /= static_cast<double>(b * t);
  // [B x T] labels for the [B*T x classes] logits of a language model, or flat.
  for (const Shape& shape : {Shape{b, t}, Shape{b * t}}) {
    const CrossEntropy ce = softmax_cross_entropy(logits, Tensor::from_vector_i32(labels, shape));
    BOOST_TEST(std::abs(ce.loss - loss) <= 1e-12 * (1 + loss));
    BOOST_TEST(max_abs_diff(ce.grad.to_vector_f64(), grad) <= 1e-14);
  }
}

BOOST_AUTO_TEST_CASE(empty_ids_gather_nothing_and_add_nothing) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor table = Tensor::randn({3, 2}, gen), none = Tensor::zeros({0}, DType::i32);
  BOOST_TEST((gather_rows(table, none).shape() == Shape{0, 2}));
  BOOST_TEST((gather_cols(table, none).shape() == Shape{3, 0}));
  Tensor dst = table.clone();
  scatter_add_rows(dst, none, Tensor::zeros({0, 2}));
  scatter_add_cols(dst, none.reshape({0, 4}), Tensor::zeros({3, 0}));
  BOOST_TEST((dst.to_vector_f64() == table.to_vector_f64()));
}

// Every op names the first id outside the range, its position and the range; scatter_add checks
// every id before it adds, so an id that comes last still leaves dst as it was.
BOOST_AUTO_TEST_CASE(ids_outside_the_range_are_named_and_nothing_is_written) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor table = Tensor::randn({4, 3}, gen);
  const std::vector<double> before = table.to_vector_f64();
  for (const std::int32_t bad : {-1, 3, 4, std::numeric_limits<std::int32_t>::max()}) {
    BOOST_TEST_CONTEXT("id " << bad) {
      const Tensor ids = Tensor::from_vector_i32({0, 2, bad, bad}, {2, 2});
      const std::string at = std::to_string(bad) + " at position 2 is outside ";
      if (bad != 3)
        expect_error([&] { gather_rows(table, ids); },
                     {"[gather_rows] id " + at + "[0, 4) (rows of [4x3] f32 cpu)"});
      expect_error([&] { gather_cols(table, ids); },
                   {"[gather_cols] id " + at + "[0, 3) (columns of [4x3] f32 cpu)"});
      expect_error([&] { softmax_cross_entropy(table, ids); },
                   {"[softmax_cross_entropy] label " + at + "[0, 3) (class labels)"});
      Tensor dst = table.clone();
      if (bad != 3)
        expect_error(
            [&] {
              scatter_add_rows(dst, ids, Tensor::full({4, 3}, 1.0));
            },
            {"[scatter_add_rows] id " + at + "[0, 4)"});
      expect_error(
          [&] {
            scatter_add_cols(dst, ids, Tensor::full({4, 4}, 1.0));
          },
          {"[scatter_add_cols] id " + at + "[0, 3)"});
      BOOST_TEST((dst.to_vector_f64() == before));
    }
  }
}

BOOST_AUTO_TEST_CASE(ids_of_another_dtype_or_count_are_refused) {
  const Tensor table = Tensor::zeros({4, 3}), floats = Tensor::from_vector({0, 1, 2}, {3});
  const std::string hint = "ids must be i32, got [3] f32 cpu; convert with to(DType::i32)";
  expect_error([&] { gather_rows(table, floats); }, {"[gather_rows] " + hint});
  expect_error([&] { gather_cols(table, floats.to(DType::f64)); },
               {"[gather_cols] ids must be i32, got [3] f64 cpu"});
  Tensor dst = table.clone();
  expect_error(
      [&] {
        scatter_add_rows(dst, floats, Tensor::zeros({3, 3}));
      },
      {"[scatter_add_rows] " + hint});
  expect_error(
      [&] {
        scatter_add_cols(dst, floats.to(DType::bf16), Tensor::zeros({4, 3}));
      },
      {"[scatter_add_cols] ids must be i32, got [3] bf16 cpu"});
  expect_error([&] { softmax_cross_entropy(table, floats); },
               {"[softmax_cross_entropy] labels must be i32, got [3] f32 cpu"});
  const Tensor three = Tensor::from_vector_i32({0, 1, 2}, {3});
  expect_error(
      [&] {
        scatter_add_rows(dst, three, Tensor::zeros({2, 3}));
      },
      {"[scatter_add_rows] source [2x3] should be [3x3] for 3 ids into [4x3] f32 cpu"});
  expect_error(
      [&] {
        scatter_add_cols(dst, three, Tensor::zeros({4, 4}));
      },
      {"[scatter_add_cols] source [4x4] should be [4x3]"});
  expect_error([&] { softmax_cross_entropy(table, three); },
               {"[softmax_cross_entropy] 3 labels [3] i32 cpu for 4 rows of logits"});
}

BOOST_AUTO_TEST_SUITE_END()
