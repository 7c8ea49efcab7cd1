// `modnorm train --model gpt`, `modnorm sample` and `inspect` of a GPT checkpoint (lm.hpp).
#include "cli/lm.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "cli/checks.hpp"
#include "cli/gpt.hpp"
#include "cli/groups.hpp"
#include "cli/progress.hpp"

namespace modnorm::cli {
namespace {

const double kLn2 = std::log(2.0);
constexpr std::int64_t kEvalWindows = 32;  // windows per forward pass of the evaluation

// The GPT of a run: the flags given, the GPT's defaults (gpt.hpp) for the others.
GptShape shape_of(const TrainConfig& c, std::int64_t vocab) {
  GptShape s;
  s.vocab = vocab;
  if (c.given.count("--width")) s.width = c.shape.width;
  if (c.given.count("--depth")) s.depth = c.shape.depth;
  s.heads = c.heads;
  s.context = c.context;
  s.arch = c.arch;
  s.soft_cap = c.soft_cap;
  return s;
}

// The flags that choose the architecture, checked before anything is loaded: --soft-cap a
// finite number > 0, and only for the modern GPT.
void check_arch_flags(const TrainConfig& c) {
  if (!c.given.count("--soft-cap")) return;
  check_positive("[train] --soft-cap", c.soft_cap);
  if (c.arch != GptArch::modern)
    throw Error("[train] --soft-cap applies to --arch modern, not to --arch " +
                std::string(to_string(c.arch)));
}

// A soft cap as metadata text that reads back to the same double.
std::string exact_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

// The architecture of a checkpoint: metadata 'arch' (absent: modula's GPT, as every checkpoint
// written before the modern GPT) and, for the modern one, 'soft_cap' when it has one.
void read_arch(const SafetensorsFile& file, const std::string& path, GptShape& s) {
  const auto arch = file.metadata.find("arch");
  if (arch != file.metadata.end() && arch->second != "modula" && arch->second != "modern")
    throw Error("[checkpoint] " + path + ": metadata 'arch' is '" + arch->second +
                "', not one of modula, modern");
  s.arch =
      arch != file.metadata.end() && arch->second == "modern" ? GptArch::modern : GptArch::modula;
  const auto cap = file.metadata.find("soft_cap");
  if (cap == file.metadata.end()) return;
  const std::string what = "[checkpoint] " + path + ": metadata 'soft_cap' '" + cap->second + "'";
  if (s.arch != GptArch::modern) throw Error(what + " belongs to no modula GPT");
  char* end = nullptr;
  s.soft_cap = std::strtod(cap->second.c_str(), &end);
  if (cap->second.empty() || *end != '\0' || !(s.soft_cap > 0.0) || !std::isfinite(s.soft_cap))
    throw Error(what + " is not a finite number > 0");
}

// The shape a checkpoint was trained with, within the command line's limits, and no larger than
// the weights the file holds (so that a few bytes claiming a large model allocate nothing).
GptShape checkpoint_gpt(const SafetensorsFile& file, const std::string& path) {
  GptShape s;
  s.vocab = metadata_int(file, path, "vocab", 1, kMaxVocabulary);
  s.width = metadata_int(file, path, "width", 1, kMaxFeatures);
  s.depth = static_cast<int>(metadata_int(file, path, "depth", 1, kMaxDepth));
  s.heads = metadata_int(file, path, "heads", 1, kMaxFeatures);
  s.context = metadata_int(file, path, "context", 1, kMaxContext);
  read_arch(file, path, s);
  naming_checkpoint(path, [&] { check_size(s); });
  check_holds(file, path, parameter_count(s), describe(s));
  return s;
}

Vocabulary checkpoint_vocabulary(const SafetensorsFile& file, const std::string& path,
                                 std::int64_t vocab) {
  const std::string what = "[checkpoint] " + path + ": metadata 'vocabulary'";
  std::optional<Vocabulary> v;
  naming_checkpoint(path,
                    [&] { v.emplace(decode_utf8(metadata_text(file, path, "vocabulary"), what)); });
  if (v->size() != vocab)
    throw Error(what + " has " + std::to_string(v->size()) + " characters, metadata 'vocab' says " +
                std::to_string(vocab));
  return *v;
}

void require_gpt(const SafetensorsFile& file, const std::string& path) {
  const auto it = file.metadata.find("model");
  if (it == file.metadata.end() || it->second != "gpt")
    throw Error("[checkpoint] " + path + ": not a GPT checkpoint (metadata 'model' is '" +
                (it == file.metadata.end() ? std::string() : it->second) +
                "'; write one with modnorm train --model gpt --save)");
}

// Mean cross-entropy (nats per character) of the next character over the first `tokens`
// positions of `ids`, in consecutive windows of the context: the same positions at every call.
double validation_loss(Module& net, const std::vector<std::int32_t>& ids, const GptShape& s,
                       std::int64_t tokens, Device device) {
  std::vector<std::int64_t> offsets;
  for (std::int64_t o = 0; o + s.context + 1 <= static_cast<std::int64_t>(ids.size()) &&
                           static_cast<std::int64_t>(offsets.size()) * s.context < tokens;
       o += s.context)
    offsets.push_back(o);
  double sum = 0;
  for (std::size_t begin = 0; begin < offsets.size(); begin += kEvalWindows) {
    const std::vector<std::int64_t> chunk(
        offsets.begin() + static_cast<std::ptrdiff_t>(begin),
        offsets.begin() +
            static_cast<std::ptrdiff_t>(std::min(offsets.size(), begin + kEvalWindows)));
    const TokenBatch b = window_batch(ids, chunk, s.context);
    const auto n = static_cast<std::int64_t>(b.targets.size());
    const Tensor logits = net.forward(b.inputs.to(device));
    sum += softmax_cross_entropy(logits.reshape({n, s.vocab}), b.targets).loss *
           static_cast<double>(n);
  }
  return sum / static_cast<double>(static_cast<std::int64_t>(offsets.size()) * s.context);
}

// The seed of step `step`'s batch order: each step draws its windows from a Generator of its
// own, seeded from the run's seed and the step (as JAX's fold_in), so that a resumed run starts
// at any step at once instead of replaying the draws of the steps done. MurmurHash3's 64-bit
// finaliser mixes; it is a bijection, so distinct steps get distinct seeds.
std::uint64_t step_seed(std::uint64_t seed, std::int64_t step) {
  const auto mix = [](std::uint64_t h) {
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDull;
    h = (h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
  };
  return mix(mix(seed) + static_cast<std::uint64_t>(step));
}

// Refuses a step that cannot fit in this machine's memory, before anything of it is allocated:
// a lower bound of one rank's step, its windows' ids and targets, the logits and their gradient
// (vocab per position) and each block's attention scores (heads x context^2 per window), in
// doubles so that no product of the flags overflows.
void check_step_memory(const TrainConfig& c, const GptShape& s, const Ranks& ranks) {
  const auto windows = std::ceil(static_cast<double>(c.batch) / ranks.group.size());
  const auto positions = windows * static_cast<double>(s.context);
  const double bytes = positions * (4 + 8) + 2.0 * 4 * positions * static_cast<double>(s.vocab) +
                       4.0 * s.depth * positions * static_cast<double>(s.heads * s.context);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                        static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  constexpr double kGiB = 1 << 30;
  if (bytes > memory)
    throw Error("[train] --batch " + std::to_string(c.batch) + " x --context " +
                std::to_string(s.context) + ": one step needs at least " + show(bytes / kGiB) +
                " GiB per process (window ids, logits over " + std::to_string(s.vocab) +
                " characters, attention scores of " + std::to_string(s.heads) + " heads in " +
                std::to_string(s.depth) + " blocks), more than this machine's " +
                show(memory / kGiB) + " GiB; lower --batch or --context");
}

// Checkpoint layout (docs/checkpoints.md): weights, "optim.<name>" state, and in __metadata__
// the model, its sizes, the vocabulary (UTF-8, in id order) and the steps done.
// Every rank gathers the state (a collective); only the one that `writes` writes the file.
void save_gpt(const std::string& path, const Module& net, const Optimizer& opt,
              const TrainConfig& c, const GptShape& s, const Vocabulary& vocabulary, bool writes) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const Parameter& p : net.parameters()) tensors.emplace_back(p.name, p.weight);
  for (const auto& [name, t] : opt.state()) tensors.emplace_back("optim." + name, t);
  if (!writes) return;
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"modnorm_version", version()},
                                              {"model", "gpt"},
                                              {"vocab", std::to_string(s.vocab)},
                                              {"vocabulary", encode_utf8(vocabulary.characters())},
                                              {"width", std::to_string(s.width)},
                                              {"depth", std::to_string(s.depth)},
                                              {"heads", std::to_string(s.heads)},
                                              {"context", std::to_string(s.context)},
                                              {"optimizer", to_string(c.optimizer.algorithm)},
                                              {"seed", std::to_string(c.seed)},
                                              {"batch", std::to_string(c.batch)},
                                              {"steps_done", std::to_string(opt.steps())}};
  if (s.arch == GptArch::modern) {  // modula's checkpoints stay as they were
    metadata["arch"] = to_string(s.arch);
    if (s.soft_cap > 0.0) metadata["soft_cap"] = exact_text(s.soft_cap);
  }
  save_safetensors(path, tensors, metadata);
}

}  // namespace

int run_train_gpt(TrainConfig c, const Ranks& ranks) {
  if (!c.given.count("--batch")) c.batch = 12;  // modula's hello-gpt
  check_range("[train] --heads", c.heads, 1, kMaxFeatures);
  check_range("[train] --context", c.context, 1, kMaxContext);
  check_range("[train] --steps", c.steps, 1, kMaxCount);
  check_range("[train] --eval-every", c.eval_every, 1, kMaxCount);
  check_range("[train] --eval-tokens", c.eval_tokens, 1, kMaxCount);
  check_arch_flags(c);
  std::ostream& out = c.json ? std::cerr : std::cout;
  Progress progress(c.json ? stderr : stdout);

  std::optional<SafetensorsFile> checkpoint;
  std::int64_t steps_done = 0;
  GptShape s;
  if (!c.resume.empty()) {
    checkpoint = load_safetensors(c.resume);
    require_gpt(*checkpoint, c.resume);
    s = checkpoint_gpt(*checkpoint, c.resume);
    steps_done = metadata_int(*checkpoint, c.resume, "steps_done", 0, kMaxCount);
    if ((c.given.count("--arch") && c.arch != s.arch) ||
        (c.given.count("--soft-cap") && c.soft_cap != s.soft_cap))
      throw Error("[checkpoint] " + c.resume + ": holds a " + describe(s) +
                  "; resume it without --arch and --soft-cap, or with the ones it was trained "
                  "with");
    for (const auto& [key, value] : {std::pair<std::string, std::int64_t>{"batch", c.batch},
                                     {"seed", static_cast<std::int64_t>(c.seed)}})
      if (metadata_int(*checkpoint, c.resume, key, 0, INT64_MAX) != value)
        throw Error("[checkpoint] " + c.resume + ": trained with --" + key + " " +
                    checkpoint->metadata.at(key) + ", this run has " + std::to_string(value) +
                    " (the batch order depends on both)");
  }
  const TextCorpus corpus = load_text(c.text);
  if (checkpoint) {
    const Vocabulary saved = checkpoint_vocabulary(*checkpoint, c.resume, s.vocab);
    if (saved.characters() != corpus.vocabulary.characters())
      throw Error("[checkpoint] " + c.resume + ": its vocabulary of " +
                  std::to_string(saved.size()) + " characters is not that of " + c.text + " (" +
                  std::to_string(corpus.vocabulary.size()) +
                  "); resume with the --text it was trained on");
  } else {
    if (corpus.vocabulary.size() > kMaxVocabulary)
      throw Error("[train] --text " + c.text + ": its training part has " +
                  std::to_string(corpus.vocabulary.size()) + " distinct characters, more than " +
                  std::to_string(kMaxVocabulary) + " (the most a checkpoint holds)");
    s = shape_of(c, corpus.vocabulary.size());
    check_size(s);
  }
  if (static_cast<std::int64_t>(corpus.train.size()) <= s.context ||
      static_cast<std::int64_t>(corpus.validation.size()) <= s.context)
    throw Error("[train] " + c.text + ": its training part (" +
                std::to_string(corpus.train.size()) + " characters) and validation part (" +
                std::to_string(corpus.validation.size()) + ") must each be longer than --context " +
                std::to_string(s.context));
  check_step_memory(c, s, ranks);

  Generator gen(c.seed);
  Module net = make_gpt(s);
  net.initialize(gen);
  if (c.device != Device::cpu) net.to(c.device);
  c.optimizer.schedule.total_steps = c.steps;
  Optimizer opt(net, with_groups(c.optimizer, c.groups, c.hybrid), ranks.group);
  const auto n_train = static_cast<std::int64_t>(corpus.train.size());
  if (checkpoint) {
    naming_checkpoint(c.resume, [&] {
      load_weights(*checkpoint, net);
      opt.load_state(optimizer_entries(*checkpoint));
    });
    if (opt.steps() != steps_done)
      throw Error("[checkpoint] " + c.resume + ": the optimizer took " +
                  std::to_string(opt.steps()) + " steps, metadata 'steps_done' says " +
                  std::to_string(steps_done));
    out << "resumed from " << c.resume << " after step " << steps_done << "\n";
  }

  out << "modnorm train: " << describe(s) << ", " << to_string(c.optimizer.algorithm) << " lr "
      << show(c.optimizer.lr) << ", batch " << c.batch << ", " << c.steps << " steps, " << c.text
      << " (" << n_train << " training characters), " << describe_device(c.device) << "\n";

  const std::vector<Parameter> params = net.parameters();
  std::ofstream log;
  if (!c.log.empty())
    log = open_log(c.log, "step,tokens,train_loss,val_loss,val_bits_per_char,lr,seconds", params,
                   Ranks::log_header());

  const std::int64_t tokens_per_step = c.batch * s.context;
  double train_sum = 0, train_loss = NAN, val_loss = NAN;
  std::int64_t train_count = 0;
  for (std::int64_t step = steps_done; step < c.steps; ++step) {
    Generator order(step_seed(c.seed, step));
    const std::vector<std::int64_t> offsets = random_offsets(n_train, c.batch, s.context, order);
    const std::vector<std::int64_t> mine = ranks.mine(offsets);  // this rank's share
    const auto rows = static_cast<std::int64_t>(mine.size());
    const double share = ranks.share_of_mean(mine.size(), offsets.size());
    const TokenBatch b = window_batch(corpus.train, mine, s.context);
    const double lr = opt.lr();
    net.zero_grad();
    const Tensor logits = net.forward(b.inputs.to(c.device));
    const CrossEntropy ce =
        softmax_cross_entropy(logits.reshape({rows * s.context, s.vocab}), b.targets);
    const double loss = ranks.sum({ce.loss * share}, c.device)[0];  // the whole batch's
    if (!std::isfinite(loss))
      throw Error("[train] the loss is " + show(loss) + " at step " + std::to_string(step) +
                  "; try a smaller --lr (now " + show(c.optimizer.lr) + ")");
    net.backward(scale(ce.grad, share).reshape({rows, s.context, s.vocab}), false);  // ids
    const distributed::Stats before = ranks.group.stats();
    opt.step();
    const distributed::Stats after = ranks.group.stats();
    train_sum += loss;
    ++train_count;
    const std::int64_t done = step + 1;
    const double rate = static_cast<double>((done - steps_done) * tokens_per_step) /
                        std::max(progress.seconds(), 1e-9);
    progress.update("step", static_cast<long>(done), static_cast<long>(c.steps),
                    "loss " + fixed(train_sum / static_cast<double>(train_count), 4) + ", " +
                        fixed(rate, 0) + " tok/s");
    const bool evaluate = done % c.eval_every == 0 || done == c.steps;
    if (evaluate) {
      train_loss = train_sum / static_cast<double>(train_count);
      train_sum = 0;
      train_count = 0;
      val_loss = validation_loss(net, corpus.validation, s, c.eval_tokens, c.device);
      progress.finish("step " + std::to_string(done) + "/" + std::to_string(c.steps) +
                      "  train loss " + fixed(train_loss, 4) + "  val loss " + fixed(val_loss, 4) +
                      " nats/char (" + fixed(val_loss / kLn2, 3) + " bits/char)  " +
                      fixed(rate, 0) + " tok/s");
      if (!c.save.empty()) save_gpt(c.save, net, opt, c, s, corpus.vocabulary, ranks.writes());
    }
    if (log.is_open() && (done % c.log_every == 0 || evaluate)) {
      log << done << "," << done * tokens_per_step << "," << loss << ",";
      if (evaluate)
        log << val_loss << "," << val_loss / kLn2;
      else
        log << ",";
      log << "," << lr << "," << progress.seconds();
      for (const Parameter& p : params) log << "," << norm(p.weight, p.norm);
      log << ranks.log_row(before, after) << "\n";
    }
  }
  if (steps_done >= c.steps)
    val_loss = validation_loss(net, corpus.validation, s, c.eval_tokens, c.device);

  ReportOptions report_options;
  report_options.updates = opt.last_updates();
  report_options.steps = opt.atom_steps();
  const double seconds = progress.seconds();
  const double tokens_per_second =
      static_cast<double>(std::max<std::int64_t>(c.steps - steps_done, 0) * tokens_per_step) /
      std::max(seconds, 1e-9);
  out << "validation loss " << fixed(val_loss, 4) << " nats/char (" << fixed(val_loss / kLn2, 3)
      << " bits/char), " << fixed(seconds, 1) << " s\n\n"
      << report(net, report_options);
  if (c.json)
    std::cout << nlohmann::json{{"model", "gpt"},
                                {"val_loss", val_loss},
                                {"val_bits_per_char", val_loss / kLn2},
                                {"train_loss", train_loss},
                                {"steps", opt.steps()},
                                {"seconds", seconds},
                                {"tokens_per_second", tokens_per_second},
                                {"optimizer", to_string(c.optimizer.algorithm)},
                                {"lr", c.optimizer.lr},
                                {"arch", to_string(s.arch)},
                                {"width", s.width},
                                {"depth", s.depth},
                                {"heads", s.heads},
                                {"context", s.context},
                                {"vocab", s.vocab},
                                {"batch", c.batch},
                                {"seed", c.seed},
                                {"device", to_string(c.device)},
                                {"cpu_gemm", cpu_gemm()},
                                {"cpu_gemm_kernels", cpu_gemm_kernels()}}
                     .dump()
              << std::endl;
  return 0;
}

void add_sample_flags(CLI::App& cmd, SampleConfig& c) {
  cmd.add_option("checkpoint", c.checkpoint, "A GPT checkpoint written by train --model gpt --save")
      ->required();
  cmd.add_option("--prompt", c.prompt,
                 "Text to continue (characters of the checkpoint's vocabulary)")
      ->required();
  cmd.add_option("--tokens", c.tokens, within("Characters to generate", 0, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--temperature", c.temperature,
                 "Softmax temperature, finite and >= 0 (0: always the most likely character)")
      ->capture_default_str();
  cmd.add_option("--seed", c.seed, "Seed of the sampling")
      ->check(seed_range())
      ->capture_default_str();
  cmd.add_option("--device", c.device, "Where to run")
      ->transform(one_of({Device::cpu, Device::cuda}))
      ->capture_default_str();
}

int run_sample(const SampleConfig& c) {
  check_range("[sample] --tokens", c.tokens, 0, kMaxCount);
  if (!(c.temperature >= 0.0 && std::isfinite(c.temperature)))
    throw Error("[sample] --temperature is " + show(c.temperature) +
                ", must be a finite number >= 0");
  const SafetensorsFile file = load_safetensors(c.checkpoint);
  std::string description;
  Module net = load_gpt(file, c.checkpoint, description);
  const GptShape s = checkpoint_gpt(file, c.checkpoint);
  const Vocabulary vocabulary = checkpoint_vocabulary(file, c.checkpoint, s.vocab);
  std::vector<std::int32_t> ids =
      vocabulary.encode(decode_utf8(c.prompt, "[sample] --prompt"), "[sample] --prompt");
  if (ids.empty()) throw Error("[sample] --prompt is empty; give at least one character");
  if (c.device != Device::cpu) net.to(c.device);

  Generator gen(c.seed);
  std::cout << c.prompt << std::flush;
  std::vector<double> p(static_cast<std::size_t>(s.vocab));
  for (std::int64_t k = 0; k < c.tokens; ++k) {
    const auto t = std::min<std::int64_t>(s.context, static_cast<std::int64_t>(ids.size()));
    const std::vector<std::int32_t> window(ids.end() - t, ids.end());
    const std::vector<float> logits =
        net.forward(Tensor::from_vector_i32(window, {1, t}).to(c.device)).to_vector();
    const float* last = logits.data() + (t - 1) * s.vocab;
    // Finite weights of finite norm can still overflow f32 on the way: never draw from NaN.
    if (!std::all_of(last, last + s.vocab, [](float v) { return std::isfinite(v); }))
      throw Error("[sample] " + c.checkpoint + ": the logits of character " + std::to_string(k) +
                  " are not finite (the weights overflow f32 in the forward pass)");
    auto next = static_cast<std::int32_t>(std::max_element(last, last + s.vocab) - last);
    if (c.temperature > 0) {  // softmax(logits / T), max-subtracted, then one uniform draw
      double total = 0;
      for (std::int64_t v = 0; v < s.vocab; ++v)
        total += p[static_cast<std::size_t>(v)] =
            std::exp((static_cast<double>(last[v]) - last[next]) / c.temperature);
      double u = gen.uniform() * total;
      for (next = 0; next + 1 < s.vocab && u >= p[static_cast<std::size_t>(next)]; ++next)
        u -= p[static_cast<std::size_t>(next)];
    }
    ids.push_back(next);
    std::cout << vocabulary.decode({next}) << std::flush;
  }
  std::cout << "\n";
  return 0;
}

Module load_gpt(const SafetensorsFile& file, const std::string& path, std::string& description) {
  require_gpt(file, path);
  const GptShape s = checkpoint_gpt(file, path);
  Module net = make_gpt(s);
  naming_checkpoint(path, [&] { load_weights(file, net); });
  description = describe(s);
  if (const auto steps = find_metadata_int(file, path, "steps_done", 0, kMaxCount))
    description += " after " + std::to_string(*steps) + " steps";
  return net;
}

}  // namespace modnorm::cli
