// The optimizer's step plan over a process group: plan_shards() gives every parameter its owner
// ranks (one, or several for a large matrix split by rows), balancing the Newton-Schulz work
// (optim.hpp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "modnorm/error.hpp"
#include "modnorm/optim.hpp"

namespace modnorm {
namespace {

std::int64_t elements(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1},
                         std::multiplies<std::int64_t>());
}

// A split matrix keeps at least this many rows per chunk.
constexpr std::int64_t kMinRows = 64;

// Whether item (of duality-map cost `cost`) is split by rows among `world_size` ranks whose
// mean work is `mean` (plan_shards): only a norm that orthogonalizes can be (orthogonalize_rows).
bool splits(const PlanItem& item, double cost, double mean, int world_size,
            const OrthogonalizeOptions& orthogonalize) {
  return world_size > 1 && cost > mean && item.norm && item.norm->rule().orthogonalizes() &&
         item.shape.size() == 2 && item.shape[0] >= item.shape[1] &&
         item.shape[0] >= 2 * kMinRows && orthogonalize.method != OrthogonalizeMethod::svd &&
         orthogonalize.compute_dtype != DType::bf16;
}

}  // namespace

ShardPlan plan_shards(const std::vector<PlanItem>& items, int world_size,
                      const OrthogonalizeOptions& orthogonalize) {
  constexpr const char* op = "plan_shards";
  if (world_size < 1) fail(op, "world_size must be >= 1, got " + std::to_string(world_size));
  const auto ranks = static_cast<std::size_t>(world_size);
  ShardPlan plan{std::vector<std::vector<RowBlock>>(items.size()), std::vector<double>(ranks, 0.0),
                 std::vector<std::int64_t>(ranks, 0)};
  std::vector<double> cost(items.size(), 0.0);
  for (std::size_t i = 0; i < items.size(); ++i)  // the rule's cost, where it measures the shape
    if (!items[i].frozen && items[i].norm &&
        items[i].norm->rule().shape_requirement(items[i].shape).empty())
      cost[i] = items[i].norm->rule().cost(items[i].shape, orthogonalize);
  const double mean = std::accumulate(cost.begin(), cost.end(), 0.0) / world_size;

  // The units of work: whole items, and the equal chunks of rows of the items split
  // (orthogonalize_rows): a rank's first chunk of an item also costs the item's fixed part.
  struct Unit {
    std::size_t item;
    double flops, fixed;
    std::int64_t elements;
  };
  std::vector<Unit> units;
  std::vector<std::int64_t> chunks(items.size(), 1);
  std::vector<double> per_row(items.size(), 0.0), fixed(items.size(), 0.0);  // of split items
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].frozen) continue;
    if (!splits(items[i], cost[i], mean, world_size, orthogonalize)) {
      units.push_back({i, cost[i], 0.0, elements(items[i].shape)});
      continue;
    }
    const std::int64_t rows = items[i].shape[0], cols = items[i].shape[1];
    chunks[i] = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(cost[i] / mean)),
                                       rows / kMinRows);
    // A tall matrix's cost is linear in its rows: per_row rows + fixed (T 4 n^2 and T 2 n^3
    // for a quintic).
    const NormRule& rule = items[i].norm->rule();
    fixed[i] =
        2.0 * rule.cost({cols, cols}, orthogonalize) - rule.cost({2 * cols, cols}, orthogonalize);
    per_row[i] = (cost[i] - fixed[i]) / static_cast<double>(rows);
    for (std::int64_t c = 0; c < chunks[i]; ++c)
      units.push_back({i, (cost[i] - fixed[i]) / static_cast<double>(chunks[i]), fixed[i],
                       rows * cols / chunks[i]});
  }

  // Longest processing time first (Graham 1969): within 4/3 of the best balance of flops.
  // Spectral work by flops, then the rest by elements; ties by item, so every rank agrees.
  std::stable_sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) {
    if ((a.flops > 0) != (b.flops > 0)) return a.flops > 0;
    if (a.flops != b.flops) return a.flops > b.flops;
    return a.elements > b.elements;
  });
  // Chunks of each split item held per rank.
  std::vector<std::vector<std::int64_t>> held(items.size());
  for (const Unit& u : units) {
    std::vector<std::int64_t>& mine = held[u.item];
    if (mine.empty()) mine.assign(ranks, 0);
    const auto key = [&](std::size_t k) {
      const double work = plan.flops[k] + u.flops + (mine[k] == 0 ? u.fixed : 0.0);
      const auto count = static_cast<double>(plan.elements[k]);
      return u.flops > 0 ? std::make_pair(work, count) : std::make_pair(count, work);
    };
    std::size_t best = 0;
    for (std::size_t r = 1; r < ranks; ++r)
      if (key(r) < key(best)) best = r;
    plan.flops[best] += u.flops + (mine[best] == 0 ? u.fixed : 0.0);
    plan.elements[best] += u.elements;
    ++mine[best];
  }

  // Rows in rank order: chunk c has rows / chunks rows, one more for the first rows % chunks.
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].frozen) continue;
    const std::int64_t rows = items[i].shape.empty() ? 1 : items[i].shape[0];
    std::int64_t begin = 0, chunk = 0;
    for (std::size_t r = 0; r < ranks; ++r) {
      std::int64_t count = 0;
      for (std::int64_t k = 0; k < held[i][r]; ++k, ++chunk)
        count += rows / chunks[i] + (chunk < rows % chunks[i] ? 1 : 0);
      if (count > 0) plan.owners[i].push_back({static_cast<int>(r), begin, count});
      begin += count;
    }
  }
  // The counts above are per chunk (of equal size); the exact ones per block.
  std::fill(plan.flops.begin(), plan.flops.end(), 0.0);
  std::fill(plan.elements.begin(), plan.elements.end(), 0);
  for (std::size_t i = 0; i < items.size(); ++i)
    for (const RowBlock& b : plan.owners[i]) {
      const auto r = static_cast<std::size_t>(b.rank);
      plan.flops[r] +=
          plan.owners[i].size() > 1 ? per_row[i] * static_cast<double>(b.rows) + fixed[i] : cost[i];
      plan.elements[r] +=
          elements(items[i].shape) / (items[i].shape.empty() ? 1 : items[i].shape[0]) * b.rows;
    }
  return plan;
}

}  // namespace modnorm
