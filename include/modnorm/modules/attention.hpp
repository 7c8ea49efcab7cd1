#pragma once
/// @file attention.hpp
/// The bonds of attention, after modula (modula-systems/modula `modula/bond.py`; docs/modules.md,
/// "Attention"): mass 0, sensitivities as modula states them. Shapes: B batch, T positions,
/// h heads, d_head per head; the bonds between SplitIntoHeads and MergeHeads see [B, h, T, d].

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// [B, T, h d] -> [B, h, T, d] (nanoGPT's split: the embedding's consecutive blocks of d
/// entries are the heads). Sensitivity 1 (entries are only moved).
///
/// Throws modnorm::Error when heads < 1, or in forward when the input is not rank 3 or its last
/// axis is not a multiple of heads.
///
/// Example: auto q = modnorm::Linear(128, 128) >> modnorm::SplitIntoHeads(4);  // [B, 4, T, 32]
class MODNORM_API SplitIntoHeads : public Module {
 public:
  explicit SplitIntoHeads(std::int64_t heads);
};

/// [B, h, T, d] -> [B, T, h d], the inverse of SplitIntoHeads. Sensitivity 1.
///
/// Example: auto out = modnorm::MergeHeads() >> modnorm::Linear(128, 128);
class MODNORM_API MergeHeads : public Module {
 public:
  MergeHeads();
};

/// Takes the tuple (q, k), both [B, h, T, d], and gives the scores q k^T / d, [B, h, T, T]:
/// the 1/d (not 1/sqrt d) of the modular-norm paper (Large et al. 2024, App. B.6), which keeps
/// the scores' scale independent of d for aligned q and k. Sensitivity 1 (modula's).
///
/// Example: auto scores = modnorm::Tuple{q, k} >> modnorm::AttentionQK();
class MODNORM_API AttentionQK : public Module {
 public:
  AttentionQK();
};

/// Scores [..., T, T] with the entries above the diagonal (a position looking at a later one)
/// set to -inf, so that softmax gives them probability 0. Sensitivity 1.
///
/// Example: auto masked = modnorm::AttentionQK() >> modnorm::CausalMask();
class MODNORM_API CausalMask : public Module {
 public:
  CausalMask();
};

/// softmax(scale x) along the last axis. Sensitivity `scale` (modula's Softmax(scale)).
///
/// Throws modnorm::Error when scale is not a finite number > 0.
///
/// Example: auto probabilities = modnorm::CausalMask() >> modnorm::Softmax(1.0);
class MODNORM_API Softmax : public Module {
 public:
  explicit Softmax(double scale = 1.0);
};

/// Takes the tuple (v, scores), v [B, h, T, d] and scores [B, h, T, T], and gives scores v,
/// [B, h, T, d]. Sensitivity 1 (modula's; the tuple before it has sensitivity 1 + 2 = 3, hence
/// the 1/3 in front of it in Attention).
///
/// Example: auto out = modnorm::Tuple{v, scores} >> modnorm::ApplyAttentionScores();
class MODNORM_API ApplyAttentionScores : public Module {
 public:
  ApplyAttentionScores();
};

/// Rotary position embedding on the tuple (q, k), each [B, h, T, d_head], as modula's code
/// computes it: with r = d_head / 2, frequencies f_i = base^(-i / r) (i < r) and angles
/// a_ti = t f_i for position t, y[:r] = cos(a) x[:r] + sin(a) x[r:] and
/// y[r:] = sin(a) x[:r] - cos(a) x[r:]. (modula's `get_cached` returns (sin, cos) and `rotate`
/// unpacks it as (cos, sin); read by its variable names the formula would rotate the other
/// way. This is what modula runs, so that a modnorm GPT reproduces modula's.) Each pair
/// (x_i, x_{r+i}) is reflected, so the map is orthogonal (sensitivity 1) and q . k after it
/// depends on the positions only through their difference. Gives (rope(q), rope(k)).
///
/// Throws modnorm::Error when d_head is not even and >= 2 or base is not > 1, or in forward
/// when the inputs' last axis is not d_head.
///
/// Example: auto qk = modnorm::Tuple{q, k} >> modnorm::Rope(32);
class MODNORM_API Rope : public Module {
 public:
  explicit Rope(std::int64_t d_head, double base = 10000.0);
};

}  // namespace modnorm
