#pragma once
/// @file gpt.hpp
/// Attention and GPT as compositions, after modula (modula-systems/modula `modula/compound.py`;
/// docs/modules.md, "Attention and GPT"): no per-layer scales beyond what the composition
/// rules give.

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// The sizes of Attention and GPT (modula's arguments, same names).
struct GPTOptions {
  std::int64_t vocab = 65;       ///< number of tokens (GPT only)
  std::int64_t heads = 4;        ///< attention heads h
  std::int64_t d_embed = 128;    ///< width of the residual stream
  std::int64_t d_query = 32;     ///< per-head width of queries and keys (even, for Rope)
  std::int64_t d_value = 32;     ///< per-head width of values
  std::int64_t blocks = 4;       ///< L: attention + MLP blocks (GPT only)
  double blocks_mass = 5.0;      ///< total mass of all blocks (modula's tare(absolute=5))
  double attention_scale = 1.0;  ///< the Softmax's scale
  double final_scale = 1.0;      ///< multiplies the output Linear
  bool causal = true;            ///< mask later positions (Attention only; GPT is causal)
};

/// Multi-head attention, modula's composition:
/// `O o (1/3 * ApplyAttentionScores) o (V, Softmax o CausalMask o AttentionQK o Rope o (Q, K))`
/// with Q, K, V: Linear(d_embed -> h d_query or h d_value) then SplitIntoHeads(h), and
/// O: MergeHeads then Linear(h d_value -> d_embed). Mass 4 (four atoms of mass 1); the tuple
/// (V, scores) has sensitivity 1 + 2 = 3, which the 1/3 cancels. Input [B, T, d_embed].
///
/// Throws modnorm::Error on sizes < 1 or an odd d_query.
///
/// Example: Module att = modnorm::Attention({});   // 4 heads of 32 over d_embed 128
MODNORM_API Module Attention(const GPTOptions& options);

/// modula's GPT: `out o (mlp_block o att_block)^L o embed` with Embed(vocab -> d_embed) of mass
/// 1, each block the residual `(1 - 1/(2L)) * Identity + (1/(2L)) * f` of Attention and of the
/// MLP Linear(d_embed -> 4 d_embed) >> GELU >> Linear(4 d_embed -> d_embed), all L pairs
/// together of mass blocks_mass (tare), and the output final_scale * Linear(d_embed -> vocab)
/// of mass 1. Input: token ids [B, T]; output: logits [B, T, vocab].
///
/// Example:
///   modnorm::GPTOptions o;
///   o.vocab = 73;
///   Module gpt = modnorm::GPT(o);
MODNORM_API Module GPT(const GPTOptions& options);

}  // namespace modnorm
