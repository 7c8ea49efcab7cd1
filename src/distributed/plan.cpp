// Who does what in data parallelism: share() cuts a global batch, plan_shards() gives every
// parameter one owner rank, balancing the Newton-Schulz work (distributed.hpp).
#include <algorithm>
#include <numeric>

#include "dualize_detail.hpp"
#include "fail.hpp"
#include "modnorm/distributed.hpp"

namespace modnorm::distributed {
namespace {

// Flops of orthogonalizing a rows x cols matrix (or a batch of them, [batch, rows, cols]) with
// the steps `options` asks for: per matrix and step A = X X^T (2 m^2 n), B = b A + c A A
// (2 m^3, absent for a cubic), B X (2 m^2 n), with m = min(rows, cols), n = max(rows, cols)
// (the Gram matrix is the small one).
double newton_schulz_flops(const Shape& shape, const OrthogonalizeOptions& options) {
  OrthogonalizeOptions counted = options;
  if (counted.method == OrthogonalizeMethod::svd) counted = OrthogonalizeOptions{};
  const std::int64_t rows = shape[shape.size() - 2], cols = shape[shape.size() - 1];
  const auto matrices = static_cast<double>(shape.size() == 3 ? shape[0] : 1);
  const auto m = static_cast<double>(std::min(rows, cols));
  const auto n = static_cast<double>(std::max(rows, cols));
  double flops = 0.0;
  for (const auto& step : modnorm::detail::newton_schulz_steps(counted))
    flops += 4.0 * m * m * n + (step[2] != 0.0 ? 2.0 * m * m * m : 0.0);
  return matrices * flops;
}

std::int64_t elements(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1},
                         std::multiplies<std::int64_t>());
}

}  // namespace

Share share(std::int64_t n, const Group& group) {
  if (n < 0) modnorm::detail::fail("share", "n must be >= 0, got " + std::to_string(n));
  const std::int64_t w = group.size(), r = group.rank();
  const std::int64_t base = n / w, extra = n % w;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

ShardPlan plan_shards(const std::vector<PlanItem>& items, int world_size,
                      const OrthogonalizeOptions& orthogonalize) {
  constexpr const char* op = "plan_shards";
  if (world_size < 1)
    modnorm::detail::fail(op, "world_size must be >= 1, got " + std::to_string(world_size));
  const auto ranks = static_cast<std::size_t>(world_size);
  ShardPlan plan{std::vector<int>(items.size(), -1), std::vector<double>(ranks, 0.0),
                 std::vector<std::int64_t>(ranks, 0)};
  std::vector<double> cost(items.size(), 0.0);
  for (std::size_t i = 0; i < items.size(); ++i)
    if (!items[i].frozen && items[i].norm == Norm::spectral &&
        (items[i].shape.size() == 2 || items[i].shape.size() == 3))
      cost[i] = newton_schulz_flops(items[i].shape, orthogonalize);

  // Longest processing time first (Graham 1969): within 4/3 of the best balance of flops.
  // Spectral items by flops, then the rest by elements; ties by index, so every rank agrees.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < items.size(); ++i)
    if (!items[i].frozen) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if ((cost[a] > 0) != (cost[b] > 0)) return cost[a] > 0;
    if (cost[a] != cost[b]) return cost[a] > cost[b];
    return elements(items[a].shape) > elements(items[b].shape);
  });
  for (const std::size_t i : order) {
    std::size_t best = 0;
    for (std::size_t r = 1; r < ranks; ++r) {
      const bool by_flops = cost[i] > 0;
      const auto key = [&](std::size_t k) {
        return by_flops ? std::make_pair(plan.flops[k], static_cast<double>(plan.elements[k]))
                        : std::make_pair(static_cast<double>(plan.elements[k]), plan.flops[k]);
      };
      if (key(r) < key(best)) best = r;
    }
    plan.owner[i] = static_cast<int>(best);
    plan.flops[best] += cost[i];
    plan.elements[best] += elements(items[i].shape);
  }
  return plan;
}

}  // namespace modnorm::distributed
