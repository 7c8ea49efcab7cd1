#pragma once
// `modnorm train <model>`: the one training loop of the command line. It owns what every model's
// run does the same way: the shared flags and their defaults, the ranks (ranks.hpp), --resume,
// the progress lines, the CSV log, the evaluation schedule, the checkpoints and the final table
// and JSON. What differs between models is a Task passed in (as mlx-lm's train() takes its
// dataset and loss): its own flags and their defaults, its data and batches, its network, its
// evaluation and its checkpoint metadata. The tasks: the MLP and the residual CNN on
// Fashion-MNIST (classifier.hpp) and the character-level GPT (lm.hpp).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/progress.hpp"
#include "cli/ranks.hpp"
#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

/// Limits of the shared flags, checked before anything runs: wide enough for any run of the
/// command line, narrow enough that no step count overflows.
constexpr std::int64_t kMaxBatch = 65536;       // --batch
constexpr std::int64_t kMaxCount = 1000000000;  // --log-every, --warmup, and the tasks' counts

/// The learning rate a run uses when --lr is not given (a task may have its own, Task::default_lr).
double default_lr(Algorithm algorithm);

/// Whether a run uses Nesterov momentum when neither --nesterov nor --no-nesterov is given.
bool default_nesterov(Algorithm algorithm);

/// The device a run computes on, as its first line says: "cpu (GEMM oneDNN 2.6.3 on
/// avx512_core_bf16 kernels)" names the CPU GEMM provider and its kernels (modnorm::cpu_gemm()),
/// so that every log records what ran; "cuda" otherwise.
std::string describe_device(Device device);

/// The flags every model takes: the optimizer, the batch, the seed, the device and the outputs.
struct TrainFlags {
  OptimizerOptions optimizer = with_linear_decay();  ///< --optimizer, --beta, --schedule, ...
  std::optional<double> lr;         ///< --lr; unset: the task's default_lr(algorithm)
  std::optional<bool> nesterov;     ///< unset: default_nesterov(algorithm)
  std::vector<std::string> groups;  ///< --group SPEC (groups.hpp)
  bool hybrid = false;              ///< --hybrid: AdamW on the embedding, output layer, vectors
  std::int64_t batch = 1;           ///< --batch; each task sets its own default
  std::uint64_t seed = 0;           ///< --seed
  std::string log;                  ///< --log: a CSV file
  std::int64_t log_every = 50;      ///< --log-every
  bool json = false;                ///< --json
  std::string save, resume;         ///< --save, --resume: checkpoints
  Device device = Device::cpu;      ///< --device

  /// The library's defaults with a linear decay to zero.
  static OptimizerOptions with_linear_decay() {
    OptimizerOptions o;
    o.schedule.kind = Schedule::linear_decay;
    return o;
  }
};

/// What a task computes on this rank's share of one step's batch.
struct StepLoss {
  CrossEntropy loss;           ///< mean over this rank's items; grad shaped as the net's output
  std::vector<double> counts;  ///< what the task sums over the ranks besides the loss (hits)
  std::size_t mine = 0;        ///< this rank's items
  std::size_t batch = 0;       ///< the whole batch's
};

/// A step taken, as the task records and logs it.
struct StepDone {
  std::int64_t done = 0;       ///< steps done, this one included
  std::int64_t run = 0;        ///< steps done by this process (not before --resume)
  double loss = 0;             ///< the whole batch's mean loss
  std::vector<double> counts;  ///< StepLoss::counts summed over the ranks
  double lr = 0;               ///< the step's learning rate
};

/// A model as the trainer trains it. The trainer calls, in this order: check_flags, load, (the
/// weights are drawn) seed_batches, steps and eval_every, (a resumed run) check_resumed; then
/// for every step forward and record, at every evaluation evaluate and finish_period (and
/// metadata for the checkpoint), log_row when the log takes a row; at the end summary and
/// add_results. Each throws modnorm::Error naming the flag, file or value at fault.
class Task {
 public:
  virtual ~Task() = default;

  /// The shared flags, with this task's defaults until the command line sets them.
  TrainFlags flags;

  /// The model's name: its subcommand ("mlp") and its checkpoints' metadata 'model'.
  virtual const char* name() const = 0;
  /// One line for `modnorm train --help`.
  virtual std::string about() const = 0;
  /// Registers the model's own flags on `command` (add_flags adds the shared ones).
  virtual void add_model_flags(CLI::App& command) = 0;
  /// The model's flags against their limits, before anything is loaded.
  virtual void check_flags() const = 0;
  /// The learning rate when --lr is not given.
  virtual double default_lr(Algorithm algorithm) const { return cli::default_lr(algorithm); }

  /// Reads the data and `checkpoint`'s metadata (when resuming; its 'model' is this task's),
  /// checks them against each other and the flags, and builds the network (not initialised).
  virtual Module load(const SafetensorsFile* checkpoint, const Ranks& ranks) = 0;
  /// Draws the batch order's seed from `gen`, after the weights (a task may draw nothing).
  virtual void seed_batches(Generator& gen) { (void)gen; }
  /// The run's length in steps (what the schedule decays over).
  virtual std::int64_t steps() const = 0;
  /// The steps between evaluations (and checkpoints); the last step evaluates as well.
  virtual std::int64_t eval_every() const = 0;
  /// Throws unless a resumed optimizer's `steps` are where the checkpoint says the run stopped.
  virtual void check_resumed(std::int64_t steps) const = 0;
  /// Where a run `steps` steps in stands, for "resumed from ... after epoch 2".
  virtual std::string position(std::int64_t steps) const = 0;
  /// The model, for the run's first line ("MLP 784-512-10").
  virtual std::string describe() const = 0;
  /// The run's length and data, for its first line ("5 epochs, 60000 examples").
  virtual std::string describe_data() const = 0;

  /// The CSV log's columns after `step` and before the norms ("epoch,loss,accuracy,lr").
  virtual std::string log_columns() const = 0;
  /// Loss (and counts) of this rank's share of step `step`'s batch (the gradients are zeroed).
  virtual StepLoss forward(Module& net, std::int64_t step, const Ranks& ranks) = 0;
  /// Adds the step to the running means since the last evaluation, and shows them on `progress`.
  virtual void record(const StepDone& step, Progress& progress) = 0;
  /// Scores the held-out data.
  virtual void evaluate(Module& net) = 0;
  /// The line that reports the steps since the last evaluation and this one; starts anew.
  virtual std::string finish_period(std::int64_t done) = 0;
  /// The log's values of `log_columns()` for `step` (`evaluated`: an evaluation just ran;
  /// `seconds`: since the run started).
  virtual void log_row(std::ostream& log, const StepDone& step, bool evaluated,
                       double seconds) const = 0;
  /// The model's checkpoint metadata after `done` steps (the trainer adds the run's).
  virtual std::map<std::string, std::string> metadata(std::int64_t done) const = 0;
  /// The last evaluation, for the final line ("test accuracy 84.10%, test loss 0.4512").
  virtual std::string summary() const = 0;
  /// The model's fields of the final JSON object: `seconds` since the run started, `run` steps
  /// done by this process.
  virtual void add_results(nlohmann::json& out, double seconds, std::int64_t run) const = 0;

  /// Registers the shared flags (with this task's defaults) and the model's own on `command`.
  void add_flags(CLI::App& command);
};

/// Adds `train` to `app`, and under it one subcommand per task (`train mlp`, `train cnn`, ...);
/// `train` without a model takes the first task's flags and trains it. Returns `train`.
CLI::App& add_train_command(CLI::App& app, const std::vector<Task*>& tasks);

/// Runs what a parsed `train` command asks for (its model's subcommand, or the first task) and
/// returns the exit code. Every flag is checked against its limit, and --save and --log for
/// being writable, before anything is loaded or trained; a --resume checkpoint's metadata is
/// checked before it is used (docs/checkpoints.md). Throws modnorm::Error naming the flag or
/// the checkpoint file and the value received.
int run_train(const CLI::App& train, const std::vector<Task*>& tasks);

/// The message of CLI11's refusal of unknown arguments to `train` or a model's subcommand:
/// "[train gpt] --epochs is not a flag of the gpt model (it is one of train mlp, train cnn)";
/// --model, which was once the way to choose the model, gets the subcommand to write instead.
/// Empty when the refusal came from another command.
std::string explain_extras(const CLI::App& train, const std::vector<Task*>& tasks,
                           const CLI::ExtrasError& error);

/// Trains `task`: the one loop. `typed` holds the flags given as typed ("--width" -> "64"),
/// which every rank must share. Returns the exit code.
int train(Task& task, const std::map<std::string, std::string>& typed);

}  // namespace modnorm::cli
