#pragma once
// The character-level language model of the command line: `modnorm train gpt` (a task of the
// trainer, trainer.hpp: random windows of a text, validation loss in nats and bits per
// character, checkpoints that resume bit for bit), `modnorm sample` (text from a checkpoint) and
// `modnorm inspect` of a GPT checkpoint. docs/training.md, "A character-level GPT".

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/gpt.hpp"
#include "cli/trainer.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

/// `modnorm train gpt`: modula's GPT or the modern one (gpt.hpp; hello-gpt's sizes by default)
/// on a text's characters, 2000 steps of 12 windows, the validation loss every 100 steps.
class GptTask final : public Task {
 public:
  GptTask();
  const char* name() const override { return "gpt"; }
  std::string about() const override;
  void add_model_flags(CLI::App& command) override;
  void check_flags() const override;
  Module load(const SafetensorsFile* checkpoint, const Ranks& ranks) override;
  std::int64_t steps() const override { return steps_; }
  std::int64_t eval_every() const override { return eval_every_; }
  void check_resumed(std::int64_t steps) const override;
  std::string position(std::int64_t steps) const override;
  std::string describe() const override;
  std::string describe_data() const override;
  std::string log_columns() const override;
  StepLoss forward(Module& net, std::int64_t step, const Ranks& ranks) override;
  void record(const StepDone& step, Progress& progress) override;
  void evaluate(Module& net) override;
  std::string finish_period(std::int64_t done) override;
  void log_row(std::ostream& log, const StepDone& step, bool evaluated,
               double seconds) const override;
  std::map<std::string, std::string> metadata(std::int64_t done) const override;
  std::string summary() const override;
  void add_results(nlohmann::json& out, double seconds, std::int64_t run) const override;

 private:
  std::int64_t tokens_per_step() const { return flags.batch * shape_.context; }

  GptShape shape_;                  // the flags' sizes, then the run's (vocab from the text)
  std::optional<GptArch> arch_;     // --arch (unset: modula's, or a checkpoint's)
  std::optional<double> soft_cap_;  // --soft-cap, --arch modern only (unset: no cap)
  std::string text_ = default_kjv_path();
  std::int64_t steps_ = 2000, eval_every_ = 100, eval_tokens_ = 32768;
  std::int64_t steps_done_ = 0;  // the checkpoint's
  std::optional<TextCorpus> corpus_;
  // Since the last evaluation, and the last evaluation.
  double train_sum_ = 0, rate_ = 0;
  std::int64_t train_count_ = 0;
  double train_loss_ = NAN, val_loss_ = NAN;
};

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
