// The CPU GEMM providers side by side (docs/benchmarks.md, "GEMM providers"): CMake builds this
// file once per provider found (bench_gemm_onednn, bench_gemm_openblas, bench_gemm_blis,
// bench_gemm_eigen), each with src/cpu/sgemm.cpp compiled for that provider, the very code the
// library runs. Each prints one JSON document: the CPU, the provider and its kernels, and the
// f32 rate of the general product (sgemm) and of Newton-Schulz's symmetric product
// (ssyrk_lower, counted as its m^2 k useful flops) at the shapes modnorm multiplies.
// scripts/bench-gemm runs them in turns and renders the table.
//
//   bench_gemm_onednn [--repeats N]
#include <omp.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cpu/sgemm.hpp"
#include "timing.hpp"

namespace {

using modnorm::detail::cpu::gemm_kernels;
using modnorm::detail::cpu::sgemm;
using modnorm::detail::cpu::ssyrk_lower;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::vector<float> random_matrix(std::int64_t size, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(size));
  for (float& x : v) x = normal(rng);
  return v;
}

struct Shape {
  const char* what;  // where modnorm multiplies at this shape
  const char* op;    // "sgemm" or "ssyrk"
  std::int64_t m, n, k;
};

// sgemm: C (m x n) = A (m x k) B (k x n); ssyrk: the lower triangle of A A^T, A m x k (n = m).
const Shape kShapes[] = {
    {"roof: square 2048", "sgemm", 2048, 2048, 2048},
    {"Newton-Schulz 256x256: B X", "sgemm", 256, 256, 256},
    {"Newton-Schulz 256x256: X X^T", "ssyrk", 256, 256, 256},
    {"Newton-Schulz 1024x1024: B X", "sgemm", 1024, 1024, 1024},
    {"Newton-Schulz 1024x1024: X X^T", "ssyrk", 1024, 1024, 1024},
    {"Newton-Schulz 4096x1024: X^T X", "ssyrk", 1024, 1024, 4096},
    {"MLP step, batch 1024: 1024x784 by 784x512", "sgemm", 1024, 512, 784},
    {"GPT, hello size: 768 tokens, 128 -> 512", "sgemm", 768, 512, 128},
    {"GPT, 4x wider: 768 tokens, 512 -> 2048", "sgemm", 768, 2048, 512},
};

}  // namespace

int main(int argc, char** argv) {
  int repeats = 10;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--repeats") repeats = std::stoi(argv[i + 1]);
  std::mt19937 rng(0);
  nlohmann::json rows = nlohmann::json::array();
  for (const Shape& s : kShapes) {
    const std::vector<float> a = random_matrix(s.m * s.k, rng), b = random_matrix(s.k * s.n, rng);
    std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
    const bool syrk = std::string(s.op) == "ssyrk";
    const auto timing = modnorm::bench::time_calls(
        [&] {
          if (syrk)
            ssyrk_lower(false, s.m, s.k, 1.0f, a.data(), s.k, 0.0f, c.data(), s.m);
          else
            sgemm(false, false, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.n, 0.0f, c.data(),
                  s.n);
        },
        2, repeats);
    const double flops = (syrk ? 1.0 : 2.0) * static_cast<double>(s.m) * s.n * s.k;
    rows.push_back({{"what", s.what},
                    {"op", s.op},
                    {"m", s.m},
                    {"n", s.n},
                    {"k", s.k},
                    {"min_s", timing.min_s},
                    {"median_s", timing.median_s},
                    {"gflops", flops / timing.min_s * 1e-9}});
  }
  const auto& kernels = gemm_kernels();
  std::cout << nlohmann::json{{"cpu", cpu_model()},           {"threads", omp_get_max_threads()},
                              {"provider", kernels.provider}, {"kernels", kernels.kernels},
                              {"generic", kernels.generic},   {"rows", rows}}
                   .dump(1)
            << "\n";
}
