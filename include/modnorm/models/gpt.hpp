#pragma once
/// @file gpt.hpp
/// Attention and GPT as compositions, after modula (modula-systems/modula `modula/compound.py`;
/// docs/modules.md, "Attention and GPT"): no per-layer scales beyond what the composition
/// rules give; and ModernGPT, the normed GPT of modded-nanogpt, composed by the same rules.

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

/// The MLP activation of ModernGPT.
enum class MLPActivation : std::uint8_t {
  squared_relu,  ///< relu(x)^2 (modded-nanogpt), SquaredReLU: sensitivity 2
  gelu,          ///< gelu(x) / 1.1289 (modula's scaled GELU), GELU: sensitivity 1
};

/// The sizes and choices of ModernGPT (defaults: modula's GPT's sizes, modded-nanogpt's
/// architecture).
struct ModernGPTOptions {
  std::int64_t vocab = 65;     ///< number of tokens
  std::int64_t heads = 4;      ///< attention heads h
  std::int64_t d_embed = 128;  ///< width of the residual stream
  std::int64_t d_head = 32;    ///< per-head width of queries, keys and values (even, for Rope)
  std::int64_t blocks = 4;     ///< L: attention + MLP blocks
  double blocks_mass = 5.0;    ///< total mass of all blocks (tare), as in GPT
  MLPActivation activation = MLPActivation::squared_relu;  ///< MLP nonlinearity
  double soft_cap = 0.0;  ///< > 0: logits become soft_cap * tanh(logits / soft_cap); 0: none
};

/// A normed GPT as in modded-nanogpt's train_gpt.py and dion's models/gpt_model.py, written as
/// a composition (docs/theory.md, "A modern GPT"):
///   block = Add{Identity, RMSNorm >> attention} >> Add{Identity, RMSNorm >> mlp}
///   ModernGPT = Sequential{embed: Embed(vocab -> d_embed), embed_norm: RMSNorm,
///                          blocks: block^L, out_norm: RMSNorm,
///                          out: Linear(d_embed -> vocab) [, soft_cap: SoftCap(soft_cap)]}
/// with attention O o ApplyAttentionScores o (V, Softmax(sqrt d_head) o CausalMask o
/// AttentionQK o Rope o (RMSNorm o Q, RMSNorm o K)): QK-norm per head before Rope, scores
/// q.k / sqrt(d_head) (AttentionQK's 1/d times the Softmax's sqrt d), no 1/3; and
/// mlp = Linear(d_embed -> 4 d_embed) >> SquaredReLU (or GELU) >> Linear(4 d_embed -> d_embed).
/// RMSNorms have no weights (eps 1e-6). O and the MLP's second Linear are zero-initialised
/// (AtomOptions::zero_init); the head is its own Linear (untied). Masses: embed 1, all blocks
/// together blocks_mass, head 1. The plain residual adds sensitivities (1 + s_branch per
/// block), so c_l grows with the blocks after l: docs/theory.md works it out.
/// Input: token ids [B, T]; output: logits [B, T, vocab].
///
/// Throws modnorm::Error on sizes < 1, an odd d_head, blocks_mass < 0 or a soft_cap that is
/// negative or not finite.
///
/// Example:
///   modnorm::ModernGPTOptions o;
///   o.vocab = 73;
///   o.soft_cap = 15.0;
///   Module gpt = modnorm::ModernGPT(o);
MODNORM_API Module ModernGPT(const ModernGPTOptions& options);

}  // namespace modnorm
