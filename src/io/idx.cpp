// The IDX reader (LeCun et al., "THE MNIST DATABASE", file format section): a 4-byte magic
// number 0x0000TTDD (TT = element type, 0x08 for unsigned bytes; DD = number of dimensions),
// DD big-endian 32-bit sizes, then the elements in row-major order. zlib's gzread reads both
// gzip-compressed and plain files.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/data.hpp"
#include "modnorm/error.hpp"

namespace modnorm {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

[[noreturn]] void fail_file(const std::string& path, const std::string& what) {
  fail("read_idx", path + ": " + what);
}

std::string hex32(std::uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(value));
  return buf;
}

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// An open IDX file and its declared layout.
class IdxFile {
 public:
  IdxFile(std::string path, std::uint32_t expected_magic, const char* kind)
      : path_(std::move(path)) {
    errno = 0;
    file_.reset(gzopen(path_.c_str(), "rb"));
    if (!file_)
      fail_file(path_, std::string("cannot open: ") +
                           (errno != 0 ? std::strerror(errno) : "out of memory"));
    gzbuffer(file_.get(), 1u << 17);  // fewer system calls than the 8 KiB default
    const int rank = static_cast<int>(expected_magic & 0xff);
    const std::uint64_t header = 4 + 4 * static_cast<std::uint64_t>(rank);
    unsigned char bytes[4 + 4 * 3];
    std::uint64_t got = read_some(bytes, 4);
    if (got == 4) {
      const std::uint32_t magic = big_endian(bytes);
      if (magic != expected_magic)
        fail_file(path_, "bad magic number " + hex32(magic) + ", expected " +
                             hex32(expected_magic) + " (" + kind + ")");
      got += read_some(bytes + 4, header - 4);
    }
    if (got < header)
      fail_file(path_, "truncated header: expected " + std::to_string(header) + " bytes, got " +
                           std::to_string(got));
    for (int i = 0; i < rank; ++i) dims_.push_back(big_endian(bytes + 4 + 4 * i));
  }

  const std::vector<std::uint32_t>& dims() const { return dims_; }

  // Reads exactly `count` element bytes and checks that nothing follows them. Reads in chunks
  // so that a header declaring a huge size fails on truncation before allocating it all.
  std::vector<unsigned char> read_body(std::uint64_t count) {
    constexpr std::uint64_t kChunk = 1u << 24;
    std::vector<unsigned char> out;
    std::uint64_t got = 0;
    while (got < count) {
      const std::uint64_t want = std::min(kChunk, count - got);
      out.resize(got + want);
      const std::uint64_t n = read_some(out.data() + got, want);
      got += n;
      if (n < want) {
        fail_file(path_, "truncated data: expected " + std::to_string(count) + " bytes after the " +
                             std::to_string(header_bytes()) + "-byte header, got " +
                             std::to_string(got));
      }
    }
    std::uint64_t extra = 0;
    unsigned char scratch[4096];
    for (std::uint64_t n; (n = read_some(scratch, sizeof scratch)) > 0;) extra += n;
    if (extra > 0)
      fail_file(path_, "trailing data: " + std::to_string(extra) + " bytes after the " +
                           std::to_string(count) + " bytes the header declares");
    return out;
  }

 private:
  std::uint64_t header_bytes() const { return 4 + 4 * dims_.size(); }

  static std::uint32_t big_endian(const unsigned char* b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
  }

  // Up to `count` bytes; fewer only at the end of the file. Throws on a gzip error.
  std::uint64_t read_some(unsigned char* dst, std::uint64_t count) {
    const int n = gzread(file_.get(), dst, static_cast<unsigned>(count));
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(file_.get(), &code);
      fail_file(path_,
                std::string("read error: ") + (code == Z_ERRNO ? std::strerror(errno) : msg));
    }
    return static_cast<std::uint64_t>(n);
  }

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  std::vector<std::uint32_t> dims_;
};

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path) {
  IdxFile images(images_path, kImagesMagic, "IDX unsigned-byte images, 3 dimensions");
  IdxFile labels(labels_path, kLabelsMagic, "IDX unsigned-byte labels, 1 dimension");
  const std::uint64_t n = images.dims()[0], rows = images.dims()[1], cols = images.dims()[2];
  if (rows == 0 || cols == 0)
    fail_file(images_path, "images of " + std::to_string(rows) + " x " + std::to_string(cols) +
                               " pixels; both sizes must be positive");
  if (labels.dims()[0] != n)
    fail("read_idx", images_path + ", " + labels_path + ": " + std::to_string(n) + " images but " +
                         std::to_string(labels.dims()[0]) + " labels");

  // The f32 tensor the pixels go into must fit; checked before reading a byte. Each size is
  // below 2^32, so it fits a Shape entry.
  try {
    checked_numel({static_cast<std::int64_t>(n), static_cast<std::int64_t>(rows),
                   static_cast<std::int64_t>(cols)},
                  "read_idx", itemsize(DType::f32));
  } catch (const Error& e) {
    fail_file(images_path, "header declares " + std::to_string(n) + " x " + std::to_string(rows) +
                               " x " + std::to_string(cols) + " pixels: " +
                               std::string(e.what()).substr(std::strlen("[read_idx] ")));
  }
  const std::uint64_t pixels = rows * cols;

  const std::vector<unsigned char> pixel_bytes = images.read_body(n * pixels);
  const std::vector<unsigned char> label_bytes = labels.read_body(n);

  Dataset out;
  out.rows = static_cast<std::int64_t>(rows);
  out.cols = static_cast<std::int64_t>(cols);
  out.images = Tensor::empty({static_cast<std::int64_t>(n), static_cast<std::int64_t>(pixels)});
  float* dst = out.images.data<float>();
  for (std::size_t i = 0; i < pixel_bytes.size(); ++i)
    dst[i] = static_cast<float>(pixel_bytes[i]) / 255.0f;
  out.labels.assign(label_bytes.begin(), label_bytes.end());
  return out;
}

}  // namespace modnorm
