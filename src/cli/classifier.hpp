#pragma once
// `modnorm train mlp` (the default model) and `modnorm train cnn`: Fashion-MNIST classifiers as
// tasks of the trainer (trainer.hpp). What they share is the Classifier: the IDX files (the
// first --limit examples), --epochs of shuffled batches, the test set's loss and accuracy after
// every epoch, checkpoints that record the network's sizes and the epochs done
// (docs/checkpoints.md). The network is the subclass's: an MLP (mlp.hpp) or modula's residual
// CNN (cnn.hpp), each with its defaults. `inspect` reads their checkpoints (load_classifier).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/cnn.hpp"
#include "cli/mlp.hpp"
#include "cli/trainer.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

/// The most --epochs (and a checkpoint's epochs_done): replaying the batch order of the
/// finished epochs on --resume stays quick.
constexpr int kMaxEpochs = 10000;

/// A classifier of Fashion-MNIST's images: everything but the network (see the file comment).
class Classifier : public Task {
 public:
  void add_model_flags(CLI::App& command) override;
  void check_flags() const override;
  Module load(const SafetensorsFile* checkpoint, const Ranks& ranks) override;
  void seed_batches(Generator& gen) override;
  std::int64_t steps() const override;
  std::int64_t eval_every() const override;
  void check_resumed(std::int64_t steps) const override;
  std::string position(std::int64_t steps) const override;
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

 protected:
  /// A classifier with the network's defaults: its sizes (width and depth; inputs come from
  /// the data), the epochs, the batch, and the test images scored per forward pass.
  Classifier(const MlpShape& sizes, int epochs, std::int64_t batch, std::int64_t eval_chunk);

  /// Registers --width and --depth (and the network's own flags) on `command`.
  virtual void add_network_flags(CLI::App& command) = 0;
  /// Reads the network's own metadata of a checkpoint whose sizes are read (and checks that the
  /// file holds its weights).
  virtual void read_network(const SafetensorsFile& file, const std::string& path) = 0;
  /// The network of `sizes` for images of `rows` x `columns`, not initialised.
  virtual Module build() const = 0;
  /// The network's own metadata, beside the sizes.
  virtual void add_network_metadata(std::map<std::string, std::string>& metadata) const {
    (void)metadata;
  }

  MlpShape sizes;            ///< the network's sizes (the CNN's width is its first stage's)
  std::int64_t rows = 0;     ///< the images' height, from the data
  std::int64_t columns = 0;  ///< the images' width, from the data

 private:
  std::string data_ = default_fashion_mnist_dir();
  int epochs_;
  std::int64_t limit_ = 0;  // train on the first `limit` examples only (0: all)
  std::int64_t eval_chunk_;
  std::int64_t epochs_done_ = 0;  // the checkpoint's
  Dataset train_, test_;
  std::optional<BatchSampler> sampler_;
  std::vector<std::vector<std::int64_t>> epoch_;  // the batches of the epoch under way
  // Since the last evaluation (the epoch's), and the last evaluation.
  double loss_sum_ = 0;
  std::int64_t period_steps_ = 0, correct_ = 0, seen_ = 0;
  double train_loss_ = 0, test_loss_ = 0, test_accuracy_ = 0;
};

/// `modnorm train mlp`: an MLP 784-512-512-10 (mlp.hpp), 5 epochs of batches of 256.
class MlpTask final : public Classifier {
 public:
  MlpTask();
  const char* name() const override { return "mlp"; }
  std::string about() const override;
  std::string describe() const override;

 private:
  void add_network_flags(CLI::App& command) override;
  void read_network(const SafetensorsFile& file, const std::string& path) override;
  Module build() const override;
};

/// `modnorm train cnn`: modula's residual CNN of widths 16-32-64 (cnn.hpp), 8 epochs of
/// batches of 128, the modular step at lr 0.3.
class CnnTask final : public Classifier {
 public:
  CnnTask();
  const char* name() const override { return "cnn"; }
  std::string about() const override;
  std::string describe() const override;
  double default_lr(Algorithm algorithm) const override;

 private:
  void add_network_flags(CLI::App& command) override;
  void read_network(const SafetensorsFile& file, const std::string& path) override;
  Module build() const override;
  void add_network_metadata(std::map<std::string, std::string>& metadata) const override;
  CnnShape shape() const;
  ConvNorm conv_norm_ = CnnShape{}.conv_norm;
};

/// The MLP or the CNN of a checkpoint written by `train mlp` or `train cnn`, with its weights,
/// and a line that describes it ("MLP 784-512-512-10 after 5 epochs"), for `inspect`.
Module load_classifier(const SafetensorsFile& file, const std::string& path,
                       std::string& description);

}  // namespace modnorm::cli
