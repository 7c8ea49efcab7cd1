// bench_orthogonalize: time per call of orthogonalize() methods on the CPU or the GPU against
// the device's GEMM rate measured in the same run, and the orthogonality each method reaches.
// Prints one JSON document on stdout (docs/benchmarks.md, "Orthogonalization on the CPU" and
// "... on the GPU").
//
// Usage: bench_orthogonalize [--device cpu|cuda] [--repeats N] [--sizes 256x256,32x1024x1024,...]
//                            [--svd-max N]
//
// Per size (G is rows x cols, or a batch of B such matrices; m = min, n = max): the GEMM rate is
// 2 m^2 n / t of the largest product of a Newton-Schulz step (B X, m x m times m x n) through
// modnorm::gemm (f32 on the CPU, bf16 with fp32 accumulation on the GPU: cuBLAS's tensor-core
// rate), fastest of max(10, 2 * repeats) calls; method times are medians of `repeats` calls
// after a warm-up, each waiting for the device (modnorm::synchronize). A step of the quintic
// family does three products, X X^T, A A and B X, nominally 4 m^2 n + 2 m^3 flops per matrix (a
// cubic step 4 m^2 n); `gemm_floor_s` is steps times that at the GEMM rate, `ratio_to_floor` =
// time / floor and `fraction_of_gemm_rate` = floor / time (above 1 is possible: the kernels
// compute only the lower half of the two symmetric products). `gflops` is nominal flops / time.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/version.hpp"
#include "timing.hpp"

namespace {

using modnorm::Device;
using modnorm::DType;
using modnorm::OrthogonalizeMethod;
using modnorm::OrthogonalizeOptions;
using modnorm::Tensor;

// Median and minimum of `repeats` timed calls after one warm-up call (page faults, Eigen's
// workspace, OpenMP threads).
using modnorm::bench::time_calls;
using modnorm::bench::Timing;

struct Case {
  std::string name;
  OrthogonalizeOptions options;
};

// On the CPU every method in f32, the quintic in bf16 and the SVD reference; on the GPU the
// quintic and Polar Express, each in bf16 (the GPU default of Muon implementations) and f32.
std::vector<Case> cases(bool gpu) {
  std::vector<Case> out;
  auto add = [&](OrthogonalizeMethod method, DType compute) {
    OrthogonalizeOptions o;
    o.method = method;
    o.compute_dtype = compute;
    out.push_back(
        {std::string(modnorm::to_string(method)) + (compute == DType::bf16 ? "_bf16" : ""), o});
  };
  if (gpu) {
    for (auto method : {OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express})
      for (DType compute : {DType::bf16, DType::f32}) add(method, compute);
    return out;
  }
  for (auto method :
       {OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express,
        OrthogonalizeMethod::seed_tuned, OrthogonalizeMethod::modula, OrthogonalizeMethod::cubic})
    add(method, DType::f32);
  add(OrthogonalizeMethod::quintic, DType::bf16);
  add(OrthogonalizeMethod::svd, DType::f32);
  return out;
}

int steps_of(const OrthogonalizeOptions& o) {
  if (o.steps) return *o.steps;
  switch (o.method) {
    case OrthogonalizeMethod::modula:
      return 6;
    case OrthogonalizeMethod::cubic:
      return 15;
    default:
      return 5;
  }
}

// Singular values of the result from the eigenvalues of its small Gram matrix Y Y^T (wide
// orientation), in double: returns {sigma_min, sigma_max, ||Y Y^T - I||_2}.
std::array<double, 3> orthogonality(const Tensor& y) {
  const bool tall = y.dim(0) > y.dim(1);
  const Tensor gram = modnorm::matmul(y, y, tall, !tall);
  const auto m = gram.dim(0);
  const std::vector<double> values = gram.to_vector_f64();
  const Eigen::Map<const Eigen::MatrixXd> g(values.data(), m, m);
  const Eigen::VectorXd lambda = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(g).eigenvalues();
  double err = 0;
  for (Eigen::Index i = 0; i < lambda.size(); ++i) err = std::max(err, std::abs(lambda(i) - 1));
  return {std::sqrt(std::max(0.0, lambda.minCoeff())), std::sqrt(lambda.maxCoeff()), err};
}

// "RxC" or "BxRxC" (a batch of B matrices R x C).
struct Size {
  std::int64_t batch = 1, rows = 0, cols = 0;
};

std::vector<Size> parse_sizes(const std::string& text) {
  std::vector<Size> sizes;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::vector<std::int64_t> dims;
    std::stringstream parts(item);
    std::string part;
    while (std::getline(parts, part, 'x')) dims.push_back(std::stoll(part));
    if (dims.size() == 2)
      sizes.push_back({1, dims[0], dims[1]});
    else if (dims.size() == 3)
      sizes.push_back({dims[0], dims[1], dims[2]});
    else
      throw std::runtime_error("bad size '" + item + "' (want RxC or BxRxC)");
  }
  return sizes;
}

int run(int argc, char** argv) {
  int repeats = 5;
  std::int64_t svd_max = 1024;    // the SVD reference only where max(rows, cols) <= this
  std::int64_t check_max = 1024;  // the orthogonality check only where min(rows, cols) <= this
  std::string sizes_text;
  Device device = Device::cpu;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--sizes" && i + 1 < argc)
      sizes_text = argv[++i];
    else if (arg == "--svd-max" && i + 1 < argc)
      svd_max = std::atoll(argv[++i]);
    else if (arg == "--device" && i + 1 < argc && std::string(argv[i + 1]) == "cuda" && ++i)
      device = Device::cuda;
    else if (arg == "--device" && i + 1 < argc && std::string(argv[i + 1]) == "cpu" && ++i)
      device = Device::cpu;
    else {
      std::cerr << "usage: bench_orthogonalize [--device cpu|cuda] [--repeats N] "
                   "[--sizes RxC,BxRxC,...] [--svd-max N]\n";
      return 2;
    }
  }
  const bool gpu = device == Device::cuda;
  if (sizes_text.empty())
    sizes_text = gpu ? "1024x1024,4096x4096,4096x16384,32x1024x1024"
                     : "256x256,1024x1024,1024x4096,4096x1024";
  // On the GPU the work is queued: every timed call waits for it.
  auto sync = [&] { modnorm::synchronize(device); };

  nlohmann::json doc;
  const char* omp = std::getenv("OMP_NUM_THREADS");
  doc["machine"] = {{"hardware_threads", std::thread::hardware_concurrency()},
                    {"OMP_NUM_THREADS", omp ? omp : ""},
                    {"cpu_gemm", modnorm::cpu_gemm()},
                    {"cpu_gemm_kernels", modnorm::cpu_gemm_kernels()},
                    {"device", modnorm::to_string(device)}};
  doc["repeats"] = repeats;
  doc["results"] = nlohmann::json::array();

  modnorm::Generator gen(2025);
  for (const auto& [batch, rows, cols] : parse_sizes(sizes_text)) {
    const double m = static_cast<double>(std::min(rows, cols));
    const double n = static_cast<double>(std::max(rows, cols));
    const modnorm::Shape shape =
        batch == 1 ? modnorm::Shape{rows, cols} : modnorm::Shape{batch, rows, cols};
    const Tensor g = Tensor::randn(shape, gen).to(device);

    // The GEMM of a step, (m x m) (m x n), once per matrix: in f32 on the CPU, and on the GPU
    // in bf16 with fp32 accumulation (the tensor-core rate the bf16 iteration runs at).
    const DType gemm_dtype = gpu ? DType::bf16 : DType::f32;
    const auto mi = static_cast<std::int64_t>(m), ni = static_cast<std::int64_t>(n);
    const Tensor b = Tensor::randn({mi, mi}, gen, gemm_dtype).to(device);
    const Tensor x = Tensor::randn({mi, ni}, gen, gemm_dtype).to(device);
    Tensor out = Tensor::empty(x.shape(), gemm_dtype, device);
    // The best of many GEMMs: the highest rate, hence the lowest (most demanding) floor.
    const Timing gemm = time_calls(
        [&] {
          modnorm::gemm(1.0, b, false, x, false, 0.0, out);
          sync();
        },
        1, std::max(10, 2 * repeats));
    const double gemm_rate = 2 * m * m * n / gemm.min_s;

    nlohmann::json size = {{"batch", batch},
                           {"rows", rows},
                           {"cols", cols},
                           {"gemm_dtype", modnorm::to_string(gemm_dtype)},
                           {"gemm_s", gemm.min_s},
                           {"gemm_median_s", gemm.median_s},
                           {"gemm_gflops", gemm_rate / 1e9},
                           {"methods", nlohmann::json::array()}};
    for (const Case& c : cases(gpu)) {
      const bool is_svd = c.options.method == OrthogonalizeMethod::svd;
      if (is_svd && (n > static_cast<double>(svd_max) || batch > 1)) continue;
      Tensor y;
      const double t = time_calls(
                           [&] {
                             y = modnorm::orthogonalize(g, c.options);
                             sync();
                           },
                           1, is_svd ? 1 : repeats)
                           .median_s;
      nlohmann::json row = {{"method", c.name}, {"time_s", t}};
      if (batch == 1 && m <= static_cast<double>(check_max)) {
        const auto [sigma_min, sigma_max, error] = orthogonality(y);
        row["sigma_min"] = sigma_min;
        row["sigma_max"] = sigma_max;
        row["orthogonality_error"] = error;
      }
      if (!is_svd) {
        const int steps = steps_of(c.options);
        const bool cubic = c.options.method == OrthogonalizeMethod::cubic;
        const double flops =
            static_cast<double>(batch) * steps * (4 * m * m * n + (cubic ? 0 : 2 * m * m * m));
        const double floor_s = flops / gemm_rate;
        row["steps"] = steps;
        row["gflops"] = flops / t / 1e9;
        row["gemm_floor_s"] = floor_s;
        row["ratio_to_floor"] = t / floor_s;
        row["fraction_of_gemm_rate"] = floor_s / t;
      }
      size["methods"].push_back(row);
    }
    doc["results"].push_back(size);
  }
  std::cout << doc.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // modnorm::Error: no device, bad sizes
    std::cerr << "bench_orthogonalize: " << e.what() << "\n";
    return 1;
  }
}
