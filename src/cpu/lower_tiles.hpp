#pragma once
// The lower tiles of an m x m symmetric product, computed in parallel: the f32 Gram products of
// the oneDNN and Eigen GEMM providers (cpu/sgemm.cpp) and Newton-Schulz's f64 products, rounding
// and mirroring (cpu/newton_schulz.cpp).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace modnorm::detail::cpu {

/// Square tiles of an m x m symmetric product: panel boundaries 0 = r_0 < ... < r_p = m. Tile
/// (i, j), i >= j, is rows [r_i, r_i+1) x columns [r_j, r_j+1); only these p(p+1)/2 tiles are
/// computed (diagonal tiles in full) and then mirrored, so a Gram product costs m^2 n (1 + 1/p)
/// flops instead of 2 m^2 n. The tile is the largest of 256, 128, 64 that still gives every
/// thread >= 4 tiles (dynamic scheduling then balances them): measured on a 2-core EPYC and a
/// 16-core Xeon (docs/benchmarks.md).
inline std::vector<std::int64_t> lower_tile_bounds(std::int64_t m) {
  const std::int64_t threads = std::max(1, omp_get_max_threads());
  std::int64_t tile = 64;
  for (const std::int64_t t : {256, 128}) {
    const std::int64_t p = (m + t - 1) / t;
    if (p * (p + 1) / 2 >= 4 * threads) {
      tile = t;
      break;
    }
  }
  std::vector<std::int64_t> bounds;
  for (std::int64_t r = 0; r < m; r += tile) bounds.push_back(r);
  bounds.push_back(m);
  return bounds;
}

/// Runs fn(r0, h0, r1, h1) for every lower tile (row panel [r0, r0 + h0), column panel
/// [r1, r1 + h1)) in parallel; a GEMM inside fn runs single-threaded (oneDNN and Eigen do not
/// nest their threads inside a parallel region). With one tile, or `parallel` false (work too
/// small to pay for waking the threads), the tiles run on the calling thread, so a GEMM inside
/// uses its own threads.
template <class Fn>
void for_each_lower_tile(const std::vector<std::int64_t>& bounds, Fn&& fn, bool parallel = true) {
  const int p = static_cast<int>(bounds.size()) - 1;
  const int tiles = p * (p + 1) / 2;
#pragma omp parallel for schedule(dynamic, 1) if (parallel && tiles > 1)
  for (int t = 0; t < tiles; ++t) {
    // t -> (i, j) with i >= j, row by row of the lower triangle
    int i = static_cast<int>((std::sqrt(8.0 * t + 1) - 1) / 2);
    while (i * (i + 1) / 2 > t) --i;
    while ((i + 1) * (i + 2) / 2 <= t) ++i;
    const int j = t - i * (i + 1) / 2;
    fn(bounds[i], bounds[i + 1] - bounds[i], bounds[j], bounds[j + 1] - bounds[j]);
  }
}

}  // namespace modnorm::detail::cpu
