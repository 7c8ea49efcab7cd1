// The ranks of a `modnorm train` (ranks.hpp).
#include "cli/ranks.hpp"

#include <sstream>

namespace modnorm::cli {
namespace {

// "<flag> <value>" lines (the first: "modnorm <version>") as flag -> value.
std::map<std::string, std::string> parse_flags(const std::string& text) {
  std::map<std::string, std::string> flags;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t space = line.find(' ');
    flags[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  return flags;
}

// "--steps 6", or "no --steps".
std::string shown(const std::map<std::string, std::string>& flags, const std::string& flag) {
  const auto it = flags.find(flag);
  return it == flags.end() ? "no " + flag : flag + " " + it->second;
}

}  // namespace

void Ranks::check_same_flags(const std::map<std::string, std::string>& flags, Device device) const {
  if (group.size() == 1) return;
  // Every rank's flags as text, one i32 per byte (the version line keeps it non-empty),
  // gathered with each rank's length.
  std::string text = std::string("modnorm ") + version() + "\n";
  for (const auto& [flag, value] : flags)
    if (!kRankZeroFlags.count(flag)) text += flag + " " + value + "\n";
  const std::vector<std::int32_t> bytes(text.begin(), text.end());
  const auto length = static_cast<std::int64_t>(bytes.size());
  const std::vector<double> lengths =
      distributed::all_gather(
          Tensor::from_vector_i32({static_cast<std::int32_t>(length)}, {1}).to(device), group)
          .to_vector_f64();
  const std::vector<std::int64_t> counts(lengths.begin(), lengths.end());
  const std::vector<double> all =
      distributed::all_gather(Tensor::from_vector_i32(bytes, {length}).to(device), group, counts)
          .to_vector_f64();
  std::vector<std::string> texts;
  std::size_t begin = 0;
  for (const std::int64_t count : counts) {
    std::string t;
    for (std::int64_t k = 0; k < count; ++k) t += static_cast<char>(all[begin++]);
    texts.push_back(t);
  }
  std::string outputs;
  for (const std::string& flag : kRankZeroFlags) outputs += (outputs.empty() ? "" : ", ") + flag;
  const std::map<std::string, std::string> first = parse_flags(texts[0]);
  for (std::size_t r = 1; r < texts.size(); ++r) {
    std::map<std::string, std::string> other = parse_flags(texts[r]);
    std::map<std::string, std::string> both = first;
    both.insert(other.begin(), other.end());
    for (const auto& entry : both)
      if (shown(first, entry.first) != shown(other, entry.first))
        throw Error("[train] the ranks were given different flags: rank 0 has " +
                    shown(first, entry.first) + ", rank " + std::to_string(r) + " has " +
                    shown(other, entry.first) + " (every flag must agree but " + outputs +
                    ", which rank 0 alone uses)");
  }
}

}  // namespace modnorm::cli
