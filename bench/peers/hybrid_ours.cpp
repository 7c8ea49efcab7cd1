// bench_hybrid_ours: modnorm's side of the hybrid agreement checks with optax and PyTorch
// (bench/peers/hybrid_agreement.py; docs/training.md, "Muon as practitioners run it").
//
// Usage: bench_hybrid_ours OUTPUT.safetensors [--steps N] [--seed S]
//                          [--convention optax|modular] [--lr-rule muon|rms_match]
//
// Trains a small modnorm::GPT (vocab 17, d 16, 2 heads of 8, 1 block, context 8, batch 8, f32)
// for N steps (default 20) with two parameter groups: the hidden matrices under the modular
// algorithm with the given convention and lr rule (Nesterov, beta 0.95, lr 0.02, decoupled
// decay 0.01; Newton-Schulz epsilon 1e-8 under optax's convention, as optax's `eps`, and 0
// under this library's, whose X_0 = G / ||G||_F is torch.optim.Muon's for any G of norm above
// its eps), the embedding, the output layer and the vectors under AdamW (lr 3e-3, betas 0.9 /
// 0.95, eps 1e-8, decoupled decay 0.01). Defaults: optax, muon. Each step's batch is fresh
// (token ids and targets from Generator(S + 1)). Writes:
//   init.<name>            every parameter before the first step
//   grad.<t>.<name>        the gradient of step t (0-based) that the optimizer stepped with
//   weight.<t>.<name>      every parameter after step t
// and, in __metadata__, "groups" (name -> "muon" | "adam", JSON) and "options" (the rates,
// convention, lr rule and Newton-Schulz epsilon, JSON).
#include <cstdint>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace {

using modnorm::Tensor;
using json = nlohmann::json;

// The hybrid of the file comment, as parameter groups.
modnorm::OptimizerOptions hybrid(const json& o) {
  modnorm::ParameterGroup muon{"muon", {}, {modnorm::Role::hidden}, {}};
  muon.rule.lr = o["muon_lr"].get<double>();
  muon.rule.lr_rule =
      o["lr_rule"] == "rms_match" ? modnorm::LrRule::rms_match : modnorm::LrRule::muon;
  muon.rule.convention =
      o["convention"] == "optax" ? modnorm::Convention::optax : modnorm::Convention::modular;
  muon.rule.nesterov = true;
  muon.rule.beta = o["muon_beta"].get<double>();
  muon.rule.orthogonalize.epsilon = o["ns_eps"].get<double>();
  muon.rule.weight_decay = {modnorm::WeightDecay::decoupled, o["weight_decay"].get<double>()};
  modnorm::ParameterGroup adam{
      "adam", {}, {modnorm::Role::embedding, modnorm::Role::output, modnorm::Role::vector}, {}};
  adam.rule.algorithm = modnorm::Algorithm::adamw;
  adam.rule.lr = o["adam_lr"].get<double>();
  adam.rule.beta = o["adam_b1"].get<double>();
  adam.rule.adam.beta2 = o["adam_b2"].get<double>();
  adam.rule.adam.eps = o["eps"].get<double>();
  adam.rule.weight_decay = {modnorm::WeightDecay::decoupled, o["weight_decay"].get<double>()};
  modnorm::OptimizerOptions options;
  options.groups = {muon, adam};
  return options;
}

int run(const std::string& output, int steps, std::uint64_t seed, const std::string& convention,
        const std::string& lr_rule) {
  modnorm::GPTOptions g;
  g.vocab = 17;
  g.heads = 2;
  g.d_embed = 16;
  g.d_query = 8;
  g.d_value = 8;
  g.blocks = 1;
  constexpr std::int64_t kContext = 8, kBatch = 8, kN = kContext * kBatch;
  modnorm::Module gpt = modnorm::GPT(g);
  modnorm::Generator gen(seed);
  gpt.initialize(gen);
  const json options = {{"muon_lr", 0.02},      {"muon_beta", 0.95},
                        {"adam_lr", 3e-3},      {"adam_b1", 0.9},
                        {"adam_b2", 0.95},      {"eps", 1e-8},
                        {"weight_decay", 0.01}, {"convention", convention},
                        {"lr_rule", lr_rule},   {"ns_eps", convention == "optax" ? 1e-8 : 0.0}};
  modnorm::Optimizer opt(gpt, hybrid(options));

  std::vector<std::pair<std::string, Tensor>> out;
  json groups = json::object();
  const std::vector<modnorm::AtomStep> placed = opt.atom_steps();
  const std::vector<modnorm::Parameter> params = gpt.parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    out.emplace_back("init." + params[k].name, params[k].weight.clone());
    groups[params[k].name] = placed[k].group;
  }
  modnorm::Generator data(seed + 1);
  for (int t = 0; t < steps; ++t) {
    std::vector<std::int32_t> tokens, labels;
    for (std::int64_t k = 0; k < kN; ++k) {
      tokens.push_back(static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(g.vocab))));
      labels.push_back(static_cast<std::int32_t>(data.below(static_cast<std::uint64_t>(g.vocab))));
    }
    gpt.zero_grad();
    const Tensor logits = gpt.forward(Tensor::from_vector_i32(tokens, {kBatch, kContext}));
    const modnorm::CrossEntropy ce = modnorm::softmax_cross_entropy(
        logits.reshape({kN, g.vocab}), Tensor::from_vector_i32(labels, {kN}));
    gpt.backward(ce.grad.reshape({kBatch, kContext, g.vocab}), false);
    for (const modnorm::Parameter& p : gpt.parameters())
      out.emplace_back("grad." + std::to_string(t) + "." + p.name, p.grad.clone());
    opt.step();
    for (const modnorm::Parameter& p : gpt.parameters())
      out.emplace_back("weight." + std::to_string(t) + "." + p.name, p.weight.clone());
  }
  modnorm::save_safetensors(output, out,
                            {{"modnorm_version", modnorm::version()},
                             {"groups", groups.dump()},
                             {"options", options.dump()},
                             {"steps", std::to_string(steps)}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]).rfind("--", 0) == 0) {
    std::cerr << "usage: bench_hybrid_ours OUTPUT.safetensors [--steps N] [--seed S]"
                 " [--convention optax|modular] [--lr-rule muon|rms_match]\n";
    return 2;
  }
  try {
    int steps = 20;
    std::uint64_t seed = 0;
    std::string convention = "optax", lr_rule = "muon";
    for (int k = 2; k < argc; k += 2) {
      const std::string key = argv[k];
      if (k + 1 >= argc) throw modnorm::Error("[bench_hybrid_ours] " + key + " has no value");
      if (key == "--steps") {
        steps = std::stoi(argv[k + 1]);
      } else if (key == "--seed") {
        seed = std::stoull(argv[k + 1]);
      } else if (key == "--convention" &&
                 (std::string(argv[k + 1]) == "optax" || std::string(argv[k + 1]) == "modular")) {
        convention = argv[k + 1];
      } else if (key == "--lr-rule" &&
                 (std::string(argv[k + 1]) == "muon" || std::string(argv[k + 1]) == "rms_match")) {
        lr_rule = argv[k + 1];
      } else {
        throw modnorm::Error("[bench_hybrid_ours] unknown option or value '" + key + " " +
                             argv[k + 1] + "'");
      }
    }
    return run(argv[1], steps, seed, convention, lr_rule);
  } catch (const std::exception& e) {
    std::cerr << "bench_hybrid_ours: " << e.what() << "\n";
    return 1;
  }
}
