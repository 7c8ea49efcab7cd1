// Character-level text data (text.hpp): UTF-8, the vocabulary, the corpus split and windows.
#include "modnorm/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <vector>

#include "modnorm/error.hpp"

namespace modnorm {
namespace {

// "'a' (U+0061)", or just "U+000A" for a control character.
std::string describe(char32_t c) {
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
  if (c < 0x20 || c == 0x7f) return code;
  return "'" + encode_utf8(std::u32string(1, c)) + "' (" + code + ")";
}

// The bytes of the file at `path`, at most kMaxTextBytes of them. A directory is refused by its
// status; a regular file by its size, before it is read; anything else (a pipe, a device such as
// /dev/zero) is read up to the limit, so that a stream without an end is refused too.
std::string read_text_file(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (fs::is_directory(status)) throw Error(what + ": is a directory, not a text file");
  const std::string limit = std::to_string(kMaxTextBytes) + " bytes (the limit of a text file)";
  if (fs::is_regular_file(status)) {
    const std::uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > static_cast<std::uintmax_t>(kMaxTextBytes))
      throw Error(what + ": the file has " + std::to_string(size) + " bytes, more than " + limit);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(what + ": cannot open the file (" + std::strerror(errno) + ")");
  std::string bytes;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    bytes.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (static_cast<std::int64_t>(bytes.size()) > kMaxTextBytes)
      throw Error(what + ": not a regular file, and more than " + limit +
                  " without an end (a device or a stream that never ends?)");
  }
  if (in.bad()) throw Error(what + ": read error (" + std::strerror(errno) + ")");
  return bytes;
}

bool scalar_value(char32_t c) {
  return c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF);
}

}  // namespace

std::u32string decode_utf8(const std::string& bytes, const std::string& what) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t k = 0;
  while (k < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[k]);
    const int extra = lead < 0x80         ? 0
                      : (lead >> 5) == 6  ? 1
                      : (lead >> 4) == 14 ? 2
                      : (lead >> 3) == 30 ? 3
                                          : -1;
    char32_t c = extra == 0 ? lead : extra == 1 ? lead & 0x1F : extra == 2 ? lead & 0x0F : lead & 7;
    bool ok = extra >= 0 && k + static_cast<std::size_t>(extra) < bytes.size() + (extra == 0);
    for (int j = 1; ok && j <= extra; ++j) {
      const auto b = static_cast<unsigned char>(bytes[k + static_cast<std::size_t>(j)]);
      ok = (b & 0xC0) == 0x80;
      c = (c << 6) | (b & 0x3F);
    }
    static constexpr char32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (!ok || c < kSmallest[std::max(extra, 0)] || !scalar_value(c))
      throw Error(what + ": invalid UTF-8 at byte " + std::to_string(k) +
                  " (the file must be UTF-8 or ASCII text)");
    out.push_back(c);
    k += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    if (!scalar_value(c))
      throw Error("[encode_utf8] " + std::to_string(static_cast<unsigned long>(c)) +
                  " is not a Unicode scalar value");
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

Vocabulary Vocabulary::of(const std::u32string& text) {
  std::u32string chars = text;
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  if (chars.empty()) throw Error("[Vocabulary::of] the text is empty");
  return Vocabulary(chars);
}

Vocabulary::Vocabulary(std::u32string characters) : characters_(std::move(characters)) {
  if (characters_.empty()) throw Error("[Vocabulary] no characters");
  std::u32string sorted = characters_;
  std::sort(sorted.begin(), sorted.end());
  const auto repeat = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeat != sorted.end())
    throw Error("[Vocabulary] the character " + describe(*repeat) + " appears twice");
  for (const char32_t c : characters_)
    if (!scalar_value(c))
      throw Error("[Vocabulary] " + std::to_string(static_cast<unsigned long>(c)) +
                  " is not a Unicode scalar value");
}

std::vector<std::int32_t> Vocabulary::encode(const std::u32string& text,
                                             const std::string& what) const {
  std::u32string sorted = characters_;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int32_t> id_of_rank(sorted.size());
  for (std::size_t k = 0; k < characters_.size(); ++k)
    id_of_rank[static_cast<std::size_t>(
        std::lower_bound(sorted.begin(), sorted.end(), characters_[k]) - sorted.begin())] =
        static_cast<std::int32_t>(k);
  std::vector<std::int32_t> ids;
  ids.reserve(text.size());
  for (std::size_t k = 0; k < text.size(); ++k) {
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), text[k]);
    if (it == sorted.end() || *it != text[k])
      throw Error(what + ": the character " + describe(text[k]) + " at position " +
                  std::to_string(k) + " is not in the vocabulary of " + std::to_string(size()) +
                  " characters");
    ids.push_back(id_of_rank[static_cast<std::size_t>(it - sorted.begin())]);
  }
  return ids;
}

std::string Vocabulary::decode(const std::vector<std::int32_t>& ids) const {
  std::u32string text;
  text.reserve(ids.size());
  for (const std::int32_t id : ids) {
    if (id < 0 || id >= size())
      throw Error("[Vocabulary::decode] id " + std::to_string(id) + " is outside [0, " +
                  std::to_string(size()) + ")");
    text.push_back(characters_[static_cast<std::size_t>(id)]);
  }
  return encode_utf8(text);
}

TextCorpus load_text(const std::string& path, double validation_fraction, std::int64_t min_part) {
  const std::string what = "[load_text] " + path;
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0))
    throw Error(what + ": the validation fraction is " + std::to_string(validation_fraction) +
                ", must be in [0, 1)");
  const std::string bytes = read_text_file(path, what);
  if (bytes.empty()) throw Error(what + ": the file is empty");
  const std::u32string text = decode_utf8(bytes, what);
  const auto n = static_cast<std::int64_t>(text.size());
  const auto n_validation = static_cast<std::int64_t>(validation_fraction * static_cast<double>(n));
  const std::int64_t n_train = n - n_validation;
  if (n_train < min_part || (validation_fraction > 0 && n_validation < min_part))
    throw Error(what + ": " + std::to_string(n) + " characters make a training part of " +
                std::to_string(n_train) + " and a validation part of " +
                std::to_string(n_validation) + "; each needs at least " + std::to_string(min_part));
  const std::u32string train = text.substr(0, static_cast<std::size_t>(n_train));
  TextCorpus corpus{Vocabulary::of(train), {}, {}};
  corpus.train = corpus.vocabulary.encode(train, what + " (training part)");
  corpus.validation = corpus.vocabulary.encode(text.substr(static_cast<std::size_t>(n_train)),
                                               what +
                                                   " (validation part, which the training "
                                                   "part's vocabulary must cover)");
  return corpus;
}

std::string default_kjv_path() {
  if (const char* set = std::getenv("MODNORM_KJV"); set && *set) return set;
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base = cache && *cache ? cache : std::string(home ? home : ".") + "/.cache";
  return base + "/modnorm/kjv.txt";
}

TokenBatch window_batch(const std::vector<std::int32_t>& ids,
                        const std::vector<std::int64_t>& offsets, std::int64_t context) {
  const auto n = static_cast<std::int64_t>(ids.size());
  if (offsets.empty() || context < 1)
    throw Error("[window_batch] needs at least one offset and context >= 1, got " +
                std::to_string(offsets.size()) + " offsets and context " + std::to_string(context));
  std::vector<std::int32_t> inputs, targets;
  inputs.reserve(offsets.size() * static_cast<std::size_t>(context));
  targets.reserve(inputs.capacity());
  for (const std::int64_t o : offsets) {
    if (o < 0 || o > n - context - 1)
      throw Error("[window_batch] the window at offset " + std::to_string(o) + " of length " +
                  std::to_string(context) + " (+1 target) does not fit in " + std::to_string(n) +
                  " ids");
    for (std::int64_t t = 0; t < context; ++t) {
      inputs.push_back(ids[static_cast<std::size_t>(o + t)]);
      targets.push_back(ids[static_cast<std::size_t>(o + t + 1)]);
    }
  }
  const Shape shape{static_cast<std::int64_t>(offsets.size()), context};
  return {Tensor::from_vector_i32(inputs, shape), Tensor::from_vector_i32(targets, shape)};
}

std::vector<std::int64_t> random_offsets(std::int64_t ids, std::int64_t batch, std::int64_t context,
                                         Generator& gen) {
  if (batch < 1 || context < 1 || ids <= context)
    throw Error("[random_offsets] " + std::to_string(ids) + " ids hold no window of context " +
                std::to_string(context) + " (+1 target), or batch " + std::to_string(batch) +
                " < 1");
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(batch));
  for (auto& o : offsets)
    o = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(ids - context)));
  return offsets;
}

}  // namespace modnorm
