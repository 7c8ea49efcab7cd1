// GPU ops against the CPU result (DESIGN.md 2; as MLX's gpu_tests and ggml's test-backend-ops).
// Every case is skipped, with its reason, when no CUDA device is visible.
#include <boost/test/unit_test.hpp>

#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::max_abs_diff;
using modnorm::test::rel_error;

namespace {

boost::test_tools::assertion_result cuda_visible(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result visible(cuda_available());
  visible.message() << "no CUDA device visible";
  return visible;
}

// Relative error bands per dtype (issue 7): f32 < 1e-5, bf16 < 1e-2, f64 < 1e-12.
double band(DType dt) {
  return dt == DType::f32 ? 1e-5 : dt == DType::bf16 ? 1e-2 : 1e-12;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda_backend, *boost::unit_test::precondition(cuda_visible))

BOOST_AUTO_TEST_CASE(round_trip_to_the_device_keeps_every_bit) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    auto x = Tensor::randn({37, 19}, gen, dt);
    auto d = x.to(Device::cuda);
    BOOST_TEST(d.device() == Device::cuda);
    BOOST_TEST(d.describe() == "[37x19] " + std::string(to_string(dt)) + " cuda");
    BOOST_TEST((d.to(Device::cpu).to_vector_f64() == x.to_vector_f64()));
    BOOST_TEST((d.clone().to_vector_f64() == x.to_vector_f64()));
  }
  BOOST_TEST(Tensor::zeros({0}, DType::f32, Device::cuda).to_vector().empty());
}

BOOST_AUTO_TEST_CASE(fill_and_convert_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    auto f = Tensor::full({1000}, -2.75, dt, Device::cuda);
    BOOST_TEST((f.to_vector() == std::vector<float>(1000, -2.75f)));
  }
  auto x = Tensor::randn({300, 7}, gen, DType::f64);
  for (DType to : {DType::f32, DType::bf16, DType::f64}) {
    // Device conversion rounds exactly like the host conversion (nearest-even).
    BOOST_TEST((x.to(Device::cuda).to(to).to_vector_f64() == x.to(to).to_vector_f64()));
    BOOST_TEST((x.to(DType::f32).to(Device::cuda).to(to).to_vector_f64() ==
                x.to(DType::f32).to(to).to_vector_f64()));
  }
}

BOOST_AUTO_TEST_CASE(axpy_matches_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    auto x = Tensor::randn({513, 3}, gen, dt), y = Tensor::randn({513, 3}, gen, dt);
    Tensor y_cpu = y.clone(), y_gpu = y.to(Device::cuda);
    axpy(0.3, x, y_cpu, -0.7);
    axpy(0.3, x.to(Device::cuda), y_gpu, -0.7);
    BOOST_TEST(rel_error(y_gpu.to_vector_f64(), y_cpu.to_vector_f64()) < band(dt));
    auto s = scale(x.to(Device::cuda), 2.0);
    BOOST_TEST(rel_error(s.to_vector_f64(), scale(x, 2.0).to_vector_f64()) < band(dt));
  }
}

BOOST_AUTO_TEST_CASE(gemm_matches_the_cpu_for_all_transposes) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        BOOST_TEST_CONTEXT(to_string(dt) << " ta=" << ta << " tb=" << tb) {
          const std::int64_t m = 65, k = 130, n = 33;
          auto a = Tensor::randn(ta ? Shape{k, m} : Shape{m, k}, gen, dt);
          auto b = Tensor::randn(tb ? Shape{n, k} : Shape{k, n}, gen, dt);
          auto c = Tensor::randn({m, n}, gen, dt);
          Tensor c_cpu = c.clone(), c_gpu = c.to(Device::cuda);
          gemm(1.5, a, ta, b, tb, 0.5, c_cpu);
          gemm(1.5, a.to(Device::cuda), ta, b.to(Device::cuda), tb, 0.5, c_gpu);
          BOOST_TEST(rel_error(c_gpu.to_vector_f64(), c_cpu.to_vector_f64()) < band(dt));
          auto p = matmul(a.to(Device::cuda), b.to(Device::cuda), ta, tb);
          BOOST_TEST(rel_error(p.to_vector_f64(), matmul(a, b, ta, tb).to_vector_f64()) < band(dt));
        }
      }
  auto empty_k = matmul(Tensor::zeros({3, 0}, DType::f32, Device::cuda),
                        Tensor::zeros({0, 2}, DType::f32, Device::cuda));
  BOOST_TEST((empty_k.to_vector() == std::vector<float>(6, 0.0f)));
}

BOOST_AUTO_TEST_CASE(mixing_devices_is_refused) {
  auto a = Tensor::zeros({2, 2});
  BOOST_CHECK_THROW(add(a, a.to(Device::cuda)), Error);
  BOOST_CHECK_THROW(matmul(a, a.to(Device::cuda)), Error);
}

BOOST_AUTO_TEST_CASE(missing_gpu_primitives_say_so_instead_of_falling_back) {
  auto a = Tensor::zeros({2, 2}, DType::f32, Device::cuda);
  try {
    (void)relu(a);
    BOOST_TEST_MESSAGE("relu now runs on the GPU");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("not implemented on the cuda backend") !=
               std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
