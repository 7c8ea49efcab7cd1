#pragma once
// `modnorm train`: the default job (an MLP on Fashion-MNIST with the modular optimizer), a
// residual CNN on the same data (`--model cnn`, cnn.hpp) or a character-level GPT
// (`--model gpt`, lm.hpp), and `modnorm inspect`: the per-layer table of a
// checkpoint.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/gpt.hpp"
#include "cli/mlp.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// Limits of train's flags, checked before anything runs (and of a checkpoint's epochs_done):
// wide enough for any Fashion-MNIST run, narrow enough that no step count overflows and that
// replaying the batch order of the finished epochs on --resume stays quick.
constexpr int kMaxEpochs = 10000;               // --epochs
constexpr std::int64_t kMaxBatch = 65536;       // --batch
constexpr std::int64_t kMaxCount = 1000000000;  // --limit, --log-every, --warmup

// What `train` trains.
enum class Model : std::uint8_t { mlp, gpt, cnn };
const char* to_string(Model model);  // "mlp", "gpt", "cnn"

struct TrainConfig {
  Model model = Model::mlp;
  std::string data = default_fashion_mnist_dir();
  MlpShape shape;
  OptimizerOptions optimizer = defaults();
  std::optional<double> lr;         // unset: default_lr(algorithm)
  std::optional<bool> nesterov;     // unset: default_nesterov(algorithm)
  std::vector<std::string> groups;  // --group SPEC (groups.hpp)
  bool hybrid = false;              // --hybrid: AdamW on the embedding, output layer, vectors
  int epochs = 5;
  std::int64_t batch = 256;
  std::uint64_t seed = 0;
  std::int64_t limit = 0;  // train on the first `limit` examples only (0: all)
  std::string log;         // CSV file
  std::int64_t log_every = 50;
  bool json = false;
  std::string save, resume;
  Device device = Device::cpu;
  // --model cnn (cnn.hpp); width, depth, batch, epochs and lr then default to the CNN's.
  ConvNorm conv_norm = ConvNorm::per_tap;
  // --model gpt (lm.hpp); width, depth and batch then default to the GPT's (gpt.hpp, 12).
  std::string text = default_kjv_path();
  std::int64_t heads = 4;
  std::int64_t context = 64;
  std::int64_t steps = 2000;
  std::int64_t eval_every = 100;
  std::int64_t eval_tokens = 32768;
  GptArch arch = GptArch::modula;
  double soft_cap = 0.0;  // --soft-cap, --arch modern only (0: no cap)
  // The flags given on the command line and their values as typed ("--width" -> "64"), for the
  // per-model defaults, for refusing a flag that the chosen model does not use, and for
  // comparing the ranks' flags.
  std::map<std::string, std::string> given;

  // The library's defaults with a linear decay to zero.
  static OptimizerOptions defaults() {
    OptimizerOptions o;
    o.schedule.kind = Schedule::linear_decay;
    return o;
  }
};

// The learning rate a run uses when --lr is not given.
double default_lr(Algorithm algorithm);

// Whether a run uses Nesterov momentum when neither --nesterov nor --no-nesterov is given.
bool default_nesterov(Algorithm algorithm);

// Registers `train`'s flags on `command`, writing into `config`.
void add_train_flags(CLI::App& command, TrainConfig& config);

// The device a run computes on, as its first line says: "cpu (GEMM oneDNN 2.6.3 on
// avx512_core_bf16 kernels)" names the CPU GEMM provider and its kernels (modnorm::cpu_gemm()), so
// that every log records what ran; "cuda" otherwise.
std::string describe_device(Device device);

// Runs the training; returns the process exit code. Every flag is checked against its limit,
// and --save and --log for being writable, before anything is loaded or trained; a --resume
// checkpoint's metadata is checked before it is used (docs/checkpoints.md). Throws
// modnorm::Error naming the flag or the checkpoint file and the value received.
int run_train(TrainConfig config);

// Prints the per-layer norm table of a checkpoint written by `train --save`; the model's shape
// must be in the metadata, the rest (epochs_done, optimizer) is printed when present.
int run_inspect(const std::string& checkpoint);

}  // namespace modnorm::cli
