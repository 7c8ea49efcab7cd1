// libFuzzer target: resuming from a checkpoint as `modnorm train --resume` does
// (src/cli/trainer.cpp): load_safetensors, copy the weights into a small MLP (same names and
// shapes required), Optimizer::load_state with the "optim." entries, then one training step on
// the restored state. Each input is tried against the state layouts of every algorithm
// (modular, modular with NorMuon, sgd, adamw, adaptive_adam; docs/checkpoints.md). Every
// refusal must be a modnorm::Error; an accepted state must give steps() + 1 after the step.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/mlp.hpp"
#include "fuzz_support.hpp"
#include "modnorm/modnorm.hpp"

namespace {

// The 4-3-2 MLP of the seed corpus (tests/fuzz/make_corpus.cpp): "0.weight" [3x4],
// "2.weight" [2x3].
constexpr modnorm::cli::MlpShape kShape{4, 3, 2, 2};

std::vector<modnorm::OptimizerOptions> layouts() {
  std::vector<modnorm::OptimizerOptions> out;
  for (const auto algorithm : {modnorm::Algorithm::modular, modnorm::Algorithm::sgd,
                               modnorm::Algorithm::adamw, modnorm::Algorithm::adaptive_adam}) {
    modnorm::OptimizerOptions options;
    options.algorithm = algorithm;
    out.push_back(options);
  }
  modnorm::OptimizerOptions normuon;
  normuon.normuon.enabled = true;
  out.push_back(normuon);
  return out;
}

// checks.cpp's load_weights: the checkpoint's tensor of each parameter's name, same shape,
// converted to the weight's dtype.
void load_weights(const modnorm::SafetensorsFile& file, const modnorm::Module& net) {
  for (const modnorm::Parameter& p : net.parameters()) {
    const modnorm::Tensor& saved = file.at(p.name);
    if (saved.shape() != p.weight.shape())
      throw modnorm::Error("[load_weights] '" + p.name + "' has shape " +
                           modnorm::to_string(saved.shape()));
    modnorm::Tensor w = p.weight;
    modnorm::axpy(1.0, saved.to(w.dtype()), w, 0.0);
  }
}

// checks.cpp's optimizer_entries: the "optim." tensors, prefix removed.
std::vector<std::pair<std::string, modnorm::Tensor>> optimizer_entries(
    const modnorm::SafetensorsFile& file) {
  std::vector<std::pair<std::string, modnorm::Tensor>> out;
  const std::string prefix = "optim.";
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

void resume(const modnorm::SafetensorsFile& file, const modnorm::OptimizerOptions& options) {
  modnorm::Generator gen(0);
  modnorm::Module net = modnorm::cli::make_mlp(kShape);
  net.initialize(gen);
  modnorm::Optimizer opt(net, options);
  try {
    load_weights(file, net);
  } catch (const modnorm::Error&) {
    // Keep the initial weights: the optimizer state is still worth fuzzing.
  }
  opt.load_state(optimizer_entries(file));
  const std::int64_t steps = opt.steps();
  const modnorm::Tensor x = modnorm::Tensor::from_vector({0.5f, -1.0f, 0.25f, 2.0f,  //
                                                          -0.75f, 0.0f, 1.5f, -0.5f},
                                                         {2, 4});
  net.zero_grad();
  const modnorm::Tensor labels = modnorm::Tensor::from_vector_i32({0, 1}, {2});
  net.backward(modnorm::softmax_cross_entropy(net.forward(x), labels).grad);
  opt.step();
  if (opt.steps() != steps + 1)
    modnorm::fuzz::finding("steps() went from " + std::to_string(steps) + " to " +
                           std::to_string(opt.steps()) + " in one step");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modnorm::fuzz::ScratchFile scratch("modnorm_fuzz_checkpoint");
  static const std::vector<modnorm::OptimizerOptions> options = layouts();
  const std::string& path = scratch.write(data, size);
  modnorm::SafetensorsFile file;
  try {
    file = modnorm::load_safetensors(path);
  } catch (const modnorm::Error&) {
    return 0;  // load_safetensors itself has its own target
  }
  for (const modnorm::OptimizerOptions& o : options) {
    try {
      resume(file, o);
    } catch (const modnorm::Error&) {
      // A refused state (or a non-finite step it led to): expected.
    }
  }
  return 0;
}
