// Attention and GPT built from atoms and bonds by the composition rules (modula-systems/modula
// `modula/compound.py`).
#include "gpt.hpp"

#include "modnorm/modules/activations.hpp"
#include "modnorm/modules/add.hpp"
#include "modnorm/modules/attention.hpp"
#include "modnorm/modules/embed.hpp"
#include "modnorm/modules/linear.hpp"
#include "modnorm/modules/scale.hpp"
#include "modnorm/modules/sequential.hpp"
#include "modnorm/modules/tuple.hpp"
#include "module_checks.hpp"

namespace modnorm {
namespace {

void check_sizes(const char* op, const GPTOptions& o) {
  for (const auto& [name, value] : {std::pair{"vocab", o.vocab},
                                    {"heads", o.heads},
                                    {"d_embed", o.d_embed},
                                    {"d_query", o.d_query},
                                    {"d_value", o.d_value},
                                    {"blocks", o.blocks}})
    if (value < 1)
      detail::fail(op, std::string(name) + " must be >= 1, got " + std::to_string(value));
}

// (1 - a) * Identity + a * f: the residual of a stack of `blocks` pairs, a = 1/(2 blocks).
Module residual(const Module& f, std::int64_t blocks) {
  const double a = 1.0 / (2.0 * static_cast<double>(blocks));
  return Add{Scale(1.0 - a), Scale(a, f)};
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

}  // namespace modnorm
