// Attention and GPT built from atoms and bonds by the composition rules (modula-systems/modula
// `modula/compound.py`).
#include "modnorm/models/gpt.hpp"

#include <cmath>
#include <initializer_list>

#include "modnorm/module_checks.hpp"
#include "modnorm/modules/activations.hpp"
#include "modnorm/modules/add.hpp"
#include "modnorm/modules/attention.hpp"
#include "modnorm/modules/embed.hpp"
#include "modnorm/modules/linear.hpp"
#include "modnorm/modules/rms_norm.hpp"
#include "modnorm/modules/scale.hpp"
#include "modnorm/modules/sequential.hpp"
#include "modnorm/modules/tuple.hpp"

namespace modnorm {
namespace {

void check_sizes(const char* op,
                 std::initializer_list<std::pair<const char*, std::int64_t>> sizes) {
  for (const auto& [name, value] : sizes)
    if (value < 1) fail(op, std::string(name) + " must be >= 1, got " + std::to_string(value));
}

void check_sizes(const char* op, const GPTOptions& o) {
  check_sizes(op, {{"vocab", o.vocab},
                   {"heads", o.heads},
                   {"d_embed", o.d_embed},
                   {"d_query", o.d_query},
                   {"d_value", o.d_value},
                   {"blocks", o.blocks}});
}

// (1 - a) * Identity + a * f: the residual of a stack of `blocks` pairs, a = 1/(2 blocks).
Module residual(const Module& f, std::int64_t blocks) {
  const double a = 1.0 / (2.0 * static_cast<double>(blocks));
  return Add{Scale(1.0 - a), Scale(a, f)};
}

// x + f(rms_norm(x)): modded-nanogpt's pre-norm block with its plain residual add, the
// concatenation (Identity, RMSNorm >> f) followed by a sum.
Module pre_norm_residual(const Module& f) {
  return Add{Identity(), RMSNorm() >> f};
}

AtomOptions zero_initialised() {
  AtomOptions o;
  o.zero_init = true;
  return o;
}

// Causal attention with QK-norm: O o ApplyAttentionScores o (V, Softmax(sqrt d) o CausalMask o
// AttentionQK o Rope o (RMSNorm o Q, RMSNorm o K)), O zero-initialised.
Module normed_attention(const ModernGPTOptions& o) {
  const std::int64_t h = o.heads, d = o.d_head;
  auto heads = [&] { return Linear(o.d_embed, h * d) >> SplitIntoHeads(h); };
  const Module scores = Tuple{heads() >> RMSNorm(), heads() >> RMSNorm()} >> Rope(d) >>
                        AttentionQK() >> CausalMask() >>
                        Softmax(std::sqrt(static_cast<double>(d)));  // q.k / sqrt d
  return Tuple{heads(), scores} >> ApplyAttentionScores() >> MergeHeads() >>
         Linear(h * d, o.d_embed, zero_initialised());
}

}  // namespace

Module Attention(const GPTOptions& o) {
  check_sizes("Attention", o);
  const std::int64_t h = o.heads;
  auto heads = [&](std::int64_t d) { return Linear(o.d_embed, h * d) >> SplitIntoHeads(h); };
  Module scores = Tuple{heads(o.d_query), heads(o.d_query)} >> Rope(o.d_query) >> AttentionQK();
  if (o.causal) scores = scores >> CausalMask();
  return Tuple{heads(o.d_value), scores >> Softmax(o.attention_scale)} >>
         Scale(1.0 / 3.0, ApplyAttentionScores()) >> MergeHeads() >>
         Linear(h * o.d_value, o.d_embed);
}

Module GPT(const GPTOptions& o) {
  check_sizes("GPT", o);
  GPTOptions causal = o;
  causal.causal = true;
  const Module mlp = Linear(o.d_embed, 4 * o.d_embed) >> GELU() >> Linear(4 * o.d_embed, o.d_embed);
  const Module pair = residual(Attention(causal), o.blocks) >> residual(mlp, o.blocks);
  const Module blocks = tare(repeat(pair, static_cast<int>(o.blocks)), o.blocks_mass);
  return Sequential({{"embed", Embed(o.vocab, o.d_embed)},
                     {"blocks", blocks},
                     {"out", Scale(o.final_scale, Linear(o.d_embed, o.vocab))}});
}

Module ModernGPT(const ModernGPTOptions& o) {
  constexpr const char* op = "ModernGPT";
  check_sizes(op, {{"vocab", o.vocab},
                   {"heads", o.heads},
                   {"d_embed", o.d_embed},
                   {"d_head", o.d_head},
                   {"blocks", o.blocks}});
  if (o.d_head % 2 != 0) fail(op, "d_head must be even (Rope), got " + std::to_string(o.d_head));
  if (!(o.soft_cap >= 0.0) || !std::isfinite(o.soft_cap))
    fail(op,
         "soft_cap must be a finite number > 0, or 0 for none, got " + short_number(o.soft_cap));
  const std::int64_t width = 4 * o.d_embed;
  const Module activation =
      o.activation == MLPActivation::gelu ? Module(GELU()) : Module(SquaredReLU());
  const Module mlp =
      Linear(o.d_embed, width) >> activation >> Linear(width, o.d_embed, zero_initialised());
  const Module pair = pre_norm_residual(normed_attention(o)) >> pre_norm_residual(mlp);
  // Named as GPT's where the two share a part (embed, blocks, out), so that a parameter
  // pattern such as 'embed,out' selects the same atoms in both.
  std::vector<Child> parts = {
      {"embed", Embed(o.vocab, o.d_embed)},
      {"embed_norm", RMSNorm()},
      {"blocks", tare(repeat(pair, static_cast<int>(o.blocks)), o.blocks_mass)},
      {"out_norm", RMSNorm()},
      {"out", Linear(o.d_embed, o.vocab)}};
  if (o.soft_cap > 0.0) parts.push_back({"soft_cap", SoftCap(o.soft_cap)});
  return Sequential(std::move(parts));
}

}  // namespace modnorm
