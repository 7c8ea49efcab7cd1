// `modnorm train` and `modnorm inspect` (issue 6): data, model, optimizer, progress, logs and
// safetensors checkpoints, all through the public API.
#include "cli/train.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/progress.hpp"

#include <nlohmann/json.hpp>

namespace modnorm::cli {
namespace {

template <typename Enum>
std::map<std::string, Enum> names_of(std::initializer_list<Enum> values) {
  std::map<std::string, Enum> out;
  for (Enum v : values) out[to_string(v)] = v;
  return out;
}

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

Evaluation evaluate(Module& net, const Dataset& data, Device device) {
  const std::int64_t chunk = 2000;
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

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

// Checkpoint layout (docs/checkpoints.md): weights under their parameter names, optimizer
// state under "optim.<name>", the run's shape and progress in __metadata__.
void save_checkpoint(const std::string& path, const Module& net, const Optimizer& opt,
                     const TrainConfig& c, int epochs_done) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
  for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
  save_safetensors(path, tensors,
                   {{"format", "pt"},
                    {"modnorm_version", version()},
                    {"model", "mlp"},
                    {"inputs", std::to_string(c.shape.inputs)},
                    {"width", std::to_string(c.shape.width)},
                    {"depth", std::to_string(c.shape.depth)},
                    {"classes", std::to_string(c.shape.classes)},
                    {"optimizer", to_string(c.optimizer.algorithm)},
                    {"seed", std::to_string(c.seed)},
                    {"batch", std::to_string(c.batch)},
                    {"epochs_done", std::to_string(epochs_done)}});
}

std::int64_t metadata_int(const SafetensorsFile& file, const std::string& path, const std::string& key) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    throw Error("[checkpoint] " + path + ": metadata has no '" + key + "' (not written by modnorm train?)");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw Error("[checkpoint] " + path + ": metadata '" + key + "' is '" + it->second + "', not an integer");
  }
}

MlpShape checkpoint_shape(const SafetensorsFile& file, const std::string& path) {
  MlpShape s;
  s.inputs = metadata_int(file, path, "inputs");
  s.width = metadata_int(file, path, "width");
  s.depth = static_cast<int>(metadata_int(file, path, "depth"));
  s.classes = metadata_int(file, path, "classes");
  return s;
}

// Copies the checkpoint's weights into the net (same names and shapes required).
void load_weights(const SafetensorsFile& file, const std::string& path, const Module& net) {
  for (const Parameter& p : net.parameters()) {
    const Tensor& saved = [&]() -> const Tensor& {
      try {
        return file.at(p.name);
      } catch (const Error& e) {
        throw Error("[checkpoint] " + path + ": " + e.what());
      }
    }();
    if (saved.shape() != p.weight.shape())
      throw Error("[checkpoint] " + path + ": '" + p.name + "' has shape " + to_string(saved.shape()) +
                  ", the model expects " + to_string(p.weight.shape()));
    Tensor w = p.weight;
    axpy(1.0, saved.to(w.dtype()).to(w.device()), w, 0.0);
  }
}

std::vector<std::pair<std::string, Tensor>> optimizer_entries(const SafetensorsFile& file) {
  std::vector<std::pair<std::string, Tensor>> out;
  const std::string prefix = "optim.";
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace

double default_lr(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::modular: return 0.1;
    case Algorithm::sgd: return 0.5;
    case Algorithm::adamw: return 1e-3;
    case Algorithm::adaptive_adam: return 1e-3;
  }
  return 0.1;
}

void add_train_flags(CLI::App& cmd, TrainConfig& c) {
  cmd.add_option("--data", c.data, "Directory with the Fashion-MNIST IDX files")->capture_default_str();
  cmd.add_option("--width", c.shape.width, "Hidden width of the MLP")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--depth", c.shape.depth, "Number of Linear layers")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--optimizer", c.optimizer.algorithm, "modular, sgd, adamw or adaptive_adam")
      ->transform(CLI::CheckedTransformer(names_of({Algorithm::modular, Algorithm::sgd, Algorithm::adamw, Algorithm::adaptive_adam})))
      ->capture_default_str();
  cmd.add_option("--lr", c.lr, "Learning rate (default: 0.1 for modular, 0.5 for sgd, 1e-3 for the Adams)");
  cmd.add_option("--epochs", c.epochs, "Passes over the training set")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--batch", c.batch, "Mini-batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_option("--seed", c.seed, "Seed of the initialisation and the batch order")->capture_default_str();
  cmd.add_option("--limit", c.limit, "Train on the first N examples only (0: all)")->capture_default_str();
  cmd.add_option("--beta", c.optimizer.beta, "Momentum (EMA) in [0, 1)")->capture_default_str();
  cmd.add_flag("--nesterov,!--no-nesterov", c.nesterov, "Nesterov momentum (default: on for modular and sgd)");
  cmd.add_option("--schedule", c.optimizer.schedule.kind, "constant, linear_warmup, cosine or linear_decay")
      ->transform(CLI::CheckedTransformer(names_of({Schedule::constant, Schedule::linear_warmup, Schedule::cosine, Schedule::linear_decay})))
      ->capture_default_str();
  cmd.add_option("--warmup", c.optimizer.schedule.warmup_steps, "Warm-up steps")->capture_default_str();
  cmd.add_option("--orthogonalize", c.optimizer.orthogonalize.method, "quintic, polar_express, seed_tuned, modula, cubic or svd")
      ->transform(CLI::CheckedTransformer(names_of({OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express,
                                                   OrthogonalizeMethod::seed_tuned, OrthogonalizeMethod::modula,
                                                   OrthogonalizeMethod::cubic, OrthogonalizeMethod::svd})))
      ->capture_default_str();
  cmd.add_option("--correction", c.optimizer.correction.mode, "Dual norm correction: off, per_layer or global")
      ->transform(CLI::CheckedTransformer(names_of({CorrectionMode::off, CorrectionMode::per_layer, CorrectionMode::global})))
      ->capture_default_str();
  cmd.add_flag("--normuon", c.optimizer.normuon.enabled, "NorMuon row normalisation");
  cmd.add_option("--weight-decay-mode", c.optimizer.weight_decay.mode, "off, decoupled or cautious")
      ->transform(CLI::CheckedTransformer(names_of({WeightDecay::off, WeightDecay::decoupled, WeightDecay::cautious})))
      ->capture_default_str();
  cmd.add_option("--weight-decay", c.optimizer.weight_decay.coefficient, "Weight decay coefficient")->capture_default_str();
  cmd.add_option("--device", c.device, "cpu or cuda")
      ->transform(CLI::CheckedTransformer(std::map<std::string, Device>{{"cpu", Device::cpu}, {"cuda", Device::cuda}}))
      ->capture_default_str();
  cmd.add_option("--log", c.log, "CSV log: step, epoch, loss, accuracy, lr, per-layer norms");
  cmd.add_option("--log-every", c.log_every, "Steps between CSV rows")->capture_default_str()->check(CLI::PositiveNumber);
  cmd.add_flag("--json", c.json, "Print the final metrics as one JSON object on stdout");
  cmd.add_option("--save", c.save, "Checkpoint (safetensors) written after every epoch");
  cmd.add_option("--resume", c.resume, "Checkpoint to resume from (continues bit for bit)");
}

int run_train(TrainConfig c) {
  std::ostream& out = c.json ? std::cerr : std::cout;  // human-readable output
  Progress progress(c.json ? stderr : stdout);
  const Algorithm algorithm = c.optimizer.algorithm;
  c.optimizer.lr = c.lr.value_or(default_lr(algorithm));
  c.optimizer.nesterov = c.nesterov.value_or(algorithm == Algorithm::modular || algorithm == Algorithm::sgd);

  std::optional<SafetensorsFile> checkpoint;
  if (!c.resume.empty()) {
    checkpoint = load_safetensors(c.resume);
    c.shape = checkpoint_shape(*checkpoint, c.resume);
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
  c.shape.inputs = train.rows * train.cols;

  Generator gen(c.seed);
  Module net = make_mlp(c.shape);
  net.initialize(gen);
  BatchSampler sampler(train.size(), c.batch, gen);
  if (c.device != Device::cpu) net.to(c.device);
  c.optimizer.schedule.total_steps = c.epochs * sampler.batches_per_epoch();
  Optimizer opt(net, c.optimizer);

  int start_epoch = 0;
  if (checkpoint) {
    load_weights(*checkpoint, c.resume, net);
    opt.load_state(optimizer_entries(*checkpoint));
    start_epoch = static_cast<int>(metadata_int(*checkpoint, c.resume, "epochs_done"));
    for (int e = 0; e < start_epoch; ++e) sampler.next_epoch();  // the same batch order
    out << "resumed from " << c.resume << " after epoch " << start_epoch << "\n";
  }

  out << "modnorm train: MLP " << c.shape.inputs;
  for (int k = 1; k < c.shape.depth; ++k) out << "-" << c.shape.width;
  out << "-" << c.shape.classes << ", " << to_string(c.optimizer.algorithm) << " lr " << c.optimizer.lr
      << ", batch " << c.batch << ", " << c.epochs << " epochs, " << train.size() << " examples, "
      << to_string(c.device) << "\n";

  std::ofstream log;
  const std::vector<Parameter> params = net.parameters();
  if (!c.log.empty()) {
    log.open(c.log, std::ios::app);
    if (!log) throw Error("[train] cannot open the log file " + c.log);
    if (log.tellp() == 0) {
      log << "step,epoch,loss,accuracy,lr";
      for (const Parameter& p : params) log << "," << p.name << "_norm";
      log << "\n";
    }
  }

  double epoch_loss = 0;
  Evaluation test;
  for (int epoch = start_epoch; epoch < c.epochs; ++epoch) {
    const auto batches = sampler.next_epoch();
    epoch_loss = 0;
    std::int64_t correct = 0, seen = 0;
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const Batch b = make_batch(train, batches[i]);
      const double lr = opt.lr();
      net.zero_grad();
      const Tensor logits = net.forward(b.x.to(c.device));
      const CrossEntropy ce = softmax_cross_entropy(logits, b.y);
      if (!std::isfinite(ce.loss))
        throw Error("[train] the loss is " + std::to_string(ce.loss) + " at step " + std::to_string(opt.steps()) +
                    "; try a smaller --lr (now " + std::to_string(c.optimizer.lr) + ")");
      net.backward(ce.grad, false);  // x is data: no dL/dx
      opt.step();
      const std::int64_t right = count_correct(logits, b.y);
      epoch_loss += ce.loss;
      correct += right;
      seen += static_cast<std::int64_t>(b.y.size());
      if (log.is_open() && (opt.steps() % c.log_every == 0 || i + 1 == batches.size())) {
        log << opt.steps() << "," << epoch + 1 << "," << ce.loss << ","
            << static_cast<double>(right) / static_cast<double>(b.y.size()) << "," << lr;
        for (const Parameter& p : params) log << "," << norm(p.weight, p.norm);
        log << "\n";
      }
      progress.update("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs),
                      static_cast<long>(i + 1), static_cast<long>(batches.size()),
                      "loss " + fixed(epoch_loss / static_cast<double>(i + 1), 4));
    }
    epoch_loss /= static_cast<double>(batches.size());
    test = evaluate(net, data.test, c.device);
    progress.finish("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(c.epochs) + "  train loss " +
                    fixed(epoch_loss, 4) + "  train acc " +
                    fixed(100.0 * static_cast<double>(correct) / static_cast<double>(seen), 2) +
                    "%  test loss " + fixed(test.loss, 4) + "  test acc " + fixed(100 * test.accuracy, 2) + "%");
    if (!c.save.empty()) save_checkpoint(c.save, net, opt, c, epoch + 1);
  }
  if (start_epoch >= c.epochs) test = evaluate(net, data.test, c.device);

  ReportOptions report_options;
  report_options.updates = opt.last_updates();
  out << "test accuracy " << fixed(100 * test.accuracy, 2) << "%, test loss " << fixed(test.loss, 4)
      << ", " << fixed(progress.seconds(), 1) << " s\n\n"
      << report(net, report_options);
  if (c.json)
    std::cout << nlohmann::json{{"test_accuracy", test.accuracy}, {"test_loss", test.loss},
                                {"train_loss", epoch_loss},      {"epochs", c.epochs},
                                {"steps", opt.steps()},          {"seconds", progress.seconds()},
                                {"optimizer", to_string(c.optimizer.algorithm)},
                                {"lr", c.optimizer.lr},          {"width", c.shape.width},
                                {"depth", c.shape.depth},        {"batch", c.batch},
                                {"seed", c.seed},                {"device", to_string(c.device)}}
                     .dump()
              << std::endl;
  return 0;
}

int run_inspect(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  Module net = make_mlp(checkpoint_shape(file, path));
  load_weights(file, path, net);
  std::cout << path << ": MLP after " << file.metadata.at("epochs_done") << " epochs of "
            << file.metadata.at("optimizer") << "\n" << net << "\n" << report(net);
  return 0;
}

}  // namespace modnorm::cli
