#pragma once
// The character-level language model of the command line: `modnorm train --model gpt` (random
// windows of a text, validation loss in nats and bits per character, checkpoints that resume
// bit for bit), `modnorm sample` (text from a checkpoint) and `modnorm inspect` of a GPT
// checkpoint. docs/training.md, "A character-level GPT".

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/ranks.hpp"
#include "cli/train.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// Trains the GPT that `config` describes on config.text (called by run_train for --model gpt,
// after the flags shared with the MLP are checked), each rank of `ranks` on its share of every
// batch. Returns the exit code.
int run_train_gpt(TrainConfig config, const Ranks& ranks);

struct SampleConfig {
  std::string checkpoint;
  std::string prompt;
  std::int64_t tokens = 200;
  double temperature = 0.8;
  std::uint64_t seed = 0;
  Device device = Device::cpu;
};

// Registers `sample`'s arguments on `command`, writing into `config`.
void add_sample_flags(CLI::App& command, SampleConfig& config);

// Prints the prompt and `tokens` characters drawn from the checkpoint's GPT, each from the
// softmax of the last position's logits over the temperature (the most likely one with
// temperature 0), seeded; the window is the last `context` characters. Returns the exit code.
int run_sample(const SampleConfig& config);

// The GPT of a checkpoint whose metadata says model "gpt", with its weights, and a line that
// describes it ("GPT 4 blocks, width 128, ... after 2000 steps"), for `sample` and `inspect`.
Module load_gpt(const SafetensorsFile& file, const std::string& path, std::string& description);

}  // namespace modnorm::cli
