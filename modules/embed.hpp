#pragma once
/// @file embed.hpp
/// Embed(vocab, d): token id t -> column t of W (d x vocab), measured in the column norm
/// max_j ||W[:,j]||_RMS (the l1 -> RMS operator norm; docs/theory.md, section 2).

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// An embedding atom: mass options.mass (1), sensitivity 1, norm `column` unless overridden.
/// forward takes token ids as a tensor of integer values (any float dtype, shape [B] or
/// [B x T]) and returns [B x d] or [B x T x d] (row k is W[:, id_k]^T); backward accumulates
/// dW[:, id_k] += dy_k and returns zeros shaped like the ids (ids have no gradient).
///
/// Throws modnorm::Error on vocab or d < 1, a negative mass, ids of rank other than 1 or 2,
/// or an id that is not an integer in [0, vocab) (naming the module and the position).
///
/// Example:
///   modnorm::Embed embed(1000, 64);   // weight [64 x 1000]
///   auto h = embed.forward(modnorm::Tensor::from_vector({3, 17, 3}, {3}));   // [3 x 64]
class MODNORM_API Embed : public Module {
 public:
  Embed(std::int64_t vocab, std::int64_t d, const AtomOptions& options = {});
};

}  // namespace modnorm
