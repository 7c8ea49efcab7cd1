// bf16 storage: round-to-nearest-even conversions (checked against Eigen::bfloat16 and exact
// hand-made ties) and CPU ops on bf16 tensors computed in f32.
#include <Eigen/Core>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;

namespace {

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Exact reference: round a double to 8 significant bits, ties to even (normal range).
double round_to_bf16_exact(double x) {
  int e;
  const double m = std::frexp(x, &e);                // x = m 2^e, |m| in [0.5, 1)
  const double scaled = std::ldexp(m, 8);            // 8 significant bits in the integer part
  return std::ldexp(std::nearbyint(scaled), e - 8);  // nearbyint: ties to even
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bf16)

BOOST_AUTO_TEST_CASE(ties_round_to_even) {
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: even mantissa (1) wins.
  BOOST_TEST(bf16_to_float(float_to_bf16(1.0f + 0x1.0p-8f)) == 1.0f);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  BOOST_TEST(bf16_to_float(float_to_bf16(1.0f + 3 * 0x1.0p-8f)) == 1.0f + 0x1.0p-6f);
  // Just above a tie rounds up; just below rounds down.
  BOOST_TEST(bf16_to_float(float_to_bf16(1.0f + 0x1.0p-8f + 0x1.0p-20f)) == 1.0f + 0x1.0p-7f);
  BOOST_TEST(bf16_to_float(float_to_bf16(1.0f + 0x1.0p-8f - 0x1.0p-20f)) == 1.0f);
  BOOST_TEST(bf16_to_float(float_to_bf16(-1.0f - 0x1.0p-8f)) == -1.0f);
}

BOOST_AUTO_TEST_CASE(special_values_survive) {
  BOOST_TEST(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  BOOST_TEST(bf16_to_float(float_to_bf16(INFINITY)) == INFINITY);
  BOOST_TEST(bf16_to_float(float_to_bf16(-INFINITY)) == -INFINITY);
  BOOST_TEST(bf16_to_float(float_to_bf16(3.4e38f)) == INFINITY);  // beyond bf16's max: overflows
  BOOST_TEST(bf16_to_float(float_to_bf16(-0.0f)) == 0.0f);
  BOOST_TEST(std::signbit(bf16_to_float(float_to_bf16(-0.0f))));
  // A NaN whose payload sits only in the low bits must not become infinity.
  BOOST_TEST(std::isnan(bf16_to_float(float_to_bf16(from_bits(0x7F800001u)))));
}

BOOST_AUTO_TEST_CASE(agrees_with_eigen_bfloat16_on_random_bit_patterns) {
  MODNORM_FRESH_GENERATOR(gen);
  int compared = 0;
  for (int i = 0; i < 200000; ++i) {
    const auto bits = static_cast<std::uint32_t>(gen.next_u64());
    const float f = from_bits(bits);
    if (std::isnan(f)) continue;
    const std::uint16_t ours = float_to_bf16(f);
    const std::uint16_t eigen = Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(f));
    ++compared;
    if (ours != eigen)
      BOOST_FAIL("float bits 0x" << std::hex << bits << ": ours " << ours << ", Eigen " << eigen);
  }
  BOOST_TEST(compared > 190000);  // NaN patterns (about 0.4%) are skipped
}

BOOST_AUTO_TEST_CASE(double_to_bf16_rounds_once) {
  BOOST_TEST(bf16_to_float(double_to_bf16(3.0)) == 3.0f);
  // 1 + 2^-8 + 2^-40: above the tie, so it must round up; double -> float -> bf16 would first
  // land exactly on the tie and then round down to 1.
  BOOST_TEST(bf16_to_float(double_to_bf16(1.0 + 0x1.0p-8 + 0x1.0p-40)) == 1.0f + 0x1.0p-7f);
  BOOST_TEST(bf16_to_float(double_to_bf16(1.0 + 0x1.0p-8 - 0x1.0p-40)) == 1.0f);
  MODNORM_FRESH_GENERATOR(gen);
  for (int i = 0; i < 100000; ++i) {
    const double x = gen.normal() * std::ldexp(1.0, static_cast<int>(gen.below(40)) - 20);
    if (bf16_to_float(double_to_bf16(x)) != round_to_bf16_exact(x))
      BOOST_FAIL("x = " << std::hexfloat << x);
  }
  auto t =
      Tensor::from_vector_f64(std::vector<double>{1.0 + 0x1.0p-8 + 0x1.0p-40}, {1}).to(DType::bf16);
  BOOST_TEST(t.to_vector()[0] == 1.0f + 0x1.0p-7f);
}

BOOST_AUTO_TEST_CASE(cpu_ops_on_bf16_compute_in_f32_and_round_once) {
  MODNORM_FRESH_GENERATOR(gen);
  auto a = Tensor::randn({6, 5}, gen, DType::bf16);
  auto b = Tensor::randn({5, 4}, gen, DType::bf16);
  auto c = matmul(a, b);
  BOOST_TEST(c.dtype() == DType::bf16);
  const auto expected = matmul(a.to(DType::f32), b.to(DType::f32)).to(DType::bf16).to_vector();
  BOOST_TEST((c.to_vector() == expected));
  auto s = add(a, a);
  const auto av = a.to_vector();
  const auto sv = s.to_vector();
  for (std::size_t i = 0; i < av.size(); ++i) BOOST_TEST(sv[i] == 2 * av[i]);  // exact in bf16
  Tensor y = a.clone();
  axpy(1.0, a, y, 0.5);  // 1.5 a, rounded once
  const auto yv = y.to_vector();
  for (std::size_t i = 0; i < av.size(); ++i)
    BOOST_TEST(yv[i] == bf16_to_float(float_to_bf16(1.5f * av[i])));
  BOOST_TEST(std::abs(sum(a) - sum(a.to(DType::f32))) < 1e-9);
}

BOOST_AUTO_TEST_SUITE_END()
