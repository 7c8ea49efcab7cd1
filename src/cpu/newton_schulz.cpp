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
// loop (the GEMM packs into its own workspace).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

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

}  // namespace

void CpuBackend::newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                               bool bf16_iterates) {
  if (x.dtype() == DType::f64)
    newton_schulz_steps<double>(x, steps, bf16_iterates);
  else
    newton_schulz_steps<float>(x, steps, bf16_iterates);
}

}  // namespace modnorm::detail
