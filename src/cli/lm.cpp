// `modnorm train gpt`, `modnorm sample` and `inspect` of a GPT checkpoint (lm.hpp).
#include "cli/lm.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "cli/checks.hpp"
#include "cli/gpt.hpp"

namespace modnorm::cli {
namespace {

const double kLn2 = std::log(2.0);
constexpr std::int64_t kEvalWindows = 32;  // windows per forward pass of the evaluation

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
                "'; write one with modnorm train gpt --save)");
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
    const std::int64_t n = b.targets.numel();
    const Tensor logits = net.forward(b.inputs.to(device));
    sum += softmax_cross_entropy(logits.reshape({n, s.vocab}), b.targets.to(device)).loss *
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
void check_step_memory(std::int64_t batch, const GptShape& s, const Ranks& ranks) {
  const auto windows = std::ceil(static_cast<double>(batch) / ranks.group.size());
  const auto positions = windows * static_cast<double>(s.context);
  const double bytes = positions * (4 + 4) + 2.0 * 4 * positions * static_cast<double>(s.vocab) +
                       4.0 * s.depth * positions * static_cast<double>(s.heads * s.context);
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                        static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  constexpr double kGiB = 1 << 30;
  if (bytes > memory)
    throw Error("[train] --batch " + std::to_string(batch) + " x --context " +
                std::to_string(s.context) + ": one step needs at least " + show(bytes / kGiB) +
                " GiB per process (window ids, logits over " + std::to_string(s.vocab) +
                " characters, attention scores of " + std::to_string(s.heads) + " heads in " +
                std::to_string(s.depth) + " blocks), more than this machine's " +
                show(memory / kGiB) + " GiB; lower --batch or --context");
}

}  // namespace

GptTask::GptTask() {
  flags.batch = 12;
}  // modula's hello-gpt

std::string GptTask::about() const {
  return "A character-level GPT on --text (docs/training.md, \"A character-level GPT\")";
}

void GptTask::add_model_flags(CLI::App& cmd) {
  cmd.add_option("--text", text_,
                 "A UTF-8 text file (the last 10% is validation; default: the KJV that "
                 "scripts/setup extracts)")
      ->capture_default_str();
  cmd.add_option("--width", shape_.width, within("d_embed", 1, kMaxFeatures))
      ->capture_default_str();
  cmd.add_option("--depth", shape_.depth, within("Blocks", 1, kMaxDepth))->capture_default_str();
  cmd.add_option("--heads", shape_.heads, within("Attention heads", 1, kMaxFeatures))
      ->capture_default_str();
  cmd.add_option("--arch", arch_,
                 "modula's GPT (no norms, scaled residuals; the default) or the modern one "
                 "(RMSNorm before each block and the head, QK-norm, ReLU^2 MLP, "
                 "zero-initialised projections, untied head; docs/training.md)")
      ->transform(one_of({GptArch::modula, GptArch::modern}));
  cmd.add_option("--soft-cap", soft_cap_,
                 "--arch modern: logits become cap * tanh(logits / cap), cap a finite number > 0 "
                 "(default: no cap; modded-nanogpt uses 15)");
  cmd.add_option("--context", shape_.context, within("Characters per window", 1, kMaxContext))
      ->capture_default_str();
  cmd.add_option("--steps", steps_, within("Training steps", 1, kMaxCount))->capture_default_str();
  cmd.add_option("--eval-every", eval_every_,
                 within("Steps between validation losses (and checkpoints)", 1, kMaxCount))
      ->capture_default_str();
  cmd.add_option("--eval-tokens", eval_tokens_,
                 within("Validation characters scored (the first N)", 1, kMaxCount))
      ->capture_default_str();
}

// The flags against their limits; --soft-cap a finite number > 0, and only for the modern GPT.
void GptTask::check_flags() const {
  check_range("[train] --width", shape_.width, 1, kMaxFeatures);
  check_range("[train] --depth", shape_.depth, 1, kMaxDepth);
  check_range("[train] --heads", shape_.heads, 1, kMaxFeatures);
  check_range("[train] --context", shape_.context, 1, kMaxContext);
  check_range("[train] --steps", steps_, 1, kMaxCount);
  check_range("[train] --eval-every", eval_every_, 1, kMaxCount);
  check_range("[train] --eval-tokens", eval_tokens_, 1, kMaxCount);
  if (!soft_cap_) return;
  check_positive("[train] --soft-cap", *soft_cap_);
  if (arch_.value_or(GptArch::modula) != GptArch::modern)
    throw Error("[train] --soft-cap applies to --arch modern, not to --arch " +
                std::string(to_string(arch_.value_or(GptArch::modula))));
}

Module GptTask::load(const SafetensorsFile* checkpoint, const Ranks& ranks) {
  const std::string& path = flags.resume;
  if (checkpoint) {
    shape_ = checkpoint_gpt(*checkpoint, path);
    steps_done_ = metadata_int(*checkpoint, path, "steps_done", 0, kMaxCount);
    if ((arch_ && *arch_ != shape_.arch) || (soft_cap_ && *soft_cap_ != shape_.soft_cap))
      throw Error("[checkpoint] " + path + ": holds a " + cli::describe(shape_) +
                  "; resume it without --arch and --soft-cap, or with the ones it was trained "
                  "with");
    for (const auto& [key, value] : {std::pair<std::string, std::int64_t>{"batch", flags.batch},
                                     {"seed", static_cast<std::int64_t>(flags.seed)}})
      if (metadata_int(*checkpoint, path, key, 0, INT64_MAX) != value)
        throw Error("[checkpoint] " + path + ": trained with --" + key + " " +
                    checkpoint->metadata.at(key) + ", this run has " + std::to_string(value) +
                    " (the batch order depends on both)");
  }
  const TextCorpus& corpus = corpus_.emplace(load_text(text_));
  if (checkpoint) {
    const Vocabulary saved = checkpoint_vocabulary(*checkpoint, path, shape_.vocab);
    if (saved.characters() != corpus.vocabulary.characters())
      throw Error("[checkpoint] " + path + ": its vocabulary of " + std::to_string(saved.size()) +
                  " characters is not that of " + text_ + " (" +
                  std::to_string(corpus.vocabulary.size()) +
                  "); resume with the --text it was trained on");
  } else {
    if (corpus.vocabulary.size() > kMaxVocabulary)
      throw Error("[train] --text " + text_ + ": its training part has " +
                  std::to_string(corpus.vocabulary.size()) + " distinct characters, more than " +
                  std::to_string(kMaxVocabulary) + " (the most a checkpoint holds)");
    shape_.vocab = corpus.vocabulary.size();
    shape_.arch = arch_.value_or(GptArch::modula);
    shape_.soft_cap = soft_cap_.value_or(0.0);
    check_size(shape_);
  }
  if (static_cast<std::int64_t>(corpus.train.size()) <= shape_.context ||
      static_cast<std::int64_t>(corpus.validation.size()) <= shape_.context)
    throw Error("[train] " + text_ + ": its training part (" + std::to_string(corpus.train.size()) +
                " characters) and validation part (" + std::to_string(corpus.validation.size()) +
                ") must each be longer than --context " + std::to_string(shape_.context));
  check_step_memory(flags.batch, shape_, ranks);
  return make_gpt(shape_);
}

void GptTask::check_resumed(std::int64_t steps) const {
  if (steps != steps_done_)
    throw Error("[checkpoint] " + flags.resume + ": the optimizer took " + std::to_string(steps) +
                " steps, metadata 'steps_done' says " + std::to_string(steps_done_));
}

std::string GptTask::position(std::int64_t steps) const {
  return "step " + std::to_string(steps);
}

std::string GptTask::describe() const {
  return cli::describe(shape_);
}

std::string GptTask::describe_data() const {
  return std::to_string(steps_) + " steps, " + text_ + " (" +
         std::to_string(corpus_->train.size()) + " training characters)";
}

std::string GptTask::log_columns() const {
  return "tokens,train_loss,val_loss,val_bits_per_char,lr,seconds";
}

StepLoss GptTask::forward(Module& net, std::int64_t step, const Ranks& ranks) {
  Generator order(step_seed(flags.seed, step));
  const std::vector<std::int64_t> offsets = random_offsets(
      static_cast<std::int64_t>(corpus_->train.size()), flags.batch, shape_.context, order);
  const std::vector<std::int64_t> mine = ranks.mine(offsets);  // this rank's share
  const auto rows = static_cast<std::int64_t>(mine.size());
  const TokenBatch b = window_batch(corpus_->train, mine, shape_.context);
  const Tensor logits = net.forward(b.inputs.to(flags.device));
  StepLoss out;
  out.loss = softmax_cross_entropy(logits.reshape({rows * shape_.context, shape_.vocab}),
                                   b.targets.to(flags.device));
  out.loss.grad = out.loss.grad.reshape({rows, shape_.context, shape_.vocab});
  out.mine = mine.size();
  out.batch = offsets.size();
  return out;
}

void GptTask::record(const StepDone& step, Progress& progress) {
  train_sum_ += step.loss;
  ++train_count_;
  rate_ = static_cast<double>(step.run * tokens_per_step()) / std::max(progress.seconds(), 1e-9);
  progress.update("step", static_cast<long>(step.done), static_cast<long>(steps_),
                  "loss " + fixed(train_sum_ / static_cast<double>(train_count_), 4) + ", " +
                      fixed(rate_, 0) + " tok/s");
}

void GptTask::evaluate(Module& net) {
  val_loss_ = validation_loss(net, corpus_->validation, shape_, eval_tokens_, flags.device);
}

std::string GptTask::finish_period(std::int64_t done) {
  train_loss_ = train_sum_ / static_cast<double>(train_count_);
  train_sum_ = 0;
  train_count_ = 0;
  return "step " + std::to_string(done) + "/" + std::to_string(steps_) + "  train loss " +
         fixed(train_loss_, 4) + "  val loss " + fixed(val_loss_, 4) + " nats/char (" +
         fixed(val_loss_ / kLn2, 3) + " bits/char)  " + fixed(rate_, 0) + " tok/s";
}

void GptTask::log_row(std::ostream& log, const StepDone& step, bool evaluated,
                      double seconds) const {
  log << step.done * tokens_per_step() << "," << step.loss << ",";
  if (evaluated)
    log << val_loss_ << "," << val_loss_ / kLn2;
  else
    log << ",";
  log << "," << step.lr << "," << seconds;
}

// The vocabulary is saved as UTF-8, in id order; modula's checkpoints have no 'arch'.
std::map<std::string, std::string> GptTask::metadata(std::int64_t done) const {
  std::map<std::string, std::string> metadata{
      {"vocab", std::to_string(shape_.vocab)},
      {"vocabulary", encode_utf8(corpus_->vocabulary.characters())},
      {"width", std::to_string(shape_.width)},
      {"depth", std::to_string(shape_.depth)},
      {"heads", std::to_string(shape_.heads)},
      {"context", std::to_string(shape_.context)},
      {"steps_done", std::to_string(done)}};
  if (shape_.arch == GptArch::modern) {
    metadata["arch"] = to_string(shape_.arch);
    if (shape_.soft_cap > 0.0) metadata["soft_cap"] = exact_text(shape_.soft_cap);
  }
  return metadata;
}

std::string GptTask::summary() const {
  return "validation loss " + fixed(val_loss_, 4) + " nats/char (" + fixed(val_loss_ / kLn2, 3) +
         " bits/char)";
}

void GptTask::add_results(nlohmann::json& out, double seconds, std::int64_t run) const {
  out["val_loss"] = val_loss_;
  out["val_bits_per_char"] = val_loss_ / kLn2;
  out["train_loss"] = train_loss_;
  out["tokens_per_second"] = static_cast<double>(run * tokens_per_step()) / std::max(seconds, 1e-9);
  out["arch"] = to_string(shape_.arch);
  out["width"] = shape_.width;
  out["depth"] = shape_.depth;
  out["heads"] = shape_.heads;
  out["context"] = shape_.context;
  out["vocab"] = shape_.vocab;
}

void add_sample_flags(CLI::App& cmd, SampleConfig& c) {
  cmd.add_option("checkpoint", c.checkpoint, "A GPT checkpoint written by train gpt --save")
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
