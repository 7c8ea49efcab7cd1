#pragma once
// The command line's language model over a character vocabulary (modula's hello-gpt sizes by
// default): modnorm::GPT (--arch modula) or modnorm::ModernGPT (--arch modern). `train gpt`
// builds it from flags, `sample` and `inspect` from a checkpoint.

#include <cstdint>
#include <cstdio>
#include <string>

#include "cli/mlp.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

constexpr std::int64_t kMaxContext = 65536;       // --context
constexpr std::int64_t kMaxVocabulary = 1 << 20;  // characters (Unicode has 1.1M code points)

// Which GPT: modula's (no norms, scaled residuals) or the normed one of modded-nanogpt.
enum class GptArch : std::uint8_t { modula, modern };

inline const char* to_string(GptArch arch) {
  return arch == GptArch::modern ? "modern" : "modula";
}

struct GptShape {
  std::int64_t vocab = 0;  // from the corpus
  std::int64_t width = 128;
  int depth = 4;  // blocks
  std::int64_t heads = 4;
  std::int64_t context = 64;
  GptArch arch = GptArch::modula;
  double soft_cap = 0.0;  // modern only: > 0 caps the logits, 0 leaves them alone
};

inline std::string describe(const GptShape& s) {
  std::string text = (s.arch == GptArch::modern ? "modern GPT " : "GPT ") +
                     std::to_string(s.depth) + " blocks, width " + std::to_string(s.width) + ", " +
                     std::to_string(s.heads) + " heads, context " + std::to_string(s.context) +
                     ", vocab " + std::to_string(s.vocab);
  if (s.soft_cap > 0.0) {
    char cap[32];
    std::snprintf(cap, sizeof cap, "%g", s.soft_cap);
    text += ", soft cap " + std::string(cap);
  }
  return text;
}

// Number of weights: embedding and output (vocab x width each) and 12 width^2 per block (the
// attention's four, the MLP's two of 4 width^2), in double so that no shape can overflow it.
inline double parameter_count(const GptShape& s) {
  const auto w = static_cast<double>(s.width);
  return 2.0 * w * static_cast<double>(s.vocab) + 12.0 * w * w * s.depth;
}

// Throws modnorm::Error naming the sizes unless they make a GPT: every size >= 1, heads dividing
// the width into heads of even size (Rope rotates pairs), and the weights (embedding, output and
// 12 width^2 per block) within kMaxParameters.
inline void check_size(const GptShape& s) {
  const std::string sizes = "width " + std::to_string(s.width) + ", " + std::to_string(s.heads) +
                            " heads, " + std::to_string(s.depth) + " blocks, vocab " +
                            std::to_string(s.vocab);
  if (s.vocab < 1 || s.width < 1 || s.depth < 1 || s.heads < 1 || s.context < 1)
    throw Error("[gpt] every size must be >= 1, got " + sizes + ", context " +
                std::to_string(s.context));
  if (s.width % s.heads != 0 || (s.width / s.heads) % 2 != 0)
    throw Error("[gpt] " + sizes + ": the heads must split the width into heads of even size");
  if (parameter_count(s) > static_cast<double>(kMaxParameters))
    throw Error("[gpt] " + sizes + ": more than " + std::to_string(kMaxParameters) +
                " weights (the limit, 1 GiB in f32)");
}

// modnorm::GPT or ModernGPT with heads of width / heads for queries, keys and values (modula's
// hello-gpt).
inline Module make_gpt(const GptShape& s) {
  check_size(s);
  if (s.arch == GptArch::modern) {
    ModernGPTOptions o;
    o.vocab = s.vocab;
    o.d_embed = s.width;
    o.blocks = s.depth;
    o.heads = s.heads;
    o.d_head = s.width / s.heads;
    o.soft_cap = s.soft_cap;
    return ModernGPT(o);
  }
  GPTOptions o;
  o.vocab = s.vocab;
  o.d_embed = s.width;
  o.blocks = s.depth;
  o.heads = s.heads;
  o.d_query = o.d_value = s.width / s.heads;
  return GPT(o);
}

}  // namespace modnorm::cli
