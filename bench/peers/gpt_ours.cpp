// bench_gpt_ours: modnorm's side of the GPT agreement check with an independent JAX model
// (bench/peers/gpt_jax.py, bench/peers/gpt_agreement.py; docs/benchmarks.md, "GPT against
// JAX").
//
// Usage:
//   bench_gpt_ours OUTPUT.safetensors [--vocab V] [--context T] [--batch B] [--d-embed D]
//                  [--heads H] [--d-query Q] [--d-value E] [--blocks L] [--final-scale F]
//                  [--seed S] [--arch modula|modern] [--soft-cap C]
//
// Builds modnorm::GPT with those sizes (or, with --arch modern, modnorm::ModernGPT with heads
// of Q = E entries and logits soft-capped at C > 0 when given; --final-scale is modula's only),
// initializes it from Generator(S), draws token ids and targets [B, T] (i32) from
// Generator(S + 1), and writes to OUTPUT:
//   tokens, targets        the batch, i32 [B, T]
//   logits                 the forward output, [B, T, V]
//   loss                   mean cross-entropy over all B*T positions (f64, rank 0)
//   weight.<name>          every parameter, by its dotted name
//   grad.<name>            d loss / d weight
//   dual.<name>            Module::dualize() of the gradients with the exact polar factor (svd)
// and, in __metadata__, "options" (the sizes, JSON) and "coefficients" (name -> c_l, JSON).
// The modern GPT's zero-initialised projections (O and the MLP's second Linear) are then set
// to norm-1 random weights as the other atoms', so that every atom has a gradient to compare
// (behind a zero O, Q, K and V get exactly zero).
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace {

using modnorm::Module;
using modnorm::Tensor;
using json = nlohmann::json;

struct Run {
  modnorm::GPTOptions gpt;
  std::int64_t context = 8;
  std::int64_t batch = 3;
  std::uint64_t seed = 0;
  bool modern = false;
  double soft_cap = 0.0;
};

Run parse(int argc, char** argv) {
  Run r;
  r.gpt.vocab = 17;
  r.gpt.heads = 2;
  r.gpt.d_embed = 16;
  r.gpt.d_query = 8;
  r.gpt.d_value = 8;
  r.gpt.blocks = 1;
  const std::map<std::string, std::int64_t*> sizes = {
      {"--vocab", &r.gpt.vocab},     {"--context", &r.context},  {"--batch", &r.batch},
      {"--d-embed", &r.gpt.d_embed}, {"--heads", &r.gpt.heads},  {"--d-query", &r.gpt.d_query},
      {"--d-value", &r.gpt.d_value}, {"--blocks", &r.gpt.blocks}};
  for (int k = 2; k < argc; k += 2) {
    if (k + 1 >= argc)
      throw modnorm::Error("[bench_gpt_ours] option " + std::string(argv[k]) + " has no value");
    const std::string key = argv[k], value = argv[k + 1];
    if (const auto it = sizes.find(key); it != sizes.end()) {
      *it->second = std::stoll(value);
    } else if (key == "--final-scale") {
      r.gpt.final_scale = std::stod(value);
    } else if (key == "--seed") {
      r.seed = std::stoull(value);
    } else if (key == "--arch") {
      if (value != "modula" && value != "modern")
        throw modnorm::Error("[bench_gpt_ours] --arch must be modula or modern, got '" + value +
                             "'");
      r.modern = value == "modern";
    } else if (key == "--soft-cap") {
      r.soft_cap = std::stod(value);
    } else {
      throw modnorm::Error("[bench_gpt_ours] unknown option '" + key + "'");
    }
  }
  if (r.context < 1 || r.batch < 1)
    throw modnorm::Error("[bench_gpt_ours] context and batch must be >= 1, got " +
                         std::to_string(r.context) + " and " + std::to_string(r.batch));
  if (r.modern && r.gpt.d_query != r.gpt.d_value)
    throw modnorm::Error("[bench_gpt_ours] --arch modern has one head width: --d-query " +
                         std::to_string(r.gpt.d_query) + " and --d-value " +
                         std::to_string(r.gpt.d_value) + " differ");
  return r;
}

Module build(const Run& r, modnorm::Generator& gen) {
  if (!r.modern) {
    Module gpt = modnorm::GPT(r.gpt);
    gpt.initialize(gen);
    return gpt;
  }
  modnorm::ModernGPTOptions o;
  o.vocab = r.gpt.vocab;
  o.heads = r.gpt.heads;
  o.d_embed = r.gpt.d_embed;
  o.d_head = r.gpt.d_query;
  o.blocks = r.gpt.blocks;
  o.blocks_mass = r.gpt.blocks_mass;
  o.soft_cap = r.soft_cap;
  Module gpt = modnorm::ModernGPT(o);
  gpt.initialize(gen);
  modnorm::DualizeOptions exact;
  exact.orthogonalize.method = modnorm::OrthogonalizeMethod::svd;
  for (const modnorm::Parameter& p : gpt.parameters())
    if (modnorm::max_abs(p.weight) == 0.0)
      p.atom->weight() =
          modnorm::dualize(Tensor::randn(p.weight.shape(), gen, modnorm::DType::f64), p.norm, exact)
              .to(p.weight.dtype());
  return gpt;
}

int run(const std::string& output, const Run& r) {
  modnorm::Generator gen(r.seed);
  Module gpt = build(r, gen);

  modnorm::Generator data(r.seed + 1);
  const std::int64_t n = r.batch * r.context;
  std::vector<std::int32_t> tokens, targets;
  for (std::int64_t k = 0; k < n; ++k) {
    tokens.push_back(
        static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(r.gpt.vocab))));
    targets.push_back(
        static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(r.gpt.vocab))));
  }
  const Tensor ids = Tensor::from_vector_i32(tokens, {r.batch, r.context});
  const Tensor labels = Tensor::from_vector_i32(targets, {r.batch, r.context});

  gpt.zero_grad();
  const Tensor logits = gpt.forward(ids);  // [B, T, V]
  const modnorm::CrossEntropy ce =
      modnorm::softmax_cross_entropy(logits.reshape({n, r.gpt.vocab}), labels);
  gpt.backward(ce.grad.reshape({r.batch, r.context, r.gpt.vocab}), false);

  modnorm::DualizeOptions exact;
  exact.orthogonalize.method = modnorm::OrthogonalizeMethod::svd;
  const std::vector<Tensor> dual = gpt.dualize(exact);

  std::vector<std::pair<std::string, Tensor>> out = {
      {"tokens", ids},
      {"targets", labels},
      {"logits", logits},
      {"loss", Tensor::from_vector_f64({ce.loss}, {})}};
  json coefficients = json::object();
  const std::vector<modnorm::Parameter> params = gpt.parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    out.emplace_back("weight." + params[k].name, params[k].weight);
    out.emplace_back("grad." + params[k].name, params[k].grad);
    out.emplace_back("dual." + params[k].name, dual[k]);
    coefficients[params[k].name] = params[k].coefficient;
  }
  const json options = {{"vocab", r.gpt.vocab},
                        {"context", r.context},
                        {"batch", r.batch},
                        {"d_embed", r.gpt.d_embed},
                        {"heads", r.gpt.heads},
                        {"d_query", r.gpt.d_query},
                        {"d_value", r.gpt.d_value},
                        {"blocks", r.gpt.blocks},
                        {"blocks_mass", r.gpt.blocks_mass},
                        {"attention_scale", r.gpt.attention_scale},
                        {"final_scale", r.gpt.final_scale},
                        {"arch", r.modern ? "modern" : "modula"},
                        {"soft_cap", r.soft_cap},
                        {"seed", r.seed}};
  modnorm::save_safetensors(output, out,
                            {{"modnorm_version", modnorm::version()},
                             {"options", options.dump()},
                             {"coefficients", coefficients.dump()}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]).rfind("--", 0) == 0) {
    std::cerr << "usage: bench_gpt_ours OUTPUT.safetensors [--vocab V] [--context T] "
                 "[--batch B] [--d-embed D] [--heads H] [--d-query Q] [--d-value E] "
                 "[--blocks L] [--final-scale F] [--seed S] [--arch modula|modern] "
                 "[--soft-cap C]\n";
    return 2;
  }
  try {
    return run(argv[1], parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "bench_gpt_ours: " << e.what() << "\n";
    return 1;
  }
}
