// The one training loop of `modnorm train <model>` (trainer.hpp).
#include "cli/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>

#include "cli/checks.hpp"
#include "cli/groups.hpp"

namespace modnorm::cli {
namespace {

// The shared flags against their limits, and the output paths, before anything is loaded.
// (The optimizer's own rules, beta, weight decay, the schedule, are the Optimizer's to check.)
void check_flags(const TrainFlags& c) {
  check_range("[train] --batch", c.batch, 1, kMaxBatch);
  check_range("[train] --log-every", c.log_every, 1, kMaxCount);
  check_range("[train] --warmup", c.optimizer.schedule.warmup_steps, 0, kMaxCount);
  if (c.lr) check_positive("[train] --lr", *c.lr);
  if (!c.save.empty()) check_writable("train", "--save", c.save);
  if (!c.log.empty()) check_writable("train", "--log", c.log);
}

// The flags given on `command` and their values as typed ("--width" -> "64"), and the model.
std::map<std::string, std::string> typed_flags(const CLI::App& command, const Task& task) {
  std::map<std::string, std::string> typed{{"train", task.name()}};
  for (const CLI::Option* option : command.get_options())
    if (option->count() > 0) {
      std::string value;
      for (const std::string& result : option->results())
        value += (value.empty() ? "" : " ") + result;
      typed[option->get_name()] = value;
    }
  return typed;
}

// Checkpoint layout (docs/checkpoints.md): weights under their parameter names, optimizer
// state under "optim.<name>", the run and the model (the task's metadata) in __metadata__.
// Every rank gathers the state (a collective); only the one that `writes` writes the file.
void save_checkpoint(const Task& task, const Module& net, const Optimizer& opt, bool writes) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
  for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
  if (!writes) return;
  std::map<std::string, std::string> metadata = task.metadata(opt.steps());
  metadata.insert({{"format", "pt"},
                   {"modnorm_version", version()},
                   {"model", task.name()},
                   {"optimizer", to_string(task.flags.optimizer.algorithm)},
                   {"seed", std::to_string(task.flags.seed)},
                   {"batch", std::to_string(task.flags.batch)}});
  save_safetensors(task.flags.save, tensors, metadata);
}

// A checkpoint's metadata 'model' (absent: an MLP's, as the first checkpoints wrote none).
void check_model(const SafetensorsFile& file, const std::string& path, const Task& task) {
  const auto it = file.metadata.find("model");
  const std::string model = it == file.metadata.end() ? "mlp" : it->second;
  if (model != task.name())
    throw Error("[checkpoint] " + path + ": a checkpoint of model '" + model +
                "'; resume it with modnorm train " + model);
}

// The task whose subcommand `train` ran, and that subcommand (the first task and `train`
// itself when none ran).
std::pair<Task*, const CLI::App*> chosen(const CLI::App& train, const std::vector<Task*>& tasks) {
  for (Task* task : tasks)
    if (const CLI::App* command = train.get_subcommand(task->name()); command->parsed())
      return {task, command};
  return {tasks.front(), &train};
}

// The tasks' names, "mlp|cnn|gpt".
std::string models(const std::vector<Task*>& tasks) {
  std::string names;
  for (const Task* task : tasks) names += (names.empty() ? "" : "|") + std::string(task->name());
  return names;
}

}  // namespace

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

std::string describe_device(Device device) {
  if (device != Device::cpu) return to_string(device);
  return std::string("cpu (GEMM ") + cpu_gemm() + " on " + cpu_gemm_kernels() + " kernels)";
}

void Task::add_flags(CLI::App& cmd) {
  TrainFlags& c = flags;
  add_model_flags(cmd);
  cmd.add_option("--optimizer", c.optimizer.algorithm, "The update rule")
      ->transform(
          one_of({Algorithm::modular, Algorithm::sgd, Algorithm::adamw, Algorithm::adaptive_adam}))
      ->capture_default_str();
  cmd.add_option("--lr", c.lr,
                 "Learning rate, finite and > 0 (default: " + show(default_lr(Algorithm::modular)) +
                     " for modular, " + show(default_lr(Algorithm::sgd)) + " for sgd, " +
                     show(default_lr(Algorithm::adamw)) + " for the Adams)");
  cmd.add_option("--batch", c.batch, within("Mini-batch size", 1, kMaxBatch))
      ->capture_default_str();
  cmd.add_option("--seed", c.seed, "Seed of the initialisation and the batch order")
      ->check(seed_range())
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
                 "CSV log: step," + log_columns() + ", then <parameter>_norm per layer");
  cmd.add_option("--log-every", c.log_every, within("Steps between CSV rows", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_flag("--json", c.json, "Print the final metrics as one JSON object on stdout");
  cmd.add_option("--save", c.save,
                 "Checkpoint (safetensors) written at every evaluation; its directory must exist");
  cmd.add_option("--resume", c.resume,
                 "Checkpoint to resume from (continues bit for bit; docs/checkpoints.md)");
}

CLI::App& add_train_command(CLI::App& app, const std::vector<Task*>& tasks) {
  const std::string models = cli::models(tasks);
  CLI::App& train =
      *app.add_subcommand("train", "Train a model (" + models + "; the " + tasks.front()->name() +
                                       " without one) and print its per-layer norms");
  train.require_subcommand(0, 1);
  tasks.front()->add_flags(train);
  for (Task* task : tasks) task->add_flags(*train.add_subcommand(task->name(), task->about()));
  train.footer("The model is a subcommand: modnorm train " + models +
               " [FLAGS]; `modnorm train <model> --help` lists its flags. Without a model, "
               "train is `modnorm train " +
               tasks.front()->name() + "` and takes the flags above (docs/training.md).");
  return train;
}

int run_train(const CLI::App& train, const std::vector<Task*>& tasks) {
  const auto [task, command] = chosen(train, tasks);
  if (command != &train)
    for (const CLI::Option* option : train.get_options())
      if (option->count() > 0)
        throw Error("[train] " + option->get_name() + " comes before the model: write it after, " +
                    "modnorm train " + task->name() + " " + option->get_name() + " ...");
  return cli::train(*task, typed_flags(*command, *task));
}

std::string explain_extras(const CLI::App& train, const std::vector<Task*>& tasks,
                           const CLI::ExtrasError& error) {
  const CLI::App* command = error.get_name() == train.get_name() ? &train : nullptr;
  const Task* task = tasks.front();
  for (const Task* t : tasks)
    if (error.get_name() == t->name()) {
      task = t;
      command = train.get_subcommand(t->name());
    }
  if (command == nullptr) return "";
  const std::string at =
      command == &train ? "[train]" : "[train " + std::string(task->name()) + "]";
  const std::string command_line =
      command == &train ? "modnorm train" : "modnorm train " + std::string(task->name());
  const std::vector<std::string> args = command->remaining();
  const auto arg = std::find_if(args.begin(), args.end(),
                                [](const std::string& a) { return a.rfind('-', 0) == 0; });
  if (arg == args.end()) return at + " " + error.what();
  const std::string flag = arg->substr(0, arg->find('='));
  if (flag == "--model") {
    // `train --model gpt`: CLI11 took "gpt" for the subcommand; `--model=gpt` keeps it.
    const auto [model, model_command] = chosen(train, tasks);
    const std::string name = model_command != &train ? model->name()
                             : flag != *arg          ? arg->substr(flag.size() + 1)
                                                     : models(tasks);
    return "[train] --model is gone: the model is a subcommand now, write modnorm train " + name +
           " [flags] (docs/training.md)";
  }
  std::string owners;
  for (const Task* t : tasks)
    if (t != task && train.get_subcommand(t->name())->get_option_no_throw(flag) != nullptr)
      owners += (owners.empty() ? "" : ", ") + std::string("modnorm train ") + t->name();
  return at + " " + flag + " is not a flag of the " + task->name() + " model" +
         (command == &train ? " (modnorm train without a model)" : "") +
         (owners.empty() ? "; " + command_line + " --help lists them" : "; it is one of " + owners);
}

int train(Task& task, const std::map<std::string, std::string>& typed) {
  TrainFlags& c = task.flags;
  check_flags(c);
  task.check_flags();
  c.optimizer.lr = c.lr.value_or(task.default_lr(c.optimizer.algorithm));
  c.optimizer.nesterov = c.nesterov.value_or(default_nesterov(c.optimizer.algorithm));
  with_groups(c.optimizer, c.groups, c.hybrid);  // refuses a bad --group before anything loads
  const Ranks ranks(c.device);
  ranks.check_same_flags(typed, c.device);
  if (!ranks.writes()) c.json = false, c.log.clear();  // rank 0 alone prints and logs
  if (c.batch < ranks.group.size())
    throw Error("[train] --batch " + std::to_string(c.batch) + " is smaller than the " +
                std::to_string(ranks.group.size()) + " processes that share each batch");
  std::ostream& out = c.json ? std::cerr : std::cout;  // human-readable output
  Progress progress(c.json ? stderr : stdout);

  // A checkpoint's metadata is checked before anything uses it.
  std::optional<SafetensorsFile> checkpoint;
  if (!c.resume.empty()) {
    checkpoint = load_safetensors(c.resume);
    check_model(*checkpoint, c.resume, task);
  }
  Module net = task.load(checkpoint ? &*checkpoint : nullptr, ranks);
  Generator gen(c.seed);
  net.initialize(gen);
  task.seed_batches(gen);
  if (c.device != Device::cpu) net.to(c.device);
  c.optimizer.schedule.total_steps = task.steps();
  Optimizer opt(net, with_groups(c.optimizer, c.groups, c.hybrid), ranks.group);
  if (checkpoint) {
    naming_checkpoint(c.resume, [&] {
      load_weights(*checkpoint, net);
      opt.load_state(optimizer_entries(*checkpoint));
    });
    task.check_resumed(opt.steps());
    out << "resumed from " << c.resume << " after " << task.position(opt.steps()) << "\n";
  }

  out << "modnorm train: " << task.describe() << ", " << to_string(c.optimizer.algorithm) << " lr "
      << show(c.optimizer.lr) << ", batch " << c.batch << ", " << task.describe_data() << ", "
      << describe_device(c.device) << "\n";

  const std::vector<Parameter> params = net.parameters();
  std::ofstream log;
  if (!c.log.empty())
    log = open_log(c.log, "step," + task.log_columns(), params, Ranks::log_header());

  const std::int64_t start = opt.steps(), steps = task.steps();
  for (std::int64_t step = start; step < steps; ++step) {
    const double lr = opt.lr();
    net.zero_grad();
    const StepLoss mine = task.forward(net, step, ranks);
    const double share = ranks.share_of_mean(mine.mine, mine.batch);
    // The whole batch's mean loss and the task's counts, on every rank.
    std::vector<double> sums{mine.loss.loss * share};
    sums.insert(sums.end(), mine.counts.begin(), mine.counts.end());
    sums = ranks.sum(sums, c.device);
    if (!std::isfinite(sums[0]))
      throw Error("[train] the loss is " + show(sums[0]) + " at step " + std::to_string(step) +
                  "; try a smaller --lr (now " + show(c.optimizer.lr) + ")");
    net.backward(scale(mine.loss.grad, share), false);  // the inputs are data: no dL/dx
    const distributed::Stats before = ranks.group.stats();
    opt.step();
    const distributed::Stats after = ranks.group.stats();
    const StepDone done{step + 1, step + 1 - start, sums[0],
                        std::vector<double>(sums.begin() + 1, sums.end()), lr};
    task.record(done, progress);
    const bool evaluate = done.done % task.eval_every() == 0 || done.done == steps;
    if (evaluate) {
      task.evaluate(net);
      progress.finish(task.finish_period(done.done));
      if (!c.save.empty()) save_checkpoint(task, net, opt, ranks.writes());
    }
    if (log.is_open() && (done.done % c.log_every == 0 || evaluate)) {
      log << done.done << ",";
      task.log_row(log, done, evaluate, progress.seconds());
      for (const Parameter& p : params) log << "," << norm(p.weight, p.norm);
      log << ranks.log_row(before, after) << "\n";
    }
  }
  if (start >= steps) task.evaluate(net);

  ReportOptions report_options;
  report_options.updates = opt.last_updates();
  report_options.steps = opt.atom_steps();
  const double seconds = progress.seconds();
  out << task.summary() << ", " << fixed(seconds, 1) << " s\n\n" << report(net, report_options);
  if (c.json) {
    nlohmann::json results{
        {"model", task.name()},   {"steps", opt.steps()},
        {"seconds", seconds},     {"optimizer", to_string(c.optimizer.algorithm)},
        {"lr", c.optimizer.lr},   {"batch", c.batch},
        {"seed", c.seed},         {"device", to_string(c.device)},
        {"cpu_gemm", cpu_gemm()}, {"cpu_gemm_kernels", cpu_gemm_kernels()}};
    task.add_results(results, seconds, std::max<std::int64_t>(opt.steps() - start, 0));
    std::cout << results.dump() << std::endl;
  }
  return 0;
}

}  // namespace modnorm::cli
