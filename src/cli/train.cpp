// `modnorm train` and `modnorm inspect`: data, model, optimizer, progress, logs and
// safetensors checkpoints, all through the public API. Flags and checkpoint metadata are
// checked against their limits before anything trains.
#include "cli/train.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/checks.hpp"
#include "cli/cnn.hpp"
#include "cli/gpt.hpp"
#include "cli/groups.hpp"
#include "cli/lm.hpp"
#include "cli/progress.hpp"
#include "cli/ranks.hpp"

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

std::int64_t count_correct(const Tensor& logits, const std::vector<std::int64_t>& labels) {
  const std::vector<std::int64_t> guess = argmax_rows(logits);
  std::int64_t correct = 0;
  for (std::size_t k = 0; k < guess.size(); ++k) correct += guess[k] == labels[k];
  return correct;
}

struct Evaluation {
  double loss = 0, accuracy = 0;
};

// `chunk` examples at a time (a CNN's windows take k^2 times its activations' memory).
Evaluation evaluate(Module& net, const Dataset& data, Device device, std::int64_t chunk) {
  double loss = 0;
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < data.size(); begin += chunk) {
    std::vector<std::int64_t> ids;
    for (std::int64_t k = begin; k < std::min(begin + chunk, data.size()); ++k) ids.push_back(k);
    const Batch b = make_batch(data, ids);
    const Tensor logits = net.forward(b.x.to(device));
    loss += softmax_cross_entropy(logits, b.y).loss * static_cast<double>(ids.size());
    correct += count_correct(logits, b.y);
  }
  const auto n = static_cast<double>(data.size());
  return {loss / n, static_cast<double>(correct) / n};
}

// The flags only some models use; the others refuse them (a typo'd run is better stopped).
const std::map<Model, std::set<std::string>> kModelFlags = {
    {Model::mlp, {"--data", "--epochs", "--limit"}},
    {Model::cnn, {"--data", "--epochs", "--limit", "--conv-norm"}},
    {Model::gpt,
     {"--text", "--heads", "--context", "--steps", "--eval-every", "--eval-tokens", "--arch",
      "--soft-cap"}}};

// Every flag against its limit, and the output paths, before anything is loaded or trained.
// (The optimizer's own rules, beta, weight decay, the schedule, are the Optimizer's to check.)
void validate(const TrainConfig& c) {
  for (const auto& [model, flags] : kModelFlags)
    for (const std::string& flag : flags)
      if (model != c.model && c.given.count(flag) && !kModelFlags.at(c.model).count(flag))
        throw Error("[train] " + flag + " applies to --model " + to_string(model) + ", not to " +
                    to_string(c.model));
  check_range("[train] --width", c.shape.width, 1, kMaxFeatures);
  check_range("[train] --depth", c.shape.depth, 1, kMaxDepth);
  check_range("[train] --epochs", c.epochs, 1, kMaxEpochs);
  check_range("[train] --batch", c.batch, 1, kMaxBatch);
  check_range("[train] --limit", c.limit, 0, kMaxCount);
  check_range("[train] --log-every", c.log_every, 1, kMaxCount);
  check_range("[train] --warmup", c.optimizer.schedule.warmup_steps, 0, kMaxCount);
  if (c.lr) check_positive("[train] --lr", *c.lr);
  if (!c.save.empty()) check_writable("train", "--save", c.save);
  if (!c.log.empty()) check_writable("train", "--log", c.log);
}

// Checkpoint layout (docs/checkpoints.md): weights under their parameter names, optimizer
// state under "optim.<name>", the run's shape and progress in __metadata__.
// Every rank gathers the state (a collective); only the one that `writes` writes the file.
void save_checkpoint(const std::string& path, const Module& net, const Optimizer& opt,
                     const TrainConfig& c, int epochs_done, bool writes) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
  for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
  if (!writes) return;
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"modnorm_version", version()},
                                              {"model", to_string(c.model)},
                                              {"inputs", std::to_string(c.shape.inputs)},
                                              {"width", std::to_string(c.shape.width)},
                                              {"depth", std::to_string(c.shape.depth)},
                                              {"classes", std::to_string(c.shape.classes)},
                                              {"optimizer", to_string(c.optimizer.algorithm)},
                                              {"seed", std::to_string(c.seed)},
                                              {"batch", std::to_string(c.batch)},
                                              {"epochs_done", std::to_string(epochs_done)}};
  if (c.model == Model::cnn) metadata["conv_norm"] = to_string(c.conv_norm);
  save_safetensors(path, tensors, metadata);
}

// The model's shape, within the command line's limits (mlp.hpp).
MlpShape checkpoint_shape(const SafetensorsFile& file, const std::string& path) {
  MlpShape s;
  s.inputs = metadata_int(file, path, "inputs", 1, kMaxFeatures);
  s.width = metadata_int(file, path, "width", 1, kMaxFeatures);
  s.depth = static_cast<int>(metadata_int(file, path, "depth", 1, kMaxDepth));
  s.classes = metadata_int(file, path, "classes", 1, kMaxFeatures);
  naming_checkpoint(path, [&] { check_size(s); });
  return s;
}

// The CNN of a checkpoint: its sizes (read as an MLP's), the images' side (the data's rows must
// make a square; Fashion-MNIST's 784 do) and the conv norm.
CnnShape checkpoint_cnn(const SafetensorsFile& file, const std::string& path) {
  const MlpShape sizes = checkpoint_shape(file, path);
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

// The CNN of a run: the flags' sizes on the data's images.
CnnShape cnn_of(const TrainConfig& c, std::int64_t rows, std::int64_t cols) {
  CnnShape s;
  s.rows = rows;
  s.cols = cols;
  s.width = c.shape.width;
  s.depth = c.shape.depth;
  s.classes = c.shape.classes;
  s.conv_norm = c.conv_norm;
  return s;
}

// The modular step of the CNN: a short sweep (50 steps) favoured 0.5-1; the long runs of the MLP
// (docs/benchmarks.md) did best at a quarter of their short-run optimum.
constexpr double kCnnModularLr = 0.3;

// The CNN's defaults for the flags not given (cnn.hpp; docs/training.md, "A residual CNN").
void use_cnn_defaults(TrainConfig& c) {
  const CnnShape s;
  if (!c.given.count("--width")) c.shape.width = s.width;
  if (!c.given.count("--depth")) c.shape.depth = s.depth;
  if (!c.given.count("--batch")) c.batch = 128;
  if (!c.given.count("--epochs")) c.epochs = 8;
  if (!c.lr && c.optimizer.algorithm == Algorithm::modular) c.lr = kCnnModularLr;
}

// The MLP or the CNN of a checkpoint, with its weights, and a line that describes it.
Module load_classifier(const SafetensorsFile& file, const std::string& path,
                       std::string& description) {
  const auto model = file.metadata.find("model");
  const bool cnn = model != file.metadata.end() && model->second == to_string(Model::cnn);
  const MlpShape shape = checkpoint_shape(file, path);
  if (!cnn) check_holds(file, path, parameter_count(shape), "MLP " + layer_sizes(shape));
  Module net = cnn ? make_cnn(checkpoint_cnn(file, path)) : make_mlp(shape);
  naming_checkpoint(path, [&] { load_weights(file, net); });
  description = cnn ? describe(checkpoint_cnn(file, path)) : "MLP " + layer_sizes(shape);
  if (const auto epochs = find_metadata_int(file, path, "epochs_done", 0, kMaxEpochs))
    description += " after " + std::to_string(*epochs) + " epochs";
  return net;
}

}  // namespace

const char* to_string(Model model) {
  switch (model) {
    case Model::gpt:
      return "gpt";
    case Model::cnn:
      return "cnn";
    case Model::mlp:
      break;
  }
  return "mlp";
}

// The modular step takes the library's default (OptimizerOptions::lr), a step of that size in
// the modular norm; sgd and the Adams move by lr times their own update, whose scale differs,
// so they get a rate of that scale instead.
double default_lr(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::sgd:
      return 0.5;
    case Algorithm::adamw:
    case Algorithm::adaptive_adam:
      return 1e-3;
    case Algorithm::modular:
      break;
  }
  return OptimizerOptions{}.lr;
}

// The command line differs from the library here, on purpose: OptimizerOptions::nesterov is off
// (plain EMA momentum, the steepest descent as the theory writes it), while a training run
// follows Muon's recipe (Keller Jordan's Muon and optax.contrib.muon default to Nesterov) for
// the two rules that have a Nesterov form; the Adams have none (the Optimizer refuses it).
bool default_nesterov(Algorithm algorithm) {
  return algorithm == Algorithm::modular || algorithm == Algorithm::sgd;
}

void add_train_flags(CLI::App& cmd, TrainConfig& c) {
  cmd.add_option("--model", c.model,
                 "What to train: an MLP or a residual CNN on Fashion-MNIST, or a character-level "
                 "GPT on --text")
      ->transform(one_of({Model::mlp, Model::cnn, Model::gpt}))
      ->capture_default_str();
  cmd.add_option("--data", c.data, "mlp, cnn: directory with the Fashion-MNIST IDX files")
      ->capture_default_str();
  cmd.add_option("--conv-norm", c.conv_norm, "cnn: the norm of the convolutions (docs/theory.md)")
      ->transform(one_of({ConvNorm::per_tap, ConvNorm::flattened}))
      ->capture_default_str();
  cmd.add_option(
      "--width", c.shape.width,
      within("Hidden width of the MLP (default 512), the CNN's first stage (16) or the GPT's "
             "d_embed (128)",
             1, kMaxFeatures));
  cmd.add_option(
      "--depth", c.shape.depth,
      within("Linear layers of the MLP (default 3), the CNN's blocks per stage (1) or the GPT's "
             "blocks (4)",
             1, kMaxDepth));
  cmd.add_option("--optimizer", c.optimizer.algorithm, "The update rule")
      ->transform(
          one_of({Algorithm::modular, Algorithm::sgd, Algorithm::adamw, Algorithm::adaptive_adam}))
      ->capture_default_str();
  cmd.add_option("--lr", c.lr,
                 "Learning rate, finite and > 0 (default: " + show(default_lr(Algorithm::modular)) +
                     " for modular, " + show(default_lr(Algorithm::sgd)) + " for sgd, " +
                     show(default_lr(Algorithm::adamw)) + " for the Adams; the CNN's modular " +
                     show(kCnnModularLr) + ")");
  cmd.add_option("--epochs", c.epochs,
                 within("mlp, cnn: passes over the training set (default 5 for the MLP, 8 for the "
                        "CNN)",
                        1, kMaxEpochs));
  cmd.add_option(
      "--batch", c.batch,
      within("Mini-batch size (default 256 for the MLP, 128 for the CNN, 12 windows for the GPT)",
             1, kMaxBatch));
  cmd.add_option("--seed", c.seed, "Seed of the initialisation and the batch order")
      ->check(seed_range())
      ->capture_default_str();
  cmd.add_option("--limit", c.limit,
                 within("mlp, cnn: train on the first N examples only (0: all)", 0, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--text", c.text,
                 "gpt: a UTF-8 text file (the last 10% is validation; default: the KJV that "
                 "scripts/setup extracts)")
      ->capture_default_str();
  cmd.add_option("--heads", c.heads, within("gpt: attention heads", 1, kMaxFeatures))
      ->capture_default_str();
  cmd.add_option("--arch", c.arch,
                 "gpt: modula's GPT (no norms, scaled residuals) or the modern one (RMSNorm "
                 "before each block and the head, QK-norm, ReLU^2 MLP, zero-initialised "
                 "projections, untied head; docs/training.md)")
      ->transform(one_of({GptArch::modula, GptArch::modern}))
      ->capture_default_str();
  cmd.add_option("--soft-cap", c.soft_cap,
                 "gpt, --arch modern: logits become cap * tanh(logits / cap), cap a finite "
                 "number > 0 (default: no cap; modded-nanogpt uses 15)");
  cmd.add_option("--context", c.context, within("gpt: characters per window", 1, kMaxContext))
      ->capture_default_str();
  cmd.add_option("--steps", c.steps, within("gpt: training steps", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--eval-every", c.eval_every,
                 within("gpt: steps between validation losses (and checkpoints)", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--eval-tokens", c.eval_tokens,
                 within("gpt: validation characters scored (the first N)", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--beta", c.optimizer.beta, "Momentum (EMA) in [0, 1)")->capture_default_str();
  cmd.add_flag("--nesterov,!--no-nesterov", c.nesterov,
               "Nesterov momentum (default: on for modular and sgd)");
  cmd.add_option("--schedule", c.optimizer.schedule.kind, "Learning-rate schedule")
      ->transform(one_of({Schedule::constant, Schedule::linear_warmup, Schedule::cosine,
                          Schedule::linear_decay, Schedule::warmup_stable_decay}))
      ->capture_default_str();
  cmd.add_option("--warmup", c.optimizer.schedule.warmup_steps,
                 within("Warm-up steps", 0, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--orthogonalize", c.optimizer.orthogonalize.method,
                 "How spectral atoms compute U V^T")
      ->transform(one_of({OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express,
                          OrthogonalizeMethod::seed_tuned, OrthogonalizeMethod::modula,
                          OrthogonalizeMethod::cubic, OrthogonalizeMethod::svd}))
      ->capture_default_str();
  cmd.add_option("--correction", c.optimizer.correction.mode, "Dual norm correction")
      ->transform(one_of({CorrectionMode::off, CorrectionMode::per_layer, CorrectionMode::global}))
      ->capture_default_str();
  cmd.add_flag("--normuon", c.optimizer.normuon.enabled, "NorMuon row normalisation");
  cmd.add_option("--weight-decay-mode", c.optimizer.weight_decay.mode, "Weight decay")
      ->transform(one_of({WeightDecay::off, WeightDecay::decoupled, WeightDecay::cautious}))
      ->capture_default_str();
  cmd.add_option("--weight-decay", c.optimizer.weight_decay.coefficient,
                 "Weight decay coefficient, finite and >= 0")
      ->capture_default_str();
  cmd.add_option("--group", c.groups, kGroupHelp);
  cmd.add_flag("--hybrid", c.hybrid,
               "Same as --group '@embedding,@output,@vector:adamw': AdamW (lr 0.001) on the "
               "embedding, the output layer and every vector; the main flags on the rest");
  cmd.add_option("--device", c.device, "Where to train")
      ->transform(one_of({Device::cpu, Device::cuda}))
      ->capture_default_str();
  cmd.add_option("--log", c.log,
                 "CSV log: step, losses (mlp: accuracy; gpt: validation nats and bits per "
                 "character), lr, per-layer norms");
  cmd.add_option("--log-every", c.log_every, within("Steps between CSV rows", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_flag("--json", c.json, "Print the final metrics as one JSON object on stdout");
  cmd.add_option(
      "--save", c.save,
      "Checkpoint (safetensors) written after every epoch (mlp, cnn) or evaluation (gpt); "
      "its directory must exist");
  cmd.add_option("--resume", c.resume,
                 "Checkpoint to resume from (continues bit for bit; docs/checkpoints.md)");
}

std::string describe_device(Device device) {
  if (device != Device::cpu) return to_string(device);
  return std::string("cpu (GEMM ") + cpu_gemm() + " on " + cpu_gemm_kernels() + " kernels)";
}

int run_train(TrainConfig c) {
  validate(c);
  if (c.model == Model::cnn) use_cnn_defaults(c);
  c.optimizer.lr = c.lr.value_or(default_lr(c.optimizer.algorithm));
  c.optimizer.nesterov = c.nesterov.value_or(default_nesterov(c.optimizer.algorithm));
  with_groups(c.optimizer, c.groups, c.hybrid);  // refuses a bad --group before anything loads
  const Ranks ranks(c.device);
  ranks.check_same_flags(c.given, c.device);
  if (!ranks.writes()) c.json = false, c.log.clear();  // rank 0 alone prints and logs
  if (c.batch < ranks.group.size())
    throw Error("[train] --batch " + std::to_string(c.batch) + " is smaller than the " +
                std::to_string(ranks.group.size()) + " processes that share each batch");
  if (c.model == Model::gpt) return run_train_gpt(c, ranks);
  std::ostream& out = c.json ? std::cerr : std::cout;  // human-readable output
  Progress progress(c.json ? stderr : stdout);
  const Algorithm algorithm = c.optimizer.algorithm;

  // A checkpoint's metadata is checked before anything uses it.
  std::optional<SafetensorsFile> checkpoint;
  std::int64_t epochs_done = 0;
  if (!c.resume.empty()) {
    checkpoint = load_safetensors(c.resume);
    if (const auto it = checkpoint->metadata.find("model");
        it != checkpoint->metadata.end() && it->second != to_string(c.model))
      throw Error("[checkpoint] " + c.resume + ": a checkpoint of model '" + it->second +
                  "'; resume it with --model " + it->second);
    c.shape = checkpoint_shape(*checkpoint, c.resume);
    if (c.model == Model::cnn)
      c.conv_norm = checkpoint_cnn(*checkpoint, c.resume).conv_norm;
    else
      check_holds(*checkpoint, c.resume, parameter_count(c.shape), "MLP " + layer_sizes(c.shape));
    epochs_done = metadata_int(*checkpoint, c.resume, "epochs_done", 0, kMaxEpochs);
  }
  const FashionMnist data = load_fashion_mnist(c.data);
  Dataset train = data.train;
  if (c.limit > 0 && c.limit < train.size()) {
    std::vector<std::int64_t> ids(static_cast<std::size_t>(c.limit));
    for (std::int64_t k = 0; k < c.limit; ++k) ids[static_cast<std::size_t>(k)] = k;
    const Batch first = make_batch(train, ids);
    train.images = first.x;
    train.labels = first.y;
  }
  const std::int64_t inputs = train.rows * train.cols;
  if (checkpoint && c.shape.inputs != inputs)
    throw Error("[checkpoint] " + c.resume + ": the model takes " + std::to_string(c.shape.inputs) +
                " inputs, the data in " + c.data + " has " + std::to_string(inputs));
  c.shape.inputs = inputs;

  Generator gen(c.seed);
  const bool cnn = c.model == Model::cnn;
  Module net = cnn ? make_cnn(cnn_of(c, train.rows, train.cols)) : make_mlp(c.shape);
  const std::int64_t eval_chunk = cnn ? 250 : 2000;
  net.initialize(gen);
  BatchSampler sampler(train.size(), c.batch, gen);
  if (c.device != Device::cpu) net.to(c.device);
  c.optimizer.schedule.total_steps = c.epochs * sampler.batches_per_epoch();
  Optimizer opt(net, with_groups(c.optimizer, c.groups, c.hybrid), ranks.group);

  const int start_epoch = static_cast<int>(epochs_done);
  if (checkpoint) {
    naming_checkpoint(c.resume, [&] {
      load_weights(*checkpoint, net);
      opt.load_state(optimizer_entries(*checkpoint));
    });
    // The schedule and the batch order continue from the saved step only if it is where
    // epochs_done epochs of this run's batches end.
    const std::int64_t batches = sampler.batches_per_epoch();
    if (opt.steps() != epochs_done * batches)
      throw Error("[checkpoint] " + c.resume + ": the optimizer took " +
                  std::to_string(opt.steps()) + " steps, but epochs_done " +
                  std::to_string(epochs_done) + " x " + std::to_string(batches) +
                  " batches per epoch is " + std::to_string(epochs_done * batches) +
                  " (resume with the --batch and --limit the checkpoint was trained with)");
    if (start_epoch < c.epochs)
      for (int e = 0; e < start_epoch; ++e) sampler.next_epoch();  // the same batch order
    out << "resumed from " << c.resume << " after epoch " << start_epoch << "\n";
  }

  out << "modnorm train: "
      << (cnn ? describe(cnn_of(c, train.rows, train.cols)) : "MLP " + layer_sizes(c.shape)) << ", "
      << to_string(algorithm) << " lr " << show(c.optimizer.lr) << ", batch " << c.batch << ", "
      << c.epochs << " epochs, " << train.size() << " examples, " << describe_device(c.device)
      << "\n";

  const std::vector<Parameter> params = net.parameters();
  std::ofstream log;
  if (!c.log.empty())
    log = open_log(c.log, "step,epoch,loss,accuracy,lr", params, Ranks::log_header());

  double epoch_loss = 0;
  Evaluation test;
  for (int epoch = start_epoch; epoch < c.epochs; ++epoch) {
    const auto batches = sampler.next_epoch();
    epoch_loss = 0;
    std::int64_t correct = 0, seen = 0;
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const Batch b = make_batch(train, ranks.mine(batches[i]));  // this rank's share
      const double share = ranks.share_of_mean(b.y.size(), batches[i].size());
      const double lr = opt.lr();
      net.zero_grad();
      const Tensor logits = net.forward(b.x.to(c.device));
      const CrossEntropy ce = softmax_cross_entropy(logits, b.y);
      // The whole batch's mean loss and correct answers, on every rank.
      const std::vector<double> sums =
          ranks.sum({ce.loss * share, static_cast<double>(count_correct(logits, b.y))}, c.device);
      const double loss = sums[0];
      const auto right = static_cast<std::int64_t>(sums[1]);
      if (!std::isfinite(loss))
        throw Error("[train] the loss is " + show(loss) + " at step " +
                    std::to_string(opt.steps()) + "; try a smaller --lr (now " +
                    show(c.optimizer.lr) + ")");
      net.backward(scale(ce.grad, share), false);  // x is data: no dL/dx
      const distributed::Stats before = ranks.group.stats();
      opt.step();
      const distributed::Stats after = ranks.group.stats();
      epoch_loss += loss;
      correct += right;
      seen += static_cast<std::int64_t>(batches[i].size());
      if (log.is_open() && (opt.steps() % c.log_every == 0 || i + 1 == batches.size())) {
        log << opt.steps() << "," << epoch + 1 << "," << loss << ","
            << static_cast<double>(right) / static_cast<double>(batches[i].size()) << "," << lr;
        for (const Parameter& p : params) log << "," << norm(p.weight, p.norm);
        log << ranks.log_row(before, after) << "\n";
      }
      progress.update("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs),
                      static_cast<long>(i + 1), static_cast<long>(batches.size()),
                      "loss " + fixed(epoch_loss / static_cast<double>(i + 1), 4));
    }
    epoch_loss /= static_cast<double>(batches.size());
    test = evaluate(net, data.test, c.device, eval_chunk);
    progress.finish("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs) +
                    "  train loss " + fixed(epoch_loss, 4) + "  train acc " +
                    fixed(100.0 * static_cast<double>(correct) / static_cast<double>(seen), 2) +
                    "%  test loss " + fixed(test.loss, 4) + "  test acc " +
                    fixed(100 * test.accuracy, 2) + "%");
    if (!c.save.empty()) save_checkpoint(c.save, net, opt, c, epoch + 1, ranks.writes());
  }
  if (start_epoch >= c.epochs) test = evaluate(net, data.test, c.device, eval_chunk);

  ReportOptions report_options;
  report_options.updates = opt.last_updates();
  report_options.steps = opt.atom_steps();
  out << "test accuracy " << fixed(100 * test.accuracy, 2) << "%, test loss " << fixed(test.loss, 4)
      << ", " << fixed(progress.seconds(), 1) << " s\n\n"
      << report(net, report_options);
  if (c.json)
    std::cout << nlohmann::json{{"test_accuracy", test.accuracy},
                                {"test_loss", test.loss},
                                {"train_loss", epoch_loss},
                                {"epochs", c.epochs},
                                {"steps", opt.steps()},
                                {"seconds", progress.seconds()},
                                {"model", to_string(c.model)},
                                {"optimizer", to_string(algorithm)},
                                {"lr", c.optimizer.lr},
                                {"width", c.shape.width},
                                {"depth", c.shape.depth},
                                {"batch", c.batch},
                                {"seed", c.seed},
                                {"device", to_string(c.device)},
                                {"cpu_gemm", cpu_gemm()},
                                {"cpu_gemm_kernels", cpu_gemm_kernels()}}
                     .dump()
              << std::endl;
  return 0;
}

int run_inspect(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  const auto model = file.metadata.find("model");
  std::string description;
  Module net = model != file.metadata.end() && model->second == to_string(Model::gpt)
                   ? load_gpt(file, path, description)
                   : load_classifier(file, path, description);
  std::cout << path << ": " << description;
  if (const auto it = file.metadata.find("optimizer"); it != file.metadata.end())
    std::cout << " of " << it->second;
  std::cout << "\n" << net << "\n" << report(net);
  return 0;
}

}  // namespace modnorm::cli
