// bench_gpt_step: wall time of one training step of modnorm::GPT (forward, cross-entropy,
// backward, the modular optimizer's step), for the side-by-side with jit-compiled JAX
// (bench/peers/gpt_speed.py, scripts/bench-gpt; docs/benchmarks.md, "GPT training step").
//
// Usage:
//   bench_gpt_step [--vocab V] [--context T] [--batch B] [--d-embed D] [--heads H]
//                  [--blocks L] [--warmup N] [--repeats N] [--seed S]
//
// The step is what `modnorm train gpt` runs: Optimizer with its defaults (modular
// algorithm, EMA momentum 0.95, Muon's 5-step quintic in f32, lr 0.1) on one fixed batch of
// token ids drawn from Generator(S + 1). Prints one JSON document: the options, the timing
// (median, min, every step), the CPU time per timed step (all threads) and the process's peak
// resident set size.
#include <sys/resource.h>

#include <cstdint>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"
#include "timing.hpp"

namespace {

using json = nlohmann::json;

struct Run {
  modnorm::GPTOptions gpt;
  std::int64_t context = 64;
  std::int64_t batch = 12;
  std::int64_t warmup = 3;
  std::int64_t repeats = 10;
  std::int64_t seed = 0;
};

Run parse(int argc, char** argv) {
  Run r;  // modula's hello-gpt sizes
  r.gpt.vocab = 73;
  r.gpt.d_embed = 128;
  r.gpt.heads = 4;
  r.gpt.blocks = 4;
  const std::map<std::string, std::int64_t*> options = {
      {"--vocab", &r.gpt.vocab},     {"--context", &r.context}, {"--batch", &r.batch},
      {"--d-embed", &r.gpt.d_embed}, {"--heads", &r.gpt.heads}, {"--blocks", &r.gpt.blocks},
      {"--warmup", &r.warmup},       {"--repeats", &r.repeats}, {"--seed", &r.seed}};
  for (int k = 1; k < argc; k += 2) {
    const auto it = options.find(argv[k]);
    if (it == options.end() || k + 1 >= argc)
      throw modnorm::Error("[bench_gpt_step] unknown option or missing value: '" +
                           std::string(argv[k]) + "'");
    *it->second = std::stoll(argv[k + 1]);
  }
  if (r.context < 1 || r.batch < 1 || r.repeats < 1 || r.warmup < 0 || r.seed < 0)
    throw modnorm::Error(
        "[bench_gpt_step] context, batch and repeats must be >= 1, warmup "
        "and seed >= 0");
  r.gpt.d_query = r.gpt.d_value = r.gpt.heads > 0
                                      ? r.gpt.d_embed / r.gpt.heads
                                      : 0;  // modula's hello-gpt: d_embed split over the heads
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Run r = parse(argc, argv);
    modnorm::Module gpt = modnorm::GPT(r.gpt);
    modnorm::Generator gen(static_cast<std::uint64_t>(r.seed));
    gpt.initialize(gen);
    modnorm::Optimizer opt(gpt);

    modnorm::Generator data(static_cast<std::uint64_t>(r.seed) + 1);
    const std::int64_t n = r.batch * r.context;
    std::vector<std::int32_t> tokens, targets;
    for (std::int64_t k = 0; k < n; ++k) {
      tokens.push_back(
          static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(r.gpt.vocab))));
      targets.push_back(
          static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(r.gpt.vocab))));
    }
    const modnorm::Tensor ids = modnorm::Tensor::from_vector_i32(tokens, {r.batch, r.context});
    const modnorm::Tensor labels = modnorm::Tensor::from_vector_i32(targets, {n});

    double loss = 0.0;
    std::vector<double> cpu_s;  // CPU time of every call, all threads: what a loaded machine
                                // does not inflate the way it inflates the wall time
    const modnorm::bench::Timing t = modnorm::bench::time_calls(
        [&] {
          const std::clock_t start = std::clock();
          gpt.zero_grad();
          const modnorm::Tensor logits = gpt.forward(ids);
          const modnorm::CrossEntropy ce =
              modnorm::softmax_cross_entropy(logits.reshape({n, r.gpt.vocab}), labels);
          gpt.backward(ce.grad.reshape({r.batch, r.context, r.gpt.vocab}), false);
          opt.step();
          loss = ce.loss;
          cpu_s.push_back(static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC);
        },
        static_cast<int>(r.warmup), static_cast<int>(r.repeats));

    std::int64_t parameters = 0;
    for (const modnorm::Parameter& p : gpt.parameters()) parameters += p.weight.numel();
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const json out = {
        {"implementation", std::string("modnorm ") + modnorm::version()},
        {"cpu_gemm", modnorm::cpu_gemm()},
        {"cpu_gemm_kernels", modnorm::cpu_gemm_kernels()},
        {"vocab", r.gpt.vocab},
        {"context", r.context},
        {"batch", r.batch},
        {"d_embed", r.gpt.d_embed},
        {"heads", r.gpt.heads},
        {"blocks", r.gpt.blocks},
        {"parameters", parameters},
        {"last_loss", loss},
        {"median_s", t.median_s},
        {"min_s", t.min_s},
        {"times_s", t.times_s},
        {"cpu_s_per_step", std::accumulate(cpu_s.end() - r.repeats, cpu_s.end(), 0.0) /
                               static_cast<double>(r.repeats)},
        {"peak_rss_mib", static_cast<double>(usage.ru_maxrss) / 1024.0}};
    std::cout << out.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_gpt_step: " << e.what() << "\n";
    return 1;
  }
}
