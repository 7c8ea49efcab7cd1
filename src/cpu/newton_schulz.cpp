// The Newton-Schulz primitive on the host (backend.hpp; the device-free part is in
// src/orthogonalize.cpp). One step with coefficients (a, b, c) on X, m = min(rows, cols):
//
//   A = X X^T                  (m x m, symmetric; X^T X for a tall X)
//   B = a I + b A + c A A      (m x m, symmetric: A A = A A^T)
//   X <- B X                   = a X + b (X X^T) X + c (X X^T)^2 X   (X B for a tall X)
//
// as in Jordan et al. 2024 (Muon) and Amsel et al. 2025, Algorithm 1, with `a` folded into B
// so that the update is one GEMM. Cost per step: X X^T and A A are Gram products with a
// symmetric result, so only their lower triangles are computed (about m^2 n and m^3 flops
// instead of 2 m^2 n and 2 m^3): in f32 by the GEMM provider's symmetric product
// (cpu/sgemm.hpp), in f64 as lower tiles in parallel; then each tile is mirrored (and rounded to
// bf16 if asked); B X is one parallel GEMM (2 m^2 n). All buffers are allocated before the step
// loop (the GEMM packs into its own workspace). Small f32 matrices run all of this in one
// parallel region instead (newton_schulz_one_region below).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "cpu/chunked_phases.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"
#include "cpu/lower_tiles.hpp"
#include "cpu/sgemm.hpp"

namespace modnorm::detail {
namespace {

using Index = Eigen::Index;

// Round to the nearest bf16 (ties to even) and back to f32: the bit-level form of
// modnorm::float_to_bf16 / bf16_to_float (tests/dualize check the results are bf16 values),
// inline so the loops vectorise. Iterates are finite here (inputs are checked): no NaN case.
inline float round_to_bf16(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

template <class Block>
void round_block_to_bf16(Block&& block) {
  for (Index i = 0; i < block.rows(); ++i)
    for (Index j = 0; j < block.cols(); ++j) block(i, j) = round_to_bf16(block(i, j));
}

// X is m x n (wide) or n x m (tall, m = cols); the Gram matrix is always the m x m one:
// A = X X^T (wide) or X^T X (tall), and the update is X <- B X (wide) or X B (tall). Working
// on the tall matrix directly is the transposed problem without copying it. A batch
// [batch, rows, cols] is one matrix after another through the same buffers.
template <class T>
void newton_schulz_steps(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                         bool bf16_iterates) {
  using Map = cpu::MatrixMap<T>;
  const bool batched = x.rank() == 3;
  const Index batch = batched ? x.dim(0) : 1;
  const Index rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const bool tall = rows > cols;
  const Index m = std::min(rows, cols);
  constexpr bool kFloat = std::is_same_v<T, float>;
  const bool round = kFloat && bf16_iterates;

  cpu::Matrix<T> A(m, m), B(m, m), scratch(rows, cols);
  const std::vector<Index> bounds = cpu::lower_tile_bounds(m);

  // Rounds lower tile (r0, r1) of s when iterating in bf16 and mirrors it onto (r1, r0); a
  // diagonal tile mirrors its strictly lower part onto its upper part, so s is exactly
  // symmetric.
  auto finish_tile = [&](cpu::Matrix<T>& s, Index r0, Index h0, Index r1, Index h1) {
    if constexpr (kFloat)
      if (round) round_block_to_bf16(s.block(r0, r1, h0, h1));
    if (r0 != r1) {
      s.block(r1, r0, h1, h0) = s.block(r0, r1, h0, h1).transpose();
      return;
    }
    for (Index i = 0; i < h0; ++i)
      for (Index j = i + 1; j < h0; ++j) s(r0 + i, r0 + j) = s(r0 + j, r0 + i);
  };
  // Every tile of s (whose lower triangle the provider's symmetric product has computed); a
  // copy, so in parallel only where it is large (cpu::kParallelCheap).
  auto finish = [&](cpu::Matrix<T>& s) {
    cpu::for_each_lower_tile(
        bounds, [&](Index r0, Index h0, Index r1, Index h1) { finish_tile(s, r0, h0, r1, h1); },
        m * m >= cpu::kParallelCheap);
  };

  for (Index matrix = 0; matrix < batch; ++matrix) {
    T* const result = static_cast<T*>(x.raw()) + matrix * rows * cols;
    T* current = result;
    T* next = scratch.data();

    if constexpr (kFloat)
      if (round) {
        Map X(current, rows, cols);
        round_block_to_bf16(X);
      }

    for (const auto& step : steps) {
      const T a = static_cast<T>(step[0]), b = static_cast<T>(step[1]), c = static_cast<T>(step[2]);
      const Map X(current, rows, cols);
      Map Y(next, rows, cols);

      if constexpr (kFloat) {
        // f32: each Gram product is one call of the GEMM provider's symmetric product
        // (cpu/sgemm.hpp: ?syrk on OpenBLAS and BLIS, parallel tiles on oneDNN), which computes the
        // lower triangle at about the full GEMM rate; the tiles then only round and mirror.
        // A = X X^T (or X^T X); B = a I + b A + c A A^T, with A A^T = A A (A symmetric).
        cpu::ssyrk_lower(tall, m, tall ? rows : cols, 1.0f, X.data(), cols, 0.0f, A.data(), m);
        finish(A);
        B = b * A;
        B.diagonal().array() += a;
        if (c != T(0)) cpu::ssyrk_lower(false, m, m, c, A.data(), m, 1.0f, B.data(), m);
        finish(B);
        // X <- B X = a X + b A X + c A^2 X (or X B): one multithreaded GEMM.
        if (tall)
          cpu::sgemm(false, false, rows, m, m, 1.0f, X.data(), cols, B.data(), m, 0.0f, Y.data(),
                     cols);
        else
          cpu::sgemm(false, false, m, cols, m, 1.0f, B.data(), m, X.data(), cols, 0.0f, Y.data(),
                     cols);
      } else {
        // f64 (the references): A = X X^T (or X^T X), lower tiles, mirrored.
        cpu::for_each_lower_tile(bounds, [&](Index r0, Index h0, Index r1, Index h1) {
          auto tile = A.block(r0, r1, h0, h1);
          if (tall)
            tile.noalias() = X.middleCols(r0, h0).transpose() * X.middleCols(r1, h1);
          else
            tile.noalias() = X.middleRows(r0, h0) * X.middleRows(r1, h1).transpose();
          finish_tile(A, r0, h0, r1, h1);
        });
        // B = a I + b A + c A A, with A A = A A^T (A symmetric): the same tiles.
        cpu::for_each_lower_tile(bounds, [&](Index r0, Index h0, Index r1, Index h1) {
          auto tile = B.block(r0, r1, h0, h1);
          if (c != T(0)) {
            tile.noalias() = c * (A.middleRows(r0, h0) * A.middleRows(r1, h1).transpose());
            tile += b * A.block(r0, r1, h0, h1);
          } else {
            tile = b * A.block(r0, r1, h0, h1);
          }
          if (r0 == r1) tile.diagonal().array() += a;
          finish_tile(B, r0, h0, r1, h1);
        });
        // X <- B X (or X B): one parallel GEMM.
        if (tall)
          Y.noalias() = X * B;
        else
          Y.noalias() = B * X;
      }
      if constexpr (kFloat)
        if (round) {
          T* p = Y.data();
          const Index size = Y.size();
#pragma omp parallel for schedule(static) if (size >= cpu::kParallelCheap)
          for (Index k = 0; k < size; ++k) p[k] = round_to_bf16(p[k]);
        }
      std::swap(current, next);
    }
    if (current != result) Map(result, rows, cols) = Map(current, rows, cols);
  }
}

// f32 matrices of fewer multiply-adds than this per Gram product (m^2 n) take the one-region
// path below: there the OpenMP regions of the path above (three per step: two Gram products and
// the update), each waking a sleeping worker, cost about as much as the arithmetic. Measured on
// the 2-core EPYC VM (OpenBLAS, quintic, bench_orthogonalize): 256^2 3.6 -> 2.8 ms, 128^2 0.61
// -> 0.47 ms, a batch of four 128^2 2.36 -> 1.84 ms; 512^2 and 256 x 1024 within 3% (faster).
constexpr Index kOneRegion = Index{1} << 28;
// Chunks per thread and phase of the one-region path: enough that the threads that keep their
// cores take over a descheduled thread's share, few enough that each GEMM stays efficient (with
// four, 256^2 took 3.0 ms against two's 2.9 on the quiet 2-core EPYC VM, OpenBLAS, and no less
// beside busy processes).
constexpr int kChunks = 2;

// Row boundaries 0 = q_0 <= ... <= q_T = n splitting n rows into T chunks of equal size.
std::vector<Index> even_shares(Index n, int chunks) {
  std::vector<Index> q(static_cast<std::size_t>(chunks) + 1);
  for (std::size_t k = 0; k < q.size(); ++k) q[k] = n * static_cast<Index>(k) / chunks;
  return q;
}

// The same for the rows of a Gram product whose chunk k is the rectangle rows [q_k, q_k+1) x
// columns [0, q_k+1) (its rows of the lower triangle and its whole diagonal block): chunks of
// equal area a, q_k+1 = (q_k + sqrt(q_k^2 + 4 a)) / 2, with a found by bisection so that q_T = n.
std::vector<Index> gram_shares(Index n, int chunks) {
  const auto edges = [&](double a) {
    std::vector<double> q(static_cast<std::size_t>(chunks) + 1, 0.0);
    for (std::size_t k = 1; k < q.size(); ++k)
      q[k] = (q[k - 1] + std::sqrt(q[k - 1] * q[k - 1] + 4 * a)) / 2;
    return q;
  };
  const double rows = static_cast<double>(n);
  double lo = 0, hi = rows * rows;
  for (int i = 0; i < 60; ++i) (edges((lo + hi) / 2).back() < rows ? lo : hi) = (lo + hi) / 2;
  const std::vector<double> edge = edges(hi);
  std::vector<Index> q(edge.size());
  for (std::size_t k = 0; k < q.size(); ++k)
    q[k] = std::min(n, static_cast<Index>(std::llround(edge[k])));
  q.back() = n;
  return q;
}

// The f32 steps of newton_schulz_steps, every step of every matrix in one parallel region, as a
// sequence of phases (cpu/chunked_phases.hpp): A, B and the update of each step, each split into
// kChunks chunks per thread that the threads claim. A chunk of A or B is rows [q0, q1) x columns
// [0, q1) (lower part and diagonal block, chunks of equal area; rounded to bf16 if asked, then
// mirrored onto the upper part, which nothing reads before the phase ends), one of the update a
// band of rows; each is one single-threaded GEMM. The arithmetic is that of the path above; the
// products are blocked differently, so results agree to f32 rounding, not bit for bit.
void newton_schulz_one_region(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                              bool round, int threads) {
  const Index batch = x.rank() == 3 ? x.dim(0) : 1;
  const Index rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const bool tall = rows > cols;
  const Index m = std::min(rows, cols), n = std::max(rows, cols);
  cpu::Matrix<float> A(m, m), B(m, m), scratch(rows, cols);
  const int chunks = kChunks * threads;
  const std::vector<Index> gram_rows = gram_shares(m, chunks),
                           update_rows = even_shares(rows, chunks);
  const auto phases_per_matrix = static_cast<int>(3 * steps.size() + 2);
  cpu::ChunkedPhases phases(static_cast<int>(batch) * phases_per_matrix);

  // Rounds the computed rows [q0, q1) x [0, q1) of s (lower part and own diagonal block) to bf16
  // if asked and mirrors their strictly lower part onto the upper triangle.
  const auto finish_rows = [&](cpu::Matrix<float>& s, Index q0, Index q1) {
    if (round) round_block_to_bf16(s.block(q0, 0, q1 - q0, q1));
    for (Index i = q0; i < q1; ++i)
      for (Index j = 0; j < i; ++j) s(j, i) = s(i, j);
  };
  const auto chunk = [](const std::vector<Index>& q, int k) {
    return std::pair{q[static_cast<std::size_t>(k)], q[static_cast<std::size_t>(k) + 1]};
  };

  // One thread's pass through every phase of every matrix, claiming what is left of each.
  const auto work = [&] {
    int phase = 0;
    for (Index matrix = 0; matrix < batch; ++matrix) {
      float* const result = static_cast<float*>(x.raw()) + matrix * rows * cols;
      float* current = result;
      float* next = scratch.data();
      phases.run(phase++, round ? chunks : 0, [&](int k) {
        const auto [u0, u1] = chunk(update_rows, k);
        round_block_to_bf16(cpu::MatrixMap<float>(current, rows, cols).middleRows(u0, u1 - u0));
      });
      for (const auto& step : steps) {
        const auto a = static_cast<float>(step[0]), b = static_cast<float>(step[1]),
                   c = static_cast<float>(step[2]);
        // A = X X^T (or X^T X).
        phases.run(phase++, chunks, [&](int k) {
          const auto [g0, g1] = chunk(gram_rows, k);
          if (g1 == g0) return;
          if (tall)
            cpu::sgemm(true, false, g1 - g0, g1, n, 1.0f, current + g0, cols, current, cols, 0.0f,
                       A.data() + g0 * m, m);
          else
            cpu::sgemm(false, true, g1 - g0, g1, n, 1.0f, current + g0 * cols, cols, current, cols,
                       0.0f, A.data() + g0 * m, m);
          finish_rows(A, g0, g1);
        });
        // B = a I + b A + c A A^T, by the same chunks.
        phases.run(phase++, chunks, [&](int k) {
          const auto [g0, g1] = chunk(gram_rows, k);
          if (g1 == g0) return;
          auto own = B.block(g0, 0, g1 - g0, g1);
          own = b * A.block(g0, 0, g1 - g0, g1);
          own.diagonal(g0).array() += a;
          if (c != 0.0f)
            cpu::sgemm(false, true, g1 - g0, g1, m, c, A.data() + g0 * m, m, A.data(), m, 1.0f,
                       B.data() + g0 * m, m);
          finish_rows(B, g0, g1);
        });
        // X <- B X (or X B).
        phases.run(phase++, chunks, [&](int k) {
          const auto [u0, u1] = chunk(update_rows, k);
          if (u1 == u0) return;
          if (tall)
            cpu::sgemm(false, false, u1 - u0, m, m, 1.0f, current + u0 * cols, cols, B.data(), m,
                       0.0f, next + u0 * cols, cols);
          else
            cpu::sgemm(false, false, u1 - u0, cols, m, 1.0f, B.data() + u0 * m, m, current, cols,
                       0.0f, next + u0 * cols, cols);
          if (round)
            round_block_to_bf16(cpu::MatrixMap<float>(next, rows, cols).middleRows(u0, u1 - u0));
        });
        std::swap(current, next);
      }
      phases.run(phase++, current != result ? chunks : 0, [&](int k) {
        const auto [u0, u1] = chunk(update_rows, k);
        std::copy(current + u0 * cols, current + u1 * cols, result + u0 * cols);
      });
    }
  };
  // Any team size is correct (a smaller team under OMP_DYNAMIC or a thread limit claims more).
#pragma omp parallel num_threads(threads)
  work();
}

}  // namespace

void CpuBackend::newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                               bool bf16_iterates) {
  const Index rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const Index m = std::min(rows, cols);
  const int threads = omp_get_max_threads();
  if (x.dtype() == DType::f64)
    newton_schulz_steps<double>(x, steps, bf16_iterates);
  else if (threads > 1 && !omp_in_parallel() && m * m * std::max(rows, cols) < kOneRegion)
    newton_schulz_one_region(x, steps, bf16_iterates, threads);
  else
    newton_schulz_steps<float>(x, steps, bf16_iterates);
}

}  // namespace modnorm::detail
