#pragma once
// `modnorm train`: the default job (an MLP on Fashion-MNIST with the modular optimizer) and
// `modnorm inspect`: the per-layer table of a checkpoint.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/mlp.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

struct TrainConfig {
  std::string data = default_fashion_mnist_dir();
  MlpShape shape;
  OptimizerOptions optimizer = defaults();
  std::optional<double> lr;  // unset: the algorithm's default (default_lr)
  std::optional<bool> nesterov;  // unset: on for modular and sgd, off for the Adams
  int epochs = 5;
  std::int64_t batch = 256;
  std::uint64_t seed = 0;
  std::int64_t limit = 0;  // train on the first `limit` examples only (0: all)
  std::string log;         // CSV file
  std::int64_t log_every = 50;
  bool json = false;
  std::string save, resume;
  Device device = Device::cpu;

  // The library's defaults with a linear decay to zero.
  static OptimizerOptions defaults() {
    OptimizerOptions o;
    o.schedule.kind = Schedule::linear_decay;
    return o;
  }
};

// The learning rate a run uses when --lr is not given.
double default_lr(Algorithm algorithm);

// Registers `train`'s flags on `command`, writing into `config`.
void add_train_flags(CLI::App& command, TrainConfig& config);

// Runs the training; returns the process exit code.
int run_train(TrainConfig config);

// Prints the per-layer norm table of a checkpoint written by `train --save`.
int run_inspect(const std::string& checkpoint);

}  // namespace modnorm::cli
