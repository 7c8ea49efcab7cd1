// Hostile shapes: every product of dimensions is checked against kMaxTensorBytes, so a shape
// whose element or byte count would wrap around is a modnorm::Error naming the operation and
// the shape, never a short allocation that a kernel then overruns.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "modnorm/modules/linear.hpp"
#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;

namespace {

using modnorm::test::expect_error;

constexpr std::int64_t k2to32 = std::int64_t{1} << 32;
constexpr std::int64_t k2to62 = std::int64_t{1} << 62;

// AddressSanitizer aborts on an allocation it cannot serve unless told to return null.
boost::test_tools::assertion_result failed_allocations_return(boost::unit_test::test_unit_id) {
#ifdef __SANITIZE_ADDRESS__
  const char* options = std::getenv("ASAN_OPTIONS");
  boost::test_tools::assertion_result ok(options != nullptr &&
                                         std::strstr(options, "allocator_may_return_null=1"));
  ok.message() << "AddressSanitizer aborts on a failed allocation; set "
                  "ASAN_OPTIONS=allocator_may_return_null=1 to run this test";
  return ok;
#else
  return true;
#endif
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shape_limits)

BOOST_AUTO_TEST_CASE(the_limit_on_bytes_is_exact) {
  BOOST_TEST(checked_numel({kMaxTensorBytes}, "t") == kMaxTensorBytes);
  BOOST_TEST(checked_numel({k2to32 / 2, k2to32 / 2}, "t") == kMaxTensorBytes);
  BOOST_TEST(checked_numel({kMaxTensorBytes / 8}, "t", 8) == kMaxTensorBytes / 8);
  BOOST_TEST(checked_numel({0, kMaxTensorBytes / 4}, "t", 4) == 0);
  expect_error([] { checked_numel({kMaxTensorBytes + 1}, "op"); },
               {"[op] shape [4611686018427387905] of 1-byte elements is larger than the limit of "
                "4611686018427387904 bytes per tensor"});
  expect_error([] { checked_numel({kMaxTensorBytes / 8 + 1}, "op", 8); }, {"of 8-byte elements"});
  expect_error(
      [] {
        checked_numel({k2to32 / 2, k2to32 / 2, 2}, "op");
      },
      {"[2147483648x2147483648x2]"});
}

BOOST_AUTO_TEST_CASE(zeros_whose_element_count_wraps_is_refused_before_transpose) {
  // (2^62 + 1) * 4 wraps to 4 elements in 64 bits: a 16-byte buffer that transpose overran.
  expect_error(
      [] {
        transpose(Tensor::zeros({k2to62 + 1, 4}));
      },
      {"[Tensor::empty] shape [4611686018427387905x4] of 4-byte elements", "limit"});
}

BOOST_AUTO_TEST_CASE(zeros_whose_byte_count_wraps_is_refused) {
  // 5 * 2^62 elements wrap to 2^62, and 2^62 * 4 bytes to 0: it "succeeded" with no storage.
  expect_error(
      [] {
        Tensor::zeros({5, k2to62});
      },
      {"[Tensor::empty] shape [5x4611686018427387904]", "limit"});
  // The element count fits, the bytes do not.
  expect_error([] { Tensor::zeros({k2to62 / 2}, DType::f32); }, {"[Tensor::empty]", "4-byte"});
  expect_error([] { Tensor::zeros({k2to62 / 2}, DType::f64); }, {"[Tensor::empty]", "8-byte"});
}

BOOST_AUTO_TEST_CASE(a_zero_dimension_does_not_excuse_the_others) {
  expect_error(
      [] {
        Tensor::zeros({k2to62, 4, 0});
      },
      {"[Tensor::empty] shape [4611686018427387904x4x0]", "limit"});
  // An empty tensor whose other axes fit is fine, and so is everything made from its axes.
  const Tensor t = Tensor::zeros({k2to32, 0});
  BOOST_TEST(t.numel() == 0);
  BOOST_TEST((transpose(t).shape() == Shape{0, k2to32}));
  BOOST_TEST((sum(t, 0).shape() == Shape{0}));
}

BOOST_AUTO_TEST_CASE(reshape_to_a_wrapping_shape_is_refused_before_sum) {
  const Tensor t = Tensor::zeros({4});
  expect_error(
      [&] {
        sum(t.reshape({k2to62 + 1, 4}), 1);
      },
      {"[Tensor::reshape] shape [4611686018427387905x4]", "limit"});
}

BOOST_AUTO_TEST_CASE(from_vector_with_a_wrapping_shape_is_refused_before_gather_rows) {
  // 2^32 * 2^32 wraps to 0, which no values "filled".
  expect_error(
      [] {
        gather_rows(Tensor::from_vector({}, {k2to32, k2to32}), Tensor::from_vector_i32({5}, {1}));
      },
      {"[Tensor::from_vector] shape [4294967296x4294967296]", "limit"});
  expect_error(
      [] {
        Tensor::from_vector_f64({}, {k2to32, k2to32});
      },
      {"[Tensor::from_vector_f64] shape [4294967296x4294967296]"});
}

BOOST_AUTO_TEST_CASE(eye_whose_square_wraps_is_refused) {
  expect_error([] { Tensor::eye(k2to32); },
               {"[Tensor::eye] shape [4294967296x4294967296] of 8-byte elements", "limit"});
  BOOST_TEST((Tensor::eye(3).to_vector() == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

BOOST_AUTO_TEST_CASE(randn_larger_than_the_limit_is_refused) {
  Generator gen(0);
  expect_error(
      [&] {
        Tensor::randn({k2to62 + 1, 4}, gen);
      },
      {"[Tensor::randn] shape [4611686018427387905x4]"});
}

BOOST_AUTO_TEST_CASE(ops_whose_output_would_exceed_the_limit_name_the_op) {
  // Empty inputs whose product or broadcast is not empty and far too large.
  const Tensor a = Tensor::zeros({std::int64_t{1} << 40, 0});
  const Tensor b = Tensor::zeros({0, std::int64_t{1} << 40});
  expect_error([&] { matmul(a, b); }, {"[matmul] shape [1099511627776x1099511627776]", "limit"});
  const Tensor c = Tensor::zeros({std::int64_t{1} << 40, 1, 0});
  const Tensor d = Tensor::zeros({1, std::int64_t{1} << 40, 0});
  expect_error([&] { add(c, d); }, {"[add] shape [1099511627776x1099511627776x0]", "limit"});
}

BOOST_AUTO_TEST_CASE(a_linear_layer_wider_than_the_limit_is_an_error_not_bad_alloc) {
  expect_error([] { Linear(4, k2to62 + 1); }, {"[4611686018427387905x4]", "limit"});
}

BOOST_AUTO_TEST_CASE(a_failed_allocation_is_an_error_naming_the_size,
                     *boost::unit_test::precondition(failed_allocations_return)) {
  // 2^62 bytes: within the limit, beyond any host's memory.
  expect_error(
      [] {
        Tensor::empty({std::int64_t{1} << 40, std::int64_t{1} << 20});
      },
      {"4611686018427387904 bytes"});
}

BOOST_AUTO_TEST_SUITE_END()
