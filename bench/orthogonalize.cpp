// bench_orthogonalize: time per call of every orthogonalize() method on the CPU against the
// machine's GEMM rate measured in the same run, and the orthogonality each method reaches.
// Prints one JSON document on stdout (docs/benchmarks.md, "Orthogonalization on the CPU").
//
// Usage: bench_orthogonalize [--repeats N] [--sizes 256x256,1024x4096,...] [--svd-max N]
//
// Per size (G is rows x cols, m = min, n = max): the GEMM rate is 2 m^2 n / t of the largest
// product of a Newton-Schulz step (B X, m x m times m x n) through modnorm::gemm, fastest of
// max(10, 2 * repeats) calls; method times are medians of `repeats` calls after a warm-up. A step
// of the quintic family does three products, X X^T, A A and B X, nominally 4 m^2 n + 2 m^3 flops (a
// cubic step 4 m^2 n); `gemm_floor_s` is steps times that at the GEMM rate, and `ratio_to_floor` =
// time / floor (below 1 is possible: the kernel computes only half of the two symmetric products).
// `gflops` is nominal flops / time.
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
#include "timing.hpp"

namespace {

using modnorm::DType;
using modnorm::OrthogonalizeMethod;
using modnorm::OrthogonalizeOptions;
using modnorm::Tensor;

// Median and minimum of `repeats` timed calls after one warm-up call (page faults, Eigen's
// workspace, OpenMP threads).
using modnorm::bench::Timing;
using modnorm::bench::time_calls;

struct Case {
  std::string name;
  OrthogonalizeOptions options;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto method :
       {OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express,
        OrthogonalizeMethod::seed_tuned, OrthogonalizeMethod::modula, OrthogonalizeMethod::cubic}) {
    OrthogonalizeOptions o;
    o.method = method;
    out.push_back({modnorm::to_string(method), o});
  }
  OrthogonalizeOptions bf16;
  bf16.compute_dtype = DType::bf16;
  out.push_back({"quintic_bf16", bf16});
  OrthogonalizeOptions svd;
  svd.method = OrthogonalizeMethod::svd;
  out.push_back({"svd", svd});
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

std::vector<std::pair<std::int64_t, std::int64_t>> parse_sizes(const std::string& text) {
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto x = item.find('x');
    if (x == std::string::npos) throw std::runtime_error("bad size '" + item + "' (want RxC)");
    sizes.emplace_back(std::stoll(item.substr(0, x)), std::stoll(item.substr(x + 1)));
  }
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 5;
  std::int64_t svd_max = 1024;  // the SVD reference only where max(rows, cols) <= this
  std::string sizes_text = "256x256,1024x1024,1024x4096,4096x1024";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeats" && i + 1 < argc)
      repeats = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--sizes" && i + 1 < argc)
      sizes_text = argv[++i];
    else if (arg == "--svd-max" && i + 1 < argc)
      svd_max = std::atoll(argv[++i]);
    else {
      std::cerr << "usage: bench_orthogonalize [--repeats N] [--sizes RxC,...] [--svd-max N]\n";
      return 2;
    }
  }

  nlohmann::json doc;
  const char* omp = std::getenv("OMP_NUM_THREADS");
  doc["machine"] = {{"hardware_threads", std::thread::hardware_concurrency()},
                    {"OMP_NUM_THREADS", omp ? omp : ""}};
  doc["repeats"] = repeats;
  doc["results"] = nlohmann::json::array();

  modnorm::Generator gen(2025);
  for (const auto& [rows, cols] : parse_sizes(sizes_text)) {
    const double m = static_cast<double>(std::min(rows, cols));
    const double n = static_cast<double>(std::max(rows, cols));
    const Tensor g = Tensor::randn({rows, cols}, gen);

    // The GEMM of a step: (m x m) (m x n).
    const Tensor b =
        Tensor::randn({static_cast<std::int64_t>(m), static_cast<std::int64_t>(m)}, gen);
    const Tensor x =
        Tensor::randn({static_cast<std::int64_t>(m), static_cast<std::int64_t>(n)}, gen);
    Tensor out = Tensor::empty(x.shape());
    // The best of many GEMMs: the highest rate, hence the lowest (most demanding) floor.
    const Timing gemm = time_calls([&] { modnorm::gemm(1.0, b, false, x, false, 0.0, out); }, 1, std::max(10, 2 * repeats));
    const double gemm_s = gemm.min_s;
    const double gemm_rate = 2 * m * m * n / gemm_s;

    nlohmann::json size = {{"rows", rows},
                           {"cols", cols},
                           {"gemm_s", gemm_s},
                           {"gemm_median_s", gemm.median_s},
                           {"gemm_gflops", gemm_rate / 1e9},
                           {"methods", nlohmann::json::array()}};
    for (const Case& c : cases()) {
      const bool is_svd = c.options.method == OrthogonalizeMethod::svd;
      if (is_svd && n > static_cast<double>(svd_max)) continue;
      Tensor y;
      const double t =
          time_calls([&] { y = modnorm::orthogonalize(g, c.options); }, 1, is_svd ? 1 : repeats)
              .median_s;
      const auto [sigma_min, sigma_max, error] = orthogonality(y);
      nlohmann::json row = {{"method", c.name},
                            {"time_s", t},
                            {"sigma_min", sigma_min},
                            {"sigma_max", sigma_max},
                            {"orthogonality_error", error}};
      if (!is_svd) {
        const int steps = steps_of(c.options);
        const bool cubic = c.options.method == OrthogonalizeMethod::cubic;
        const double flops = steps * (4 * m * m * n + (cubic ? 0 : 2 * m * m * m));
        const double floor_s = flops / gemm_rate;
        row["steps"] = steps;
        row["gflops"] = flops / t / 1e9;
        row["gemm_floor_s"] = floor_s;
        row["ratio_to_floor"] = t / floor_s;
      }
      size["methods"].push_back(row);
    }
    doc["results"].push_back(size);
  }
  std::cout << doc.dump(2) << "\n";
  return 0;
}
