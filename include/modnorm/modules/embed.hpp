#pragma once
/// @file embed.hpp
/// Embed(vocab, d): token id t -> column t of W (d x vocab), measured in the column norm
/// max_j ||W[:,j]||_RMS (the l1 -> RMS operator norm; docs/theory.md, section 2).

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// An embedding atom: mass options.mass (1), sensitivity 1, norm `column` unless overridden.
/// forward takes token ids as an i32 tensor (shape [B] or [B x T]) on the weight's device and
/// returns [B x d] or [B x T x d] (row k is W[:, id_k]^T); it keeps the ids tensor as it is for
/// backward (no copy between devices), which accumulates dW[:, id_k] += dy_k and returns zeros
/// shaped like the ids, in the weight's dtype (ids have no gradient).
///
/// Throws modnorm::Error on vocab or d < 1, a negative mass, ids of rank other than 1 or 2,
/// ids of a float dtype (a float id would be rounded: convert with to(DType::i32), which
/// refuses non-integers), ids on another device than the weight, or an id outside [0, vocab)
/// (checked where the ids live, naming the module, the id and its position).
///
/// Example:
///   modnorm::Embed embed(1000, 64);   // weight [64 x 1000]
///   auto h = embed.forward(modnorm::Tensor::from_vector_i32({3, 17, 3}, {3}));   // [3 x 64]
class MODNORM_API Embed : public Module {
 public:
  Embed(std::int64_t vocab, std::int64_t d, const AtomOptions& options = {});
};

}  // namespace modnorm
