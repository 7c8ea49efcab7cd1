#pragma once
// Input checks on tensors shared by the tensor layer (src/ops.cpp) and the layers above it
// (src/dualize.cpp): each throws `[op] what was received`.

#include "modnorm/error.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// Throws `[op] expects a matrix (rank 2), got [2x2x2] f32 cpu` unless t has rank 2.
inline void check_matrix(const char* op, const Tensor& t) {
  if (t.rank() != 2) fail(op, "expects a matrix (rank 2), got " + t.describe());
}

/// Throws `[op] expects a matrix (rank 2) or a batch of matrices (rank 3), got [2] f32 cpu`
/// unless t has rank 2 or 3.
inline void check_matrix_or_batch(const char* op, const Tensor& t) {
  if (t.rank() != 2 && t.rank() != 3)
    fail(op, "expects a matrix (rank 2) or a batch of matrices (rank 3), got " + t.describe());
}

/// Throws `[op] expects a non-empty tensor, got [0x3] f32 cpu` when t has no element.
inline void check_nonempty(const char* op, const Tensor& t) {
  if (t.numel() == 0) fail(op, "expects a non-empty tensor, got " + t.describe());
}

}  // namespace modnorm::detail
