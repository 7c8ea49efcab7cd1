// The command line's shared checks and number formats (checks.hpp).
#include "cli/checks.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <system_error>

namespace modnorm::cli {

std::string show(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

std::string within(const std::string& text, std::int64_t lo, std::int64_t hi) {
  return text + ", " + std::to_string(lo) + " to " + std::to_string(hi);
}

void check_range(const std::string& what, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value < lo || value > hi)
    throw Error(what + " is " + std::to_string(value) + ", must be in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
}

void check_positive(const std::string& what, double value) {
  if (!(value > 0.0 && std::isfinite(value)))
    throw Error(what + " is " + show(value) + ", must be a finite number > 0");
}

CLI::Validator seed_range() {
  const std::string range = "[0, " + std::to_string(UINT64_MAX) + "]";
  return CLI::Validator(
      [range](std::string& text) {
        std::uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto parsed = std::from_chars(text.data(), end, value);
        if (text.empty() || parsed.ec != std::errc() || parsed.ptr != end)
          return "'" + text + "' is not an integer in " + range;
        return std::string();
      },
      "in " + range);
}

void check_writable(const std::string& command, const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  const std::string what = "[" + command + "] " + flag + " " + path;
  const fs::path file(path);
  if (!file.has_filename()) throw Error(what + ": names a directory, not a file");
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(what + ": " + dir.string() + " is not an existing directory");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(what + ": the directory " + dir.string() + " is not writable (" +
                std::strerror(errno) + ")");
  const fs::file_status status = fs::status(file, ec);
  if (fs::is_directory(status)) throw Error(what + ": is a directory, not a file");
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw Error(what + ": exists and is not a regular file");
}

std::optional<std::int64_t> find_metadata_int(const SafetensorsFile& file, const std::string& path,
                                              const std::string& key, std::int64_t lo,
                                              std::int64_t hi) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end()) return std::nullopt;
  const std::string& text = it->second;
  const std::string what = "[checkpoint] " + path + ": metadata '" + key + "'";
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto parsed = std::from_chars(text.data(), end, value);
  if (parsed.ec != std::errc() || parsed.ptr != end)
    throw Error(what + " is '" + text + "', not an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  check_range(what, value, lo, hi);
  return value;
}

std::int64_t metadata_int(const SafetensorsFile& file, const std::string& path,
                          const std::string& key, std::int64_t lo, std::int64_t hi) {
  if (const auto value = find_metadata_int(file, path, key, lo, hi)) return *value;
  throw Error("[checkpoint] " + path + ": metadata has no '" + key +
              "' (not written by modnorm train?)");
}

const std::string& metadata_text(const SafetensorsFile& file, const std::string& path,
                                 const std::string& key) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    throw Error("[checkpoint] " + path + ": metadata has no '" + key +
                "' (not written by modnorm train?)");
  return it->second;
}

std::ofstream open_log(const std::string& path, const std::string& columns,
                       const std::vector<Parameter>& params, const std::string& trailing) {
  std::string header = columns;
  for (const Parameter& p : params) header += "," + p.name + "_norm";
  header += trailing;
  std::string existing;
  if (std::ifstream old(path); old && std::getline(old, existing) && existing != header)
    throw Error("[train] --log " + path + ": the file's header is '" + existing +
                "', this run's is '" + header + "'; log to a new file");
  std::ofstream log(path, std::ios::app);
  if (!log) throw Error("[train] cannot open the log file " + path);
  if (log.tellp() == 0) log << header << "\n";
  return log;
}

void check_holds(const SafetensorsFile& file, const std::string& path, double weights,
                 const std::string& model) {
  double stored = 0;
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, 6, "optim.") != 0) stored += static_cast<double>(t.numel());
  if (stored < weights)
    throw Error("[checkpoint] " + path + ": its metadata describes a model of " + show(weights) +
                " weights (" + model + "), the file holds " + show(stored));
}

void load_weights(const SafetensorsFile& file, const Module& net) {
  for (const Parameter& p : net.parameters()) {
    const Tensor& saved = file.at(p.name);
    if (saved.shape() != p.weight.shape())
      throw Error("[load_weights] '" + p.name + "' has shape " + to_string(saved.shape()) +
                  ", the model expects " + to_string(p.weight.shape()));
    Tensor w = p.weight;
    axpy(1.0, saved.to(w.dtype()).to(w.device()), w, 0.0);
    if (!all_finite(w))
      throw Error("[load_weights] '" + p.name + "' holds NaN or Inf (as " + to_string(w.dtype()) +
                  ")");
    const double largest = w.dtype() == DType::f64 ? std::numeric_limits<double>::max()
                                                   : std::numeric_limits<float>::max();
    if (const double n = norm(w, p.norm); !(n <= largest))
      throw Error("[load_weights] '" + p.name + "' has " + to_string(p.norm) + " norm " + show(n) +
                  ", beyond " + to_string(w.dtype()) + "'s largest number " + show(largest));
  }
}

std::vector<std::pair<std::string, Tensor>> optimizer_entries(const SafetensorsFile& file) {
  std::vector<std::pair<std::string, Tensor>> out;
  const std::string prefix = "optim.";
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace modnorm::cli
