// `modnorm train mlp` and `modnorm train cnn`, and `inspect` of their checkpoints
// (classifier.hpp).
#include "cli/classifier.hpp"

#include <algorithm>
#include <cmath>

#include "cli/checks.hpp"

namespace modnorm::cli {
namespace {

// Index of the largest logit in each row.
std::vector<std::int64_t> argmax_rows(const Tensor& logits) {
  const std::vector<float> v = logits.to_vector();
  const std::int64_t rows = logits.dim(0), cols = logits.dim(1);
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = v.data() + r * cols;
    out[static_cast<std::size_t>(r)] = std::max_element(row, row + cols) - row;
  }
  return out;
}

std::int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<std::int64_t> guess = argmax_rows(logits);
  const std::vector<double> truth = labels.to_vector_f64();  // exact for i32
  std::int64_t correct = 0;
  for (std::size_t k = 0; k < guess.size(); ++k)
    correct += guess[k] == static_cast<std::int64_t>(truth[k]);
  return correct;
}

// The network's sizes in a checkpoint, within the command line's limits (mlp.hpp): the MLP's
// shape, and the CNN's sizes read the same way.
MlpShape checkpoint_sizes(const SafetensorsFile& file, const std::string& path) {
  MlpShape s;
  s.inputs = metadata_int(file, path, "inputs", 1, kMaxFeatures);
  s.width = metadata_int(file, path, "width", 1, kMaxFeatures);
  s.depth = static_cast<int>(metadata_int(file, path, "depth", 1, kMaxDepth));
  s.classes = metadata_int(file, path, "classes", 1, kMaxFeatures);
  naming_checkpoint(path, [&] { check_size(s); });
  return s;
}

// The CNN of a checkpoint: its sizes, the images' side (the data's rows must make a square;
// Fashion-MNIST's 784 do) and the conv norm.
CnnShape checkpoint_cnn(const SafetensorsFile& file, const std::string& path) {
  const MlpShape sizes = checkpoint_sizes(file, path);
  CnnShape s;
  s.rows = s.cols = static_cast<std::int64_t>(std::lround(std::sqrt(sizes.inputs)));
  s.width = sizes.width;
  s.depth = sizes.depth;
  s.classes = sizes.classes;
  const auto it = file.metadata.find("conv_norm");
  if (it == file.metadata.end() || (it->second != "per_tap" && it->second != "flattened"))
    throw Error("[checkpoint] " + path + ": metadata 'conv_norm' must be per_tap or flattened");
  s.conv_norm = it->second == "per_tap" ? ConvNorm::per_tap : ConvNorm::flattened;
  naming_checkpoint(path, [&] { check_size(s); });
  check_holds(file, path, parameter_count(s), describe(s));
  return s;
}

// The CNN's sizes as MlpShape holds them (the width is the first stage's).
MlpShape cnn_sizes() {
  const CnnShape cnn;
  MlpShape s;
  s.width = cnn.width;
  s.depth = cnn.depth;
  s.classes = cnn.classes;
  return s;
}

// The modular step of the CNN: a short sweep (50 steps) favoured 0.5-1; the long runs of the MLP
// (docs/benchmarks.md) did best at a quarter of their short-run optimum.
constexpr double kCnnModularLr = 0.3;

}  // namespace

Classifier::Classifier(const MlpShape& sizes, int epochs, std::int64_t batch,
                       std::int64_t eval_chunk)
    : sizes(sizes), epochs_(epochs), eval_chunk_(eval_chunk) {
  flags.batch = batch;
}

void Classifier::add_model_flags(CLI::App& cmd) {
  cmd.add_option("--data", data_, "Directory with the Fashion-MNIST IDX files")
      ->capture_default_str();
  add_network_flags(cmd);
  cmd.add_option("--epochs", epochs_, within("Passes over the training set", 1, kMaxEpochs))
      ->capture_default_str();
  cmd.add_option("--limit", limit_,
                 within("Train on the first N examples only (0: all)", 0, kMaxCount))
      ->capture_default_str();
}

void Classifier::check_flags() const {
  check_range("[train] --width", sizes.width, 1, kMaxFeatures);
  check_range("[train] --depth", sizes.depth, 1, kMaxDepth);
  check_range("[train] --epochs", epochs_, 1, kMaxEpochs);
  check_range("[train] --limit", limit_, 0, kMaxCount);
}

Module Classifier::load(const SafetensorsFile* checkpoint, const Ranks&) {
  const std::string& path = flags.resume;
  if (checkpoint) {
    sizes = checkpoint_sizes(*checkpoint, path);
    read_network(*checkpoint, path);
    epochs_done_ = metadata_int(*checkpoint, path, "epochs_done", 0, kMaxEpochs);
  }
  const FashionMnist data = load_fashion_mnist(data_);
  train_ = data.train;
  test_ = data.test;
  if (limit_ > 0 && limit_ < train_.size()) {
    std::vector<std::int64_t> ids(static_cast<std::size_t>(limit_));
    for (std::int64_t k = 0; k < limit_; ++k) ids[static_cast<std::size_t>(k)] = k;
    train_.images = make_batch(train_, ids).x;
    train_.labels.resize(static_cast<std::size_t>(limit_));
  }
  const std::int64_t inputs = train_.rows * train_.cols;
  if (checkpoint && sizes.inputs != inputs)
    throw Error("[checkpoint] " + path + ": the model takes " + std::to_string(sizes.inputs) +
                " inputs, the data in " + data_ + " has " + std::to_string(inputs));
  sizes.inputs = inputs;
  rows = train_.rows;
  columns = train_.cols;
  return build();
}

void Classifier::seed_batches(Generator& gen) {
  sampler_.emplace(train_.size(), flags.batch, gen);
}

std::int64_t Classifier::steps() const {
  return epochs_ * sampler_->batches_per_epoch();
}

std::int64_t Classifier::eval_every() const {
  return sampler_->batches_per_epoch();
}

// The schedule and the batch order continue from the saved step only if it is where
// epochs_done epochs of this run's batches end.
void Classifier::check_resumed(std::int64_t steps) const {
  const std::int64_t batches = sampler_->batches_per_epoch();
  if (steps != epochs_done_ * batches)
    throw Error("[checkpoint] " + flags.resume + ": the optimizer took " + std::to_string(steps) +
                " steps, but epochs_done " + std::to_string(epochs_done_) + " x " +
                std::to_string(batches) + " batches per epoch is " +
                std::to_string(epochs_done_ * batches) +
                " (resume with the --batch and --limit the checkpoint was trained with)");
}

std::string Classifier::position(std::int64_t steps) const {
  return "epoch " + std::to_string(steps / sampler_->batches_per_epoch());
}

std::string Classifier::describe_data() const {
  return std::to_string(epochs_) + " epochs, " + std::to_string(train_.size()) + " examples";
}

std::string Classifier::log_columns() const {
  return "epoch,loss,accuracy,lr";
}

StepLoss Classifier::forward(Module& net, std::int64_t step, const Ranks& ranks) {
  const std::int64_t batches = sampler_->batches_per_epoch();
  while (sampler_->epochs_drawn() <= step / batches) epoch_ = sampler_->next_epoch();
  const std::vector<std::int64_t>& ids = epoch_[static_cast<std::size_t>(step % batches)];
  const Batch b = make_batch(train_, ranks.mine(ids));  // this rank's share
  const Tensor logits = net.forward(b.x.to(flags.device));
  StepLoss out;
  out.loss = softmax_cross_entropy(logits, b.y.to(flags.device));
  out.counts = {static_cast<double>(count_correct(logits, b.y))};
  out.mine = static_cast<std::size_t>(b.y.numel());
  out.batch = ids.size();
  return out;
}

void Classifier::record(const StepDone& step, Progress& progress) {
  const std::int64_t batches = sampler_->batches_per_epoch();
  const std::int64_t epoch = (step.done - 1) / batches, i = (step.done - 1) % batches;
  loss_sum_ += step.loss;
  ++period_steps_;
  correct_ += static_cast<std::int64_t>(step.counts[0]);
  seen_ += static_cast<std::int64_t>(epoch_[static_cast<std::size_t>(i)].size());
  progress.update("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_),
                  static_cast<long>(i + 1), static_cast<long>(batches),
                  "loss " + fixed(loss_sum_ / static_cast<double>(period_steps_), 4));
}

// The test set `eval_chunk_` examples at a time (a CNN's windows take k^2 times its activations'
// memory).
void Classifier::evaluate(Module& net) {
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < test_.size(); begin += eval_chunk_) {
    std::vector<std::int64_t> ids;
    for (std::int64_t k = begin; k < std::min(begin + eval_chunk_, test_.size()); ++k)
      ids.push_back(k);
    const Batch b = make_batch(test_, ids);
    const Tensor logits = net.forward(b.x.to(flags.device));
    loss +=
        softmax_cross_entropy(logits, b.y.to(flags.device)).loss * static_cast<double>(ids.size());
    correct += count_correct(logits, b.y);
  }
  const auto n = static_cast<double>(test_.size());
  test_loss_ = loss / n;
  test_accuracy_ = static_cast<double>(correct) / n;
}

std::string Classifier::finish_period(std::int64_t done) {
  train_loss_ = loss_sum_ / static_cast<double>(period_steps_);
  std::string line =
      "epoch " + std::to_string(done / sampler_->batches_per_epoch()) + "/" +
      std::to_string(epochs_) + "  train loss " + fixed(train_loss_, 4) + "  train acc " +
      fixed(100.0 * static_cast<double>(correct_) / static_cast<double>(seen_), 2) +
      "%  test loss " + fixed(test_loss_, 4) + "  test acc " + fixed(100 * test_accuracy_, 2) + "%";
  loss_sum_ = 0;
  period_steps_ = correct_ = seen_ = 0;
  return line;
}

void Classifier::log_row(std::ostream& log, const StepDone& step, bool, double) const {
  const std::int64_t batches = sampler_->batches_per_epoch();
  const std::size_t items = epoch_[static_cast<std::size_t>((step.done - 1) % batches)].size();
  log << (step.done - 1) / batches + 1 << "," << step.loss << ","
      << static_cast<double>(static_cast<std::int64_t>(step.counts[0])) / static_cast<double>(items)
      << "," << step.lr;
}

std::map<std::string, std::string> Classifier::metadata(std::int64_t done) const {
  std::map<std::string, std::string> metadata{
      {"inputs", std::to_string(sizes.inputs)},
      {"width", std::to_string(sizes.width)},
      {"depth", std::to_string(sizes.depth)},
      {"classes", std::to_string(sizes.classes)},
      {"epochs_done", std::to_string(done / sampler_->batches_per_epoch())}};
  add_network_metadata(metadata);
  return metadata;
}

std::string Classifier::summary() const {
  return "test accuracy " + fixed(100 * test_accuracy_, 2) + "%, test loss " + fixed(test_loss_, 4);
}

void Classifier::add_results(nlohmann::json& out, double, std::int64_t) const {
  out["test_accuracy"] = test_accuracy_;
  out["test_loss"] = test_loss_;
  out["train_loss"] = train_loss_;
  out["epochs"] = epochs_;
  out["width"] = sizes.width;
  out["depth"] = sizes.depth;
}

MlpTask::MlpTask() : Classifier(MlpShape{}, 5, 256, 2000) {}

std::string MlpTask::about() const {
  return "An MLP (Linear layers, ReLU between them) on Fashion-MNIST: the default model";
}

std::string MlpTask::describe() const {
  return "MLP " + layer_sizes(sizes);
}

void MlpTask::add_network_flags(CLI::App& cmd) {
  cmd.add_option("--width", sizes.width, within("Hidden width", 1, kMaxFeatures))
      ->capture_default_str();
  cmd.add_option("--depth", sizes.depth, within("Linear layers", 1, kMaxDepth))
      ->capture_default_str();
}

void MlpTask::read_network(const SafetensorsFile& file, const std::string& path) {
  check_holds(file, path, parameter_count(sizes), describe());
}

Module MlpTask::build() const {
  return make_mlp(sizes);
}

CnnTask::CnnTask() : Classifier(cnn_sizes(), 8, 128, 250) {}

std::string CnnTask::about() const {
  return "modula's residual CNN on Fashion-MNIST (docs/training.md, \"A residual CNN\")";
}

std::string CnnTask::describe() const {
  return cli::describe(shape());
}

double CnnTask::default_lr(Algorithm algorithm) const {
  return algorithm == Algorithm::modular ? kCnnModularLr : cli::default_lr(algorithm);
}

void CnnTask::add_network_flags(CLI::App& cmd) {
  cmd.add_option("--width", sizes.width,
                 within("Channels of the first stage (then 2x and 4x)", 1, kMaxFeatures))
      ->capture_default_str();
  cmd.add_option("--depth", sizes.depth, within("Residual blocks per stage", 1, kMaxDepth))
      ->capture_default_str();
  cmd.add_option("--conv-norm", conv_norm_, "The norm of the convolutions (docs/theory.md)")
      ->transform(one_of({ConvNorm::per_tap, ConvNorm::flattened}))
      ->capture_default_str();
}

void CnnTask::read_network(const SafetensorsFile& file, const std::string& path) {
  conv_norm_ = checkpoint_cnn(file, path).conv_norm;
}

Module CnnTask::build() const {
  return make_cnn(shape());
}

void CnnTask::add_network_metadata(std::map<std::string, std::string>& metadata) const {
  metadata["conv_norm"] = to_string(conv_norm_);
}

CnnShape CnnTask::shape() const {
  CnnShape s;
  s.rows = rows;
  s.cols = columns;
  s.width = sizes.width;
  s.depth = sizes.depth;
  s.classes = sizes.classes;
  s.conv_norm = conv_norm_;
  return s;
}

Module load_classifier(const SafetensorsFile& file, const std::string& path,
                       std::string& description) {
  const auto model = file.metadata.find("model");
  const bool cnn = model != file.metadata.end() && model->second == "cnn";
  const MlpShape sizes = checkpoint_sizes(file, path);
  if (!cnn) check_holds(file, path, parameter_count(sizes), "MLP " + layer_sizes(sizes));
  Module net = cnn ? make_cnn(checkpoint_cnn(file, path)) : make_mlp(sizes);
  naming_checkpoint(path, [&] { load_weights(file, net); });
  description = cnn ? describe(checkpoint_cnn(file, path)) : "MLP " + layer_sizes(sizes);
  if (const auto epochs = find_metadata_int(file, path, "epochs_done", 0, kMaxEpochs))
    description += " after " + std::to_string(*epochs) + " epochs";
  return net;
}

}  // namespace modnorm::cli
