// The safetensors format (https://github.com/huggingface/safetensors, README "Format"): an
// 8-byte little-endian header length N, N bytes of JSON padded with spaces to a multiple of 8,
// then the raw little-endian data of every tensor at [begin, end) after the header.
#include "modnorm/safetensors.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "modnorm/error.hpp"

// Tensor storage is written and read as is: the host must be little-endian like the format.
#if defined(__BYTE_ORDER__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors I/O copies raw storage and needs a little-endian host");
#endif

namespace modnorm {
namespace {

constexpr const char* kMetadataKey = "__metadata__";

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::bf16:
      return "BF16";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
  }
  return "?";
}

std::string errno_text() {
  return errno != 0 ? std::strerror(errno) : "unknown error";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// ---- save ---------------------------------------------------------------------------------------

[[noreturn]] void fail_save(const std::string& path, const std::string& what) {
  fail("save_safetensors", path + ": " + what);
}

// The file a save replaces: `path` itself, or the file at the end of its chain of symbolic
// links (which need not exist yet), so that renaming onto it leaves the links in place.
std::string link_target(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int hops = 0; hops < 40; ++hops) {  // 40: Linux's limit before ELOOP
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p.string();
    const fs::path link = fs::read_symlink(p, ec);
    if (ec) fail_save(path, "cannot read the symbolic link " + p.string() + ": " + ec.message());
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
  fail_save(path, "too many levels of symbolic links");
}

// The temporary file of one save, next to the target and named
// `<target>.tmp.<process id>.<call number>` so that concurrent saves (from threads or processes)
// never share one; created exclusively (O_EXCL). Removed unless commit() renamed it over the
// target.
class PendingFile {
 public:
  PendingFile(std::string path, std::string target)
      : path_(std::move(path)), target_(std::move(target)) {
    static std::atomic<std::uint64_t> calls{0};
    // A name left by a crashed process with a recycled id is skipped, not overwritten.
    for (int attempt = 0; attempt < 100; ++attempt) {
      temp_ = target_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(calls++);
      errno = 0;
      const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd < 0 && errno == EEXIST && attempt + 1 < 100) continue;
      if (fd < 0) fail_save(path_, "cannot create " + temp_ + ": " + errno_text());
      file_.reset(::fdopen(fd, "wb"));
      if (!file_) {
        const std::string why = errno_text();
        ::close(fd);
        std::remove(temp_.c_str());
        fail_save(path_, "cannot open " + temp_ + ": " + why);
      }
      return;
    }
  }
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile() {
    if (file_) file_.reset();
    if (!committed_) std::remove(temp_.c_str());
  }

  void write(const void* bytes, std::size_t count) {
    errno = 0;
    if (count > 0 && std::fwrite(bytes, 1, count, file_.get()) != count)
      fail_save(path_, "cannot write " + temp_ + ": " + errno_text());
  }

  // Flush to disk, close, and rename over the target (atomic on POSIX file systems).
  void commit() {
    errno = 0;
    if (std::fflush(file_.get()) != 0 || ::fsync(::fileno(file_.get())) != 0)
      fail_save(path_, "cannot write " + temp_ + ": " + errno_text());
    errno = 0;
    if (std::fclose(file_.release()) != 0)
      fail_save(path_, "cannot close " + temp_ + ": " + errno_text());
    errno = 0;
    if (std::rename(temp_.c_str(), target_.c_str()) != 0)
      fail_save(path_, "cannot rename " + temp_ + " to " + (target_ == path_ ? "it" : target_) +
                           ": " + errno_text());
    committed_ = true;
  }

 private:
  std::string path_;    // what the caller asked for, quoted in errors
  std::string target_;  // the file renamed over: path_ with symbolic links followed
  std::string temp_;
  File file_;
  bool committed_ = false;
};

// Removes the temporary files that killed saves to `target` left: names
// `<target>.tmp.<process id>.<n>` (PendingFile's, nothing else) whose process no longer exists.
// A live process's files, this one's included, may be saves in progress and are kept. Best
// effort: a file that cannot be removed stays.
void remove_stale_temporaries(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path path(target);
  const std::string prefix = path.filename().string() + ".tmp.";
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<pid>.<n>": two runs of decimal digits, the pid a positive int.
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    pid_t pid = 0;
    std::uint64_t n = 0;
    const auto p = std::from_chars(first, last, pid);
    if (p.ec != std::errc() || p.ptr == last || *p.ptr != '.' || pid <= 0) continue;
    const auto q = std::from_chars(p.ptr + 1, last, n);
    if (q.ec != std::errc() || q.ptr != last) continue;
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

// ---- load ---------------------------------------------------------------------------------------

[[noreturn]] void fail_load(const std::string& path, const std::string& what) {
  fail("load_safetensors", path + ": " + what);
}

struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

std::string offsets_text(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// One header entry, checked against the `data_size` bytes that follow the header.
Entry parse_entry(const std::string& path, const std::string& name,
                  const nlohmann::ordered_json& value, std::uint64_t data_size) {
  const std::string where = "tensor '" + name + "': ";
  if (!value.is_object())
    fail_load(path,
              where + "expected an object with dtype, shape and data_offsets, got " + value.dump());
  Entry e;
  e.name = name;

  const auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string())
    fail_load(path, where + "\"dtype\" is missing or not a string");
  const std::string dtype_name = dtype->get<std::string>();
  if (dtype_name == "F32") {
    e.dtype = DType::f32;
  } else if (dtype_name == "BF16") {
    e.dtype = DType::bf16;
  } else if (dtype_name == "F64") {
    e.dtype = DType::f64;
  } else if (dtype_name == "I32") {
    e.dtype = DType::i32;
  } else {
    static const std::set<std::string> other_known = {
        "BOOL",    "U8",  "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4",  "F6_E2M3",
        "F6_E3M2", "I16", "U16", "F16",     "U32",     "I64",     "U64", "C64"};
    fail_load(path, where + (other_known.count(dtype_name) ? "unsupported" : "unknown") +
                        " dtype '" + dtype_name +
                        "' (modnorm reads F32, BF16 and F64), and I32 for integer ids");
  }

  const auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array())
    fail_load(path, where + "\"shape\" is missing or not an array");
  if (shape->size() > 4)
    fail_load(path, where + "shape " + shape->dump() + " has rank " +
                        std::to_string(shape->size()) + "; modnorm tensors have rank 0-4");
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned() ||
        d.get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail_load(path, where + "shape " + shape->dump() + " is not a list of non-negative integers");
    e.shape.push_back(static_cast<std::int64_t>(d.get<std::uint64_t>()));
  }
  std::int64_t count = 0;  // checked here, so that no product of the shape can wrap later
  try {
    count = checked_numel(e.shape, "load_safetensors", itemsize(e.dtype));
  } catch (const Error& error) {
    fail_load(path, where + std::string(error.what()).substr(std::strlen("[load_safetensors] ")));
  }
  const std::uint64_t bytes = static_cast<std::uint64_t>(count) * itemsize(e.dtype);

  const auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    fail_load(path, where +
                        "\"data_offsets\" should be [begin, end] with non-negative integers, got " +
                        (offsets == value.end() ? std::string("nothing") : offsets->dump()));
  e.begin = (*offsets)[0].get<std::uint64_t>();
  e.end = (*offsets)[1].get<std::uint64_t>();
  if (e.begin > e.end)
    fail_load(path,
              where + "data_offsets " + offsets_text(e.begin, e.end) + " end before they begin");
  if (e.end > data_size)
    fail_load(path, where + "data_offsets " + offsets_text(e.begin, e.end) + " run past the " +
                        std::to_string(data_size) + " bytes of data after the header");
  if (e.end - e.begin != bytes)
    fail_load(path, where + "shape " + shape->dump() + " of " + dtype_name + " needs " +
                        std::to_string(bytes) + " bytes but data_offsets " +
                        offsets_text(e.begin, e.end) + " hold " + std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;
    if (name.empty()) fail_save(path, "tensor " + std::to_string(i) + " has an empty name");
    if (name == kMetadataKey)
      fail_save(path, std::string("tensor name '") + kMetadataKey + "' is reserved for metadata");
    if (!names.insert(name).second) fail_save(path, "duplicate tensor name '" + name + "'");
  }

  // Header: entries in the given order, data packed back to back; metadata last.
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    host.push_back(tensor.to(Device::cpu));
    const std::uint64_t bytes = host.back().nbytes();
    header[name] = {{"dtype", safetensors_dtype(tensor.dtype())},
                    {"shape", tensor.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail_save(path, std::string("tensor names and metadata must be valid UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // 8 + N is then a multiple of 8

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  const std::string target = link_target(path);
  PendingFile file(path, target);
  file.write(length, sizeof length);
  file.write(text.data(), text.size());
  for (const Tensor& t : host) file.write(t.raw(), t.nbytes());
  file.commit();
  remove_stale_temporaries(target);
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& entry : tensors)
    if (entry.first == name) return entry.second;
  std::string have;
  for (const auto& entry : tensors) have += (have.empty() ? "'" : ", '") + entry.first + "'";
  fail("SafetensorsFile::at",
       "no tensor named '" + name + "' (have: " + (have.empty() ? "none" : have) + ")");
}

SafetensorsFile load_safetensors(const std::string& path) {
  errno = 0;
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) fail_load(path, "cannot open: " + errno_text());
  auto read_at = [&](std::uint64_t offset, void* dst, std::size_t count) {
    errno = 0;
    if (::fseeko(file.get(), static_cast<off_t>(offset), SEEK_SET) != 0 ||
        std::fread(dst, 1, count, file.get()) != count)
      fail_load(path, "cannot read " + std::to_string(count) + " bytes at offset " +
                          std::to_string(offset) + ": " +
                          (std::feof(file.get()) ? "unexpected end of file" : errno_text()));
  };

  errno = 0;
  if (::fseeko(file.get(), 0, SEEK_END) != 0) fail_load(path, "cannot seek: " + errno_text());
  const off_t end = ::ftello(file.get());
  if (end < 0) fail_load(path, "cannot tell its size: " + errno_text());
  const auto size = static_cast<std::uint64_t>(end);
  if (size < 8)
    fail_load(path,
              "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");

  unsigned char length[8];
  read_at(0, length, 8);
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length[i];
  if (header_size > size - 8)
    fail_load(path, "header length " + std::to_string(header_size) + " is larger than the " +
                        std::to_string(size - 8) + " bytes after it (file of " +
                        std::to_string(size) + " bytes)");
  std::string text(header_size, '\0');
  read_at(8, text.data(), text.size());

  // Parse keeping the header's key order (the tie-break between empty tensors at one offset),
  // noting a repeated top-level key (nlohmann would silently keep the last one).
  using Json = nlohmann::ordered_json;
  std::string repeated;
  std::set<std::string> keys;
  const Json::parser_callback_t note_keys = [&](int depth, Json::parse_event_t event,
                                                Json& parsed) {
    if (event == Json::parse_event_t::key && depth == 1 &&
        !keys.insert(parsed.get<std::string>()).second && repeated.empty())
      repeated = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, note_keys);
  } catch (const Json::exception& e) {
    fail_load(path, std::string("invalid JSON header: ") + e.what());
  }
  if (!header.is_object())
    fail_load(path, "header is not a JSON object: it starts with '" +
                        text.substr(0, std::min<std::size_t>(text.size(), 16)) + "'");
  if (!repeated.empty()) fail_load(path, "key '" + repeated + "' appears twice in the header");

  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = size - data_start;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key != kMetadataKey) {
      entries.push_back(parse_entry(path, key, value, data_size));
      continue;
    }
    if (!value.is_object())
      fail_load(path, std::string("\"") + kMetadataKey + "\" should map strings to strings, got " +
                          value.dump());
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string())
        fail_load(path, std::string("\"") + kMetadataKey + "\" value of '" + k +
                            "' should be a string, got " + v.dump());
      out.metadata[k] = v.get<std::string>();
    }
  }

  // File order; tensors with bytes must not share any.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  const Entry* furthest = nullptr;  // the non-empty tensor reaching furthest so far
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (furthest && e.begin < furthest->end)
      fail_load(path, "tensors '" + furthest->name + "' " +
                          offsets_text(furthest->begin, furthest->end) + " and '" + e.name + "' " +
                          offsets_text(e.begin, e.end) + " overlap");
    if (!furthest || e.end > furthest->end) furthest = &e;
  }

  out.tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes() > 0) read_at(data_start + e.begin, t.raw(), t.nbytes());
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace modnorm
