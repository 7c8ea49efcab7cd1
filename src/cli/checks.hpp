#pragma once
// What every `modnorm` subcommand checks and shows the same way: flag limits, output paths,
// checkpoint metadata and weights, enum flags by name, numbers in messages. Each check throws
// modnorm::Error naming what it checked (`what`: "[train] --width", "[checkpoint] run.safetensors:
// metadata 'depth'") and quoting the value it got.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// A number for a message, with six significant digits ("1e+300", not 301 digits).
std::string show(double v);

// A number with `digits` digits after the point, for progress lines.
std::string fixed(double v, int digits);

// "Hidden width of the MLP, 1 to 16384": a help text with its flag's limits.
std::string within(const std::string& text, std::int64_t lo, std::int64_t hi);

// An integer in [lo, hi].
void check_range(const std::string& what, std::int64_t value, std::int64_t lo, std::int64_t hi);

// A finite real > 0 (NaN fails the comparison).
void check_positive(const std::string& what, double value);

// The check of a --seed flag: decimal digits of a value in [0, 2^64 - 1]. (CLI11 reads "-1" and
// numbers past 2^64 - 1 as 2^64 - 1, and "0x10" as hexadecimal, without a word.)
CLI::Validator seed_range();

// A file the run will create or replace (save_safetensors writes a temporary file and renames
// it; a log appends): its directory exists and is writable, and the path is not a directory or
// another non-regular file. Checked up front so that a typo costs no training. `flag` is the
// option's name ("--save").
void check_writable(const std::string& command, const std::string& flag, const std::string& path);

// The integer metadata `key` of the checkpoint at `path`, parsed strictly (decimal digits with
// an optional '-', nothing else: no silent cast or truncation) and checked to lie in [lo, hi];
// nullopt when the key is absent.
std::optional<std::int64_t> find_metadata_int(const SafetensorsFile& file, const std::string& path,
                                              const std::string& key, std::int64_t lo,
                                              std::int64_t hi);

// The same, for a key the checkpoint must have.
std::int64_t metadata_int(const SafetensorsFile& file, const std::string& path,
                          const std::string& key, std::int64_t lo, std::int64_t hi);

// The string metadata `key`, which the checkpoint must have.
const std::string& metadata_text(const SafetensorsFile& file, const std::string& path,
                                 const std::string& key);

// Opens the CSV log at `path` for appending. Its header is `columns`, a "<name>_norm" column per
// parameter, then `trailing` (the ranks' columns): a new (empty) file gets it, an existing one
// must start with it. Throws modnorm::Error naming the file when it cannot be opened, and the
// file and both headers when an existing file has another header (another model's log).
std::ofstream open_log(const std::string& path, const std::string& columns,
                       const std::vector<Parameter>& params, const std::string& trailing);

// Throws modnorm::Error, naming the file and `model` (its sizes), unless the checkpoint's
// tensors other than the "optim." ones hold at least `weights` numbers, the weights of the model
// its metadata describes: checked before that model is built, so that a few bytes claiming a
// large model allocate nothing.
void check_holds(const SafetensorsFile& file, const std::string& path, double weights,
                 const std::string& model);

// Copies the checkpoint's weights into the net (same names and shapes required), each checked
// finite and with a norm its dtype can represent (NaN, Inf, or entries so large that the norm
// overflows, make the outputs NaN): the one check of loaded weights, for inspect, sample and
// train --resume.
void load_weights(const SafetensorsFile& file, const Module& net);

// The optimizer state of a checkpoint: its "optim.<name>" entries, under <name>.
std::vector<std::pair<std::string, Tensor>> optimizer_entries(const SafetensorsFile& file);

// Runs `f`, putting the checkpoint's path in front of any modnorm::Error it throws.
template <typename F>
void naming_checkpoint(const std::string& path, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    throw Error("[checkpoint] " + path + ": " + e.what());
  }
}

// A flag's transform for an enum given by name ("modular", "sgd", ...): the help and the error
// list the names. (CLI11's CheckedTransformer prints one-byte enums as raw characters.)
template <typename Enum>
CLI::Validator one_of(std::initializer_list<Enum> values) {
  std::map<std::string, Enum> names;
  std::string list;
  for (Enum v : values) {
    names[to_string(v)] = v;
    list += (list.empty() ? "" : ", ") + std::string(to_string(v));
  }
  return CLI::Validator(
      [names, list](std::string& text) {
        const auto it = names.find(text);
        if (it == names.end()) return "'" + text + "' is not one of " + list;
        text = std::to_string(static_cast<int>(it->second));  // what CLI11 converts to Enum
        return std::string();
      },
      "{" + list + "}");
}

}  // namespace modnorm::cli
