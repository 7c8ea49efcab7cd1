#pragma once
// Shared by src/dualize.cpp and src/orthogonalize.cpp: input checks at the public boundary of
// dualize.hpp, and the orthogonalization behind them (which trusts its input).

#include "modnorm/dualize.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// Throws `[op] expects a non-empty tensor, got [0x3] f32 cpu`.
void check_nonempty(const char* op, const Tensor& t);
/// Throws unless t is a non-empty matrix (rank 2), naming `op` and t.
void check_matrix(const char* op, const Tensor& t);
/// Throws `[op] input [3x4] f32 cpu contains NaN at [1, 2] (2 non-finite entries)` (or Inf,
/// -Inf) unless every element is finite.
void check_finite(const char* op, const Tensor& t);
/// Throws unless the options are usable, naming `op`.
void check_options(const char* op, const OrthogonalizeOptions& options);

/// orthogonalize() after its checks: G is a finite non-empty matrix, options are valid.
Tensor orthogonalize_checked(const Tensor& G, const OrthogonalizeOptions& options);

}  // namespace modnorm::detail
