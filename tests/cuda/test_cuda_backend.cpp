// GPU ops against the CPU result (docs/architecture.md; as MLX's gpu_tests and ggml's
// test-backend-ops).
// Every case is skipped, with its reason, when no CUDA device is visible.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::batched;
using modnorm::test::expect_error;
using modnorm::test::max_abs_diff;
using modnorm::test::rel_error;
using modnorm::test::token_ids;

namespace {

// Relative error bands per dtype: f32 < 1e-5, bf16 < 1e-2, f64 < 1e-12.
double band(DType dt) {
  return dt == DType::f32 ? 1e-5 : dt == DType::bf16 ? 1e-2 : 1e-12;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda_backend, *boost::unit_test::precondition(modnorm::test::cuda_visible))

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

BOOST_AUTO_TEST_CASE(every_elementwise_op_matches_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const Shape& shape : std::vector<Shape>{{0}, {1}, {7, 5}, {3, 4, 129}}) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        auto x = Tensor::randn(shape, gen, dt), y = Tensor::randn(shape, gen, dt);
        auto xd = x.to(Device::cuda), yd = y.to(Device::cuda);
        auto same = [&](const Tensor& gpu, const Tensor& cpu) {
          BOOST_TEST(gpu.device() == Device::cuda);
          BOOST_TEST(rel_error(gpu.to_vector_f64(), cpu.to_vector_f64()) <= band(dt));
        };
        same(add(xd, yd), add(x, y));
        same(sub(xd, yd), sub(x, y));
        same(mul(xd, yd), mul(x, y));
        same(div(xd, yd), div(x, y));
        same(modnorm::sqrt(abs(xd)), modnorm::sqrt(abs(x)));
        same(relu(xd), relu(x));
        same(gelu(xd), gelu(x));
        same(abs(xd), abs(x));
        same(sign(xd), sign(x));
        same(relu_backward(xd, yd), relu_backward(x, y));
        same(gelu_backward(xd, yd), gelu_backward(x, y));
        same(abs_backward(xd, yd), abs_backward(x, y));
        BOOST_TEST(std::abs(dot(xd, yd) - dot(x, y)) <=
                   band(dt) * (1 + frobenius_norm(x) * frobenius_norm(y)));
        BOOST_TEST(all_finite(xd));
      }
    }
  // f32 GELU deep in the negative tail (where 1 + erf(x / sqrt 2) would cancel), down to
  // subnormal results and the Infinities: the CPU's formulas (math_f32.hpp), so the same bits.
  std::vector<float> tail;
  for (int i = 0; i <= 160; ++i) tail.push_back(-15.0f + 0.1f * static_cast<float>(i));
  tail.insert(tail.end(), {INFINITY, -INFINITY, 1e-45f, -1e-45f, 30.0f});
  const auto n = static_cast<std::int64_t>(tail.size());
  const auto t = Tensor::from_vector(tail, {n}), dy = Tensor::randn({n}, gen);
  for (const auto& [gpu, cpu] :
       {std::pair{gelu(t.to(Device::cuda)), gelu(t)},
        std::pair{gelu_backward(t.to(Device::cuda), dy.to(Device::cuda)), gelu_backward(t, dy)}}) {
    const auto g = gpu.to_vector(), c = cpu.to_vector();
    for (std::size_t i = 0; i < g.size(); ++i)
      BOOST_TEST(std::memcmp(&g[i], &c[i], sizeof(float)) == 0,
                 "x = " << tail[i] << ": " << g[i] << " vs " << c[i]);
  }
  auto bad = Tensor::from_vector({1.0f, std::nanf(""), 2.0f}, {3}).to(Device::cuda);
  BOOST_TEST(!all_finite(bad));
  BOOST_TEST(!all_finite(Tensor::full({1000}, INFINITY, DType::f32, Device::cuda)));
}

// The fused check of a list on the device (one flag, one copy back) gives the CPU's answer for
// every position of one bad entry, every dtype, and a list that mixes both devices.
BOOST_AUTO_TEST_CASE(all_finite_of_a_list_matches_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<Tensor> list;
  for (const DType dt : {DType::f32, DType::bf16, DType::f64})
    list.push_back(Tensor::randn({300, 70}, gen, dt).to(Device::cuda));
  list.push_back(Tensor::zeros({0}, DType::f32, Device::cuda));
  BOOST_TEST(all_finite(list));
  BOOST_TEST(all_finite(std::vector<Tensor>{}));
  for (std::size_t t = 0; t < 3; ++t)
    for (const double bad : {double(std::nanf("")), double(INFINITY), double(-INFINITY)})
      for (const std::int64_t k : {std::int64_t{0}, std::int64_t{12345}, std::int64_t{20999}}) {
        BOOST_TEST_INFO("tensor " << t << ", entry " << k << ", " << bad);
        std::vector<double> v = list[t].to_vector_f64();
        v[static_cast<std::size_t>(k)] = bad;
        std::vector<Tensor> spoiled = list;
        spoiled[t] =
            Tensor::from_vector_f64(v, list[t].shape()).to(list[t].dtype()).to(Device::cuda);
        BOOST_TEST(!all_finite(spoiled));
        std::vector<Tensor> mixed = spoiled;
        mixed[t] = spoiled[t].to(Device::cpu);
        BOOST_TEST(!all_finite(mixed));
        BOOST_TEST(all_finite(list));
      }
}

BOOST_AUTO_TEST_CASE(broadcast_binary_ops_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, BinaryFn> ops[] = {
      {"add", modnorm::add}, {"sub", modnorm::sub}, {"mul", modnorm::mul}, {"div", modnorm::div}};
  // Bias, RMS normalisation, a Mean bond's backward, rank 4 against rank 3, both stretching,
  // rank 0, and an empty result; each pair is also run the other way round.
  const std::vector<std::pair<Shape, Shape>> pairs = {{{33, 129}, {129}},
                                                      {{33, 129}, {33, 1}},
                                                      {{8, 17, 64}, {8, 1, 64}},
                                                      {{2, 3, 4, 5}, {3, 1, 5}},
                                                      {{2, 1, 4, 1}, {3, 1, 5}},
                                                      {{70, 1}, {1, 90}},
                                                      {{3, 700}, {}},
                                                      {{0, 7}, {7}}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& [first, second] : pairs)
      for (bool swapped : {false, true}) {
        const Shape& sa = swapped ? second : first;
        const Shape& sb = swapped ? first : second;
        auto a = Tensor::randn(sa, gen, dt), b = Tensor::randn(sb, gen, dt);
        auto ad = a.to(Device::cuda), bd = b.to(Device::cuda);
        for (const auto& [name, fn] : ops) {
          BOOST_TEST_CONTEXT(name << " " << to_string(dt) << " " << to_string(sa) << " and "
                                  << to_string(sb)) {
            const Tensor gpu = fn(ad, bd), cpu = fn(a, b);
            BOOST_TEST(gpu.device() == Device::cuda);
            BOOST_TEST((gpu.shape() == cpu.shape()));
            BOOST_TEST(rel_error(gpu.to_vector_f64(), cpu.to_vector_f64()) <= band(dt));
          }
        }
      }
  // IEEE division by zero on the device too: +-Inf and NaN, no error.
  auto q = div(Tensor::from_vector({1, -1, 0}, {3}).to(Device::cuda),
               Tensor::zeros({}, DType::f32, Device::cuda))
               .to_vector_f64();
  BOOST_TEST(q[0] == INFINITY);
  BOOST_TEST(q[1] == -INFINITY);
  BOOST_TEST(std::isnan(q[2]));
  BOOST_TEST(std::isnan(modnorm::sqrt(Tensor::full({1}, -1.0, DType::f32, Device::cuda)).item()));
}

BOOST_AUTO_TEST_CASE(reductions_and_norms_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const Shape& shape : std::vector<Shape>{{9}, {1, 33}, {33, 1}, {17, 300}, {3, 4, 5, 6}}) {
      auto x = Tensor::randn(shape, gen, dt);
      auto xd = x.to(Device::cuda);
      for (int axis = 0; axis < x.rank(); ++axis) {
        BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape) << " axis " << axis) {
          BOOST_TEST(rel_error(sum(xd, axis).to_vector_f64(), sum(x, axis).to_vector_f64()) <=
                     band(dt));
          BOOST_TEST(rel_error(mean(xd, axis).to_vector_f64(), mean(x, axis).to_vector_f64()) <=
                     band(dt));
          BOOST_TEST((max(xd, axis).to_vector_f64() == max(x, axis).to_vector_f64()));
        }
      }
      BOOST_TEST(max_abs(xd) == max_abs(x));
      BOOST_TEST(std::abs(frobenius_norm(xd) - frobenius_norm(x)) <= band(dt) * frobenius_norm(x));
      if (x.rank() == 2) {
        BOOST_TEST(rel_error(row_norms(xd).to_vector_f64(), row_norms(x).to_vector_f64()) <=
                   band(dt));
        BOOST_TEST(rel_error(col_norms(xd).to_vector_f64(), col_norms(x).to_vector_f64()) <=
                   band(dt));
        BOOST_TEST((transpose(xd).to_vector_f64() == transpose(x).to_vector_f64()));
      }
    }
}

BOOST_AUTO_TEST_CASE(indexing_and_cross_entropy_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      auto table = Tensor::randn({12, 40}, gen, dt);
      const Tensor row_ids = token_ids({25}, 12, gen), col_ids = token_ids({5, 5}, 40, gen);
      const Tensor row_ids_d = row_ids.to(Device::cuda), col_ids_d = col_ids.to(Device::cuda);
      auto td = table.to(Device::cuda);
      BOOST_TEST((gather_rows(td, row_ids_d).to_vector_f64() ==
                  gather_rows(table, row_ids).to_vector_f64()));
      BOOST_TEST((gather_cols(td, col_ids_d).to_vector_f64() ==
                  gather_cols(table, col_ids).to_vector_f64()));
      auto src_r = Tensor::randn({25, 40}, gen, dt), src_c = Tensor::randn({12, 25}, gen, dt);
      Tensor cpu_r = table.clone(), cpu_c = table.clone();
      Tensor gpu_r = table.to(Device::cuda), gpu_c = table.to(Device::cuda);
      scatter_add_rows(cpu_r, row_ids, src_r);
      scatter_add_rows(gpu_r, row_ids_d, src_r.to(Device::cuda));
      scatter_add_cols(cpu_c, col_ids, src_c);
      scatter_add_cols(gpu_c, col_ids_d, src_c.to(Device::cuda));
      // Repeated ids add in a different order on the GPU: equal within rounding.
      BOOST_TEST(rel_error(gpu_r.to_vector_f64(), cpu_r.to_vector_f64()) <= band(dt));
      BOOST_TEST(rel_error(gpu_c.to_vector_f64(), cpu_c.to_vector_f64()) <= band(dt));

      auto logits = scale(Tensor::randn({64, 10}, gen, dt), 4.0);
      const Tensor labels = token_ids({64}, 10, gen);
      auto cpu = softmax_cross_entropy(logits, labels);
      auto gpu = softmax_cross_entropy(logits.to(Device::cuda), labels.to(Device::cuda));
      BOOST_TEST(std::abs(gpu.loss - cpu.loss) <= band(dt) * (1 + cpu.loss));
      BOOST_TEST(rel_error(gpu.grad.to_vector_f64(), cpu.grad.to_vector_f64()) <= band(dt));
    }
  }
}

// Ids are checked on the device by a kernel: the first offending position is read back (never
// the ids), the error names it as the CPU's does, and scatter_add writes nothing.
BOOST_AUTO_TEST_CASE(out_of_range_ids_are_found_on_the_device) {
  MODNORM_FRESH_GENERATOR(gen);
  const Tensor table = Tensor::randn({4, 3}, gen).to(Device::cuda);
  const auto on_gpu = [](std::vector<std::int32_t> ids) {
    const auto n = static_cast<std::int64_t>(ids.size());
    return Tensor::from_vector_i32(ids, {n}).to(Device::cuda);
  };
  for (const std::int32_t bad : {-1, 4, std::numeric_limits<std::int32_t>::max()}) {
    BOOST_TEST_CONTEXT("id " << bad) {
      const std::string id = "id " + std::to_string(bad) + " at position 2";
      expect_error(
          [&] {
            gather_rows(table, on_gpu({0, 3, bad, bad}));
          },
          {"[gather_rows] " + id, "[0, 4)"});
      Tensor dst = table.clone();
      const std::vector<double> before = dst.to_vector_f64();
      expect_error(
          [&] {
            scatter_add_rows(dst, on_gpu({3, 0, bad}),
                             Tensor::full({3, 3}, 1.0, DType::f32, Device::cuda));
          },
          {"[scatter_add_rows] " + id});
      BOOST_TEST((dst.to_vector_f64() == before));
    }
  }
  expect_error([&] { gather_cols(table, on_gpu({0, 3})); }, {"id 3 at position 1", "[0, 3)"});
  expect_error(
      [&] {
        softmax_cross_entropy(table, on_gpu({0, 1, 5, 2}));
      },
      {"[softmax_cross_entropy] label 5 at position 2", "[0, 3)"});
  expect_error([&] { gather_rows(table, Tensor::from_vector_i32({0}, {1})); },
               {"[gather_rows] ids [1] i32 cpu are not on the device of [4x3] f32 cuda"});
}

BOOST_AUTO_TEST_CASE(newton_schulz_matches_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (auto method : {OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express})
    for (DType compute : {DType::f32, DType::bf16, DType::f64})
      for (const Shape& shape :
           std::vector<Shape>{{1, 1}, {64, 64}, {200, 50}, {33, 300}, {4096, 8}}) {
        BOOST_TEST_CONTEXT(to_string(method)
                           << " " << to_string(compute) << " " << to_string(shape)) {
          OrthogonalizeOptions options;
          options.method = method;
          options.compute_dtype = compute;
          auto g = Tensor::randn(shape, gen, compute == DType::f64 ? DType::f64 : DType::f32);
          auto cpu = orthogonalize(g, options);
          auto gpu = orthogonalize(g.to(Device::cuda), options);
          BOOST_TEST(gpu.device() == Device::cuda);
          const double error = rel_error(gpu.to_vector_f64(), cpu.to_vector_f64());
          BOOST_TEST_MESSAGE(to_string(method) << " " << to_string(compute) << " "
                                               << to_string(shape) << ": " << error);
          // Measured on an H100: f32 <= 2.5e-6, f64 <= 4e-15, bf16 0.006-0.040 over 20 cases: both
          // sides round every product to bf16 at different points, each some 1e-2 from exact,
          // so two of them may differ by twice that; 0.1 bounds it without flaking.
          const double tolerance = compute == DType::f64   ? 1e-12
                                   : compute == DType::f32 ? 1e-5
                                                           : 1e-1;
          BOOST_TEST(error <= tolerance);
        }
      }
}

BOOST_AUTO_TEST_CASE(newton_schulz_batches_and_symmetric_panels_match_the_cpu) {
  // Batches run as strided-batched products; one matrix with min(rows, cols) >= 2048 computes
  // only the lower panels of A and A A and mirrors them (src/cuda/newton_schulz.cpp).
  MODNORM_FRESH_GENERATOR(gen);
  for (DType compute : {DType::f32, DType::bf16})
    for (const Shape& shape : std::vector<Shape>{
             {5, 40, 24}, {3, 24, 40}, {1, 64, 64}, {2048, 2048}, {2048, 2600}, {3100, 2048}}) {
      BOOST_TEST_CONTEXT(to_string(compute) << " " << to_string(shape)) {
        OrthogonalizeOptions options;
        options.compute_dtype = compute;
        auto g = Tensor::randn(shape, gen);
        auto cpu = orthogonalize(g, options);
        auto gpu = orthogonalize(g.to(Device::cuda), options);
        BOOST_TEST(gpu.shape() == shape);
        const double error = rel_error(gpu.to_vector_f64(), cpu.to_vector_f64());
        BOOST_TEST_MESSAGE(to_string(compute) << " " << to_string(shape) << ": " << error);
        BOOST_TEST(error <= (compute == DType::f32 ? 1e-5 : 1e-1));
      }
    }
}

BOOST_AUTO_TEST_CASE(exp_log_tanh_and_their_backward_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const Shape& shape : std::vector<Shape>{{0}, {1}, {7, 5}, {2, 3, 4, 33}}) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        const auto x = Tensor::randn(shape, gen, dt), dy = Tensor::randn(shape, gen, dt);
        const auto p = add(abs(x), Tensor::full({}, 0.125, dt));
        const auto xd = x.to(Device::cuda), dyd = dy.to(Device::cuda), pd = p.to(Device::cuda);
        auto same = [&](const Tensor& gpu, const Tensor& cpu) {
          BOOST_TEST(gpu.device() == Device::cuda);
          BOOST_TEST(rel_error(gpu.to_vector_f64(), cpu.to_vector_f64()) <= band(dt));
        };
        same(modnorm::exp(xd), modnorm::exp(x));
        same(modnorm::log(pd), modnorm::log(p));
        same(exp_backward(xd, dyd), exp_backward(x, dy));
        same(log_backward(pd, dyd), log_backward(p, dy));
        same(modnorm::tanh(xd), modnorm::tanh(x));
        same(tanh_backward(xd, dyd), tanh_backward(x, dy));
      }
    }
  const auto edge = Tensor::from_vector({0.0f, -1.0f, INFINITY}, {3});
  const auto l = modnorm::log(edge.to(Device::cuda)).to_vector_f64();
  BOOST_TEST(l[0] == -INFINITY);
  BOOST_TEST(std::isnan(l[1]));
  BOOST_TEST(l[2] == INFINITY);
}

BOOST_AUTO_TEST_CASE(softmax_tril_and_their_backward_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  // Rows shorter and longer than a warp (32 lanes), and causal masks on rank 2 to 4.
  const std::vector<Shape> shapes = {
      {1}, {3, 1}, {5, 31}, {4, 33}, {2, 3, 17, 17}, {2, 2, 64, 64}, {1, 1, 3, 1000}, {0, 4}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const Shape& shape : shapes) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        auto s = scale(Tensor::randn(shape, gen, dt), 3.0);
        const auto dy = Tensor::randn(shape, gen, dt);
        auto sd = s.to(Device::cuda);
        if (shape.size() >= 2) {
          const auto masked = tril(s, -INFINITY), masked_d = tril(sd, -INFINITY);
          BOOST_TEST((masked_d.to_vector_f64() == masked.to_vector_f64()));  // a copy: exact
          BOOST_TEST((tril(sd, 0.5).to_vector_f64() == tril(s, 0.5).to_vector_f64()));
          s = masked;
          sd = masked_d;
        }
        const auto p = softmax(s), pd = softmax(sd);
        BOOST_TEST(pd.device() == Device::cuda);
        BOOST_TEST(rel_error(pd.to_vector_f64(), p.to_vector_f64()) <= band(dt));
        const auto dx = softmax_backward(p, dy);
        const auto dxd = softmax_backward(p.to(Device::cuda), dy.to(Device::cuda));
        BOOST_TEST(rel_error(dxd.to_vector_f64(), dx.to_vector_f64()) <= band(dt));
      }
    }
  // A fully masked row is zeros and a NaN spreads to its row, as on the CPU.
  const auto rows = Tensor::from_vector({-INFINITY, -INFINITY, -INFINITY, 1.0f, NAN, 2.0f}, {2, 3});
  const auto y = softmax(rows.to(Device::cuda)).to_vector_f64();
  for (int j = 0; j < 3; ++j) BOOST_TEST(y[j] == 0.0);
  for (int j = 3; j < 6; ++j) BOOST_TEST(std::isnan(y[j]));
}

BOOST_AUTO_TEST_CASE(permute_matches_the_cpu_bit_for_bit) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<std::pair<Shape, std::vector<int>>> cases = {
      {{37, 19}, {1, 0}},           {{2, 3, 4}, {2, 0, 1}},       {{5, 7, 9}, {0, 2, 1}},
      {{2, 3, 4, 5}, {0, 2, 1, 3}}, {{2, 3, 4, 5}, {3, 1, 0, 2}}, {{2, 0, 4, 5}, {1, 0, 2, 3}}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& [shape, axes] : cases) {
      BOOST_TEST_CONTEXT(to_string(dt) << " " << to_string(shape)) {
        const auto x = Tensor::randn(shape, gen, dt);
        const auto gpu = permute(x.to(Device::cuda), axes);
        BOOST_TEST(gpu.device() == Device::cuda);
        BOOST_TEST((gpu.shape() == permute(x, axes).shape()));
        BOOST_TEST((gpu.to_vector_f64() == permute(x, axes).to_vector_f64()));
      }
    }
}

// im2col copies bits (equal to the CPU's); col2im sums in fp32 (fp64) in another order.
BOOST_AUTO_TEST_CASE(im2col_and_col2im_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<std::pair<Shape, Window2D>> cases = {
      {{2, 5, 7, 3}, {3, 1, 1}}, {{1, 6, 5, 2}, {3, 2, 0}}, {{2, 7, 7, 1}, {5, 2, 2}},
      {{3, 4, 4, 4}, {1, 1, 0}}, {{1, 3, 3, 2}, {3, 1, 2}}, {{4, 28, 28, 16}, {3, 1, 1}}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& [shape, window] : cases) {
      BOOST_TEST_CONTEXT(to_string(dt)
                         << " " << to_string(shape) << " window " << window.kernel << " stride "
                         << window.stride << " padding " << window.padding) {
        const auto x = Tensor::randn(shape, gen, dt);
        const auto cols = im2col(x, window);
        const auto cols_gpu = im2col(x.to(Device::cuda), window);
        BOOST_TEST(cols_gpu.device() == Device::cuda);
        BOOST_TEST((cols_gpu.to_vector_f64() == cols.to_vector_f64()));
        const auto c = Tensor::randn(cols.shape(), gen, dt);
        const auto back = col2im(c, shape, window);
        const auto back_gpu = col2im(c.to(Device::cuda), shape, window);
        BOOST_TEST(rel_error(back_gpu.to_vector_f64(), back.to_vector_f64()) <= band(dt));
      }
    }
}

// The conv2d op (im2col and cuBLAS on the GPU; oneDNN for f32 on the CPU where built) and its
// two backward products, in both weight layouts.
BOOST_AUTO_TEST_CASE(conv2d_and_its_backwards_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<std::pair<Shape, Window2D>> cases = {{{2, 5, 7, 3}, {3, 1, 1}},
                                                         {{1, 6, 5, 2}, {3, 2, 0}},
                                                         {{3, 4, 4, 4}, {1, 1, 0}},
                                                         {{1, 3, 3, 2}, {3, 1, 2}},
                                                         {{4, 28, 28, 16}, {3, 1, 1}}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const auto& [shape, window] : cases)
      for (const bool per_tap : {true, false}) {
        BOOST_TEST_CONTEXT(to_string(dt)
                           << " " << to_string(shape) << " window " << window.kernel << " stride "
                           << window.stride << " padding " << window.padding
                           << (per_tap ? ", per tap" : ", flattened")) {
          const std::int64_t taps = window.kernel * window.kernel, c_out = 5;
          const Shape w_shape =
              per_tap ? Shape{taps, c_out, shape[3]} : Shape{c_out, taps * shape[3]};
          const auto x = Tensor::randn(shape, gen, dt);
          const auto w = Tensor::randn(w_shape, gen, dt);
          const auto y = conv2d(x, w, window, 0.5);
          const auto y_gpu = conv2d(x.to(Device::cuda), w.to(Device::cuda), window, 0.5);
          BOOST_TEST(y_gpu.device() == Device::cuda);
          BOOST_TEST(rel_error(y_gpu.to_vector_f64(), y.to_vector_f64()) <= band(dt));
          const auto dy = Tensor::randn(y.shape(), gen, dt);
          const auto dx = conv2d_backward_data(dy, w, shape, window, 0.5);
          const auto dx_gpu =
              conv2d_backward_data(dy.to(Device::cuda), w.to(Device::cuda), shape, window, 0.5);
          BOOST_TEST(rel_error(dx_gpu.to_vector_f64(), dx.to_vector_f64()) <= band(dt));
          Tensor dw = Tensor::zeros(w_shape, dt);
          Tensor dw_gpu = Tensor::zeros(w_shape, dt, Device::cuda);
          conv2d_backward_weights(x, dy, window, dw, 0.5);
          conv2d_backward_weights(x.to(Device::cuda), dy.to(Device::cuda), window, dw_gpu, 0.5);
          BOOST_TEST(rel_error(dw_gpu.to_vector_f64(), dw.to_vector_f64()) <= band(dt));
        }
      }
}

BOOST_AUTO_TEST_CASE(batched_gemm_matches_the_cpu_for_all_transposes) {
  MODNORM_FRESH_GENERATOR(gen);
  const std::vector<Shape> batches = {{5}, {2, 3}, {1}, {1, 1}};
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (const Shape& batch : batches)
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          BOOST_TEST_CONTEXT(to_string(dt)
                             << " " << to_string(batch) << " ta=" << ta << " tb=" << tb) {
            const std::int64_t m = 33, k = 40, n = 17;
            auto with = [&](std::int64_t r, std::int64_t c) { return batched(batch, r, c); };
            const auto a = Tensor::randn(ta ? with(k, m) : with(m, k), gen, dt);
            const auto b = Tensor::randn(tb ? with(n, k) : with(k, n), gen, dt);
            const auto c = Tensor::randn(with(m, n), gen, dt);
            Tensor c_cpu = c.clone(), c_gpu = c.to(Device::cuda);
            gemm(1.5, a, ta, b, tb, 0.5, c_cpu);
            gemm(1.5, a.to(Device::cuda), ta, b.to(Device::cuda), tb, 0.5, c_gpu);
            BOOST_TEST(rel_error(c_gpu.to_vector_f64(), c_cpu.to_vector_f64()) < band(dt));
            const auto p = matmul(a.to(Device::cuda), b.to(Device::cuda), ta, tb);
            BOOST_TEST((p.shape() == with(m, n)));
            BOOST_TEST(rel_error(p.to_vector_f64(), matmul(a, b, ta, tb).to_vector_f64()) <
                       band(dt));
          }
        }
  // Empty inner dimension: out = beta * out on every matrix.
  auto out = Tensor::full({3, 2, 2}, 4.0, DType::f32, Device::cuda);
  gemm(1.0, Tensor::zeros({3, 2, 0}, DType::f32, Device::cuda), false,
       Tensor::zeros({3, 0, 2}, DType::f32, Device::cuda), false, 0.5, out);
  BOOST_TEST((out.to_vector() == std::vector<float>(12, 2.0f)));
}

BOOST_AUTO_TEST_CASE(i32_conversions_match_the_cpu_and_refuse_the_same_values) {
  const std::vector<double> values = {0, 1, -1, 255, -256, 65536, 2147483647.0, -2147483648.0};
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    BOOST_TEST_CONTEXT(to_string(dt)) {
      const auto x = Tensor::from_vector_f64(values, {2, 4}).to(dt);
      const auto ids = x.to(Device::cuda).to(DType::i32);
      BOOST_TEST(ids.describe() == "[2x4] i32 cuda");
      BOOST_TEST((ids.to_vector_f64() == x.to(DType::i32).to_vector_f64()));
      BOOST_TEST((ids.to(dt).to_vector_f64() == x.to(DType::i32).to(dt).to_vector_f64()));
      BOOST_TEST((ids.clone().to_vector_f64() == ids.to_vector_f64()));
      // The first offending element is named, as on the CPU, however many there are.
      std::vector<double> bad(5000, 1.0);
      bad[3001] = 0.5;
      bad[4999] = std::nan("");
      const auto b = Tensor::from_vector_f64(bad, {5000}).to(dt).to(Device::cuda);
      modnorm::test::expect_error([&] { b.to(DType::i32); },
                                  {"[Tensor::to] element 3001 of [5000]", "cuda is 0.5"});
    }
  }
  BOOST_TEST((Tensor::zeros({3}, DType::i32, Device::cuda).to_vector_f64() ==
              std::vector<double>(3, 0.0)));
  BOOST_TEST((Tensor::full({2}, -9.0, DType::i32, Device::cuda).to_vector_f64() ==
              std::vector<double>(2, -9.0)));
  const auto ids = Tensor::from_vector_i32({4, 5}, {2});
  BOOST_TEST((ids.to(Device::cuda).to(Device::cpu).to_vector_f64() == ids.to_vector_f64()));
  modnorm::test::expect_error([&] { relu(ids.to(Device::cuda)); },
                              {"[relu] expects a floating-point tensor", "[2] i32 cuda"});
}

BOOST_AUTO_TEST_SUITE_END()
