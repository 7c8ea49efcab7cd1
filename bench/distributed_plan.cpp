// The owner plan of the sharded step for a GPT-2-small-shaped parameter list (12 blocks, d 768,
// vocab 50257, modnorm::GPT's atoms: embedding, Q, K, V, O and the MLP's two Linears per block,
// the output Linear), for W ranks: what plan_shards computes, and per rank the
// Newton-Schulz flops of one step (the default 5-step quintic) and the bytes sent, against the
// all-reduce bound 2 P (W - 1) / W. A model, not a measurement (docs/benchmarks.md, "Distributed").
// Bytes follow the ring algorithms: the reduce-scatter sends every block but the rank's own
// (P - B_r elements), the all-gather every block but the next rank's (P - B_{r+1}), and the
// owners of a matrix split by rows all_sum its n x n Gram matrix at every step (2 (k - 1) / k
// n^2 for k owners; the few scalar sums are left out); f32.
//
// Usage: bench_distributed_plan [W ...]   (default 1 8 64 512); one JSON document on stdout.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "modnorm/modnorm.hpp"

int main(int argc, char** argv) {
  namespace dist = modnorm::distributed;
  using modnorm::Norm;
  constexpr std::int64_t d = 768, vocab = 50257, blocks = 12;
  std::vector<modnorm::PlanItem> items{{{d, vocab}, Norm::column}};
  for (std::int64_t b = 0; b < blocks; ++b) {
    for (int k = 0; k < 4; ++k) items.push_back({{d, d}, Norm::spectral});
    items.push_back({{4 * d, d}, Norm::spectral});
    items.push_back({{d, 4 * d}, Norm::spectral});
  }
  items.push_back({{vocab, d}, Norm::spectral});
  std::vector<int> worlds;
  for (int i = 1; i < argc; ++i) worlds.push_back(std::atoi(argv[i]));
  if (worlds.empty()) worlds = {1, 8, 64, 512};

  std::int64_t parameters = 0;
  for (const auto& item : items) parameters += item.shape[0] * item.shape[1];
  nlohmann::json runs = nlohmann::json::array();
  for (const int w : worlds) {
    const modnorm::ShardPlan plan = modnorm::plan_shards(items, w, {});
    const double total = std::accumulate(plan.flops.begin(), plan.flops.end(), 0.0);
    const double max_flops = *std::max_element(plan.flops.begin(), plan.flops.end());
    // A split matrix's owners also all_sum its n x n Gram matrix once per step (f32, 5 steps).
    std::vector<double> gram(static_cast<std::size_t>(w), 0.0);
    int split = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto k = static_cast<double>(plan.owners[i].size());
      if (k < 2) continue;
      ++split;
      const auto n = static_cast<double>(items[i].shape[1]);
      for (const modnorm::RowBlock& b : plan.owners[i])
        gram[static_cast<std::size_t>(b.rank)] += 4.0 * 5 * n * n * 2.0 * (k - 1) / k;
    }
    std::vector<double> bytes;
    for (int r = 0; r < w; ++r) {
      const std::int64_t own = plan.elements[static_cast<std::size_t>(r)];
      const std::int64_t next = plan.elements[static_cast<std::size_t>((r + 1) % w)];
      bytes.push_back(4.0 * static_cast<double>((parameters - own) + (parameters - next)) +
                      gram[static_cast<std::size_t>(r)]);
    }
    const double bound = 4.0 * 2.0 * static_cast<double>(parameters) * (w - 1) / w;
    const double max_bytes = *std::max_element(bytes.begin(), bytes.end());
    runs.push_back({{"ranks", w},
                    {"newton_schulz_flops_total", total},
                    {"newton_schulz_flops_max", max_flops},
                    {"newton_schulz_flops_mean", total / w},
                    {"max_over_mean", max_flops / (total / w)},
                    {"ranks_owning_matrices", std::count_if(plan.flops.begin(), plan.flops.end(),
                                                            [](double f) { return f > 0; })},
                    {"split_matrices", split},
                    {"bytes_sent_max", max_bytes},
                    {"allreduce_bound_bytes", bound},
                    {"bytes_over_bound", w == 1 ? 1.0 : max_bytes / bound}});
  }
  // The largest single matrix's share of all the work.
  const modnorm::ShardPlan one = modnorm::plan_shards(items, 1, {});
  const double head = modnorm::plan_shards({items.back()}, 1, {}).flops[0];
  std::cout << nlohmann::json{{"model", "GPT-2-small-shaped: 12 blocks, d 768, vocab 50257"},
                              {"parameters", parameters},
                              {"matrices", items.size() - 1},
                              {"largest_matrix_share", head / one.flops[0]},
                              {"orthogonalize", "quintic, 5 steps"},
                              {"runs", runs}}
                   .dump(2)
            << "\n";
  return 0;
}
