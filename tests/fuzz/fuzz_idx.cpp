// libFuzzer target: read_idx on a pair of arbitrary files, plain and gzip-compressed.
//
// Input layout: byte 0 holds flags (bit 0: gzip the images part, bit 1: gzip the labels part,
// done here so that the reader's gzip path sees meaningful content), bytes 1-4 the images
// part's length L (little-endian, clamped to what is left), then L bytes of images and the
// rest as labels. Parts that are already gzip streams exercise zlib's corrupt-data errors.
// Every refusal must be a modnorm::Error; an accepted pair must give [n x rows*cols] pixels in
// [0, 1] and n labels.
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "modnorm/data.hpp"
#include "modnorm/error.hpp"

namespace {

// `bytes` as one gzip member (zlib's deflate with a gzip wrapper: windowBits 15 + 16).
std::vector<std::uint8_t> gzip(const std::uint8_t* bytes, std::size_t size) {
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    modnorm::fuzz::finding("deflateInit2 failed");
  std::vector<std::uint8_t> out(deflateBound(&s, static_cast<uLong>(size)) + 32);
  s.next_in = const_cast<Bytef*>(bytes);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) modnorm::fuzz::finding("deflate did not finish");
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

const std::string& write_part(modnorm::fuzz::ScratchFile& file, const std::uint8_t* bytes,
                              std::size_t size, bool compress) {
  if (!compress) return file.write(bytes, size);
  const std::vector<std::uint8_t> packed = gzip(bytes, size);
  return file.write(packed.data(), packed.size());
}

void check(const modnorm::Dataset& d) {
  using modnorm::fuzz::finding;
  const std::int64_t n = d.size();
  if (d.rows < 1 || d.cols < 1) finding("accepted images with a zero size");
  if (d.images.shape() != modnorm::Shape{n, d.rows * d.cols})
    finding("images " + d.images.describe() + " for " + std::to_string(n) + " labels");
  for (const float p : d.images.to_vector())
    if (!(p >= 0.0f && p <= 1.0f)) finding("a pixel outside [0, 1]: " + std::to_string(p));
  for (const std::int64_t label : d.labels)
    if (label < 0 || label > 255) finding("a label outside one byte: " + std::to_string(label));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modnorm::fuzz::ScratchFile images("modnorm_fuzz_idx_images");
  static modnorm::fuzz::ScratchFile labels("modnorm_fuzz_idx_labels");
  if (size < 5) return 0;
  const std::uint8_t flags = data[0];
  const std::size_t declared = std::size_t{data[1]} | std::size_t{data[2]} << 8 |
                               std::size_t{data[3]} << 16 | std::size_t{data[4]} << 24;
  const std::uint8_t* rest = data + 5;
  const std::size_t left = size - 5;
  const std::size_t split = std::min(declared, left);
  const std::string& images_path = write_part(images, rest, split, (flags & 1) != 0);
  const std::string& labels_path = write_part(labels, rest + split, left - split, (flags & 2) != 0);
  try {
    check(modnorm::read_idx(images_path, labels_path));
  } catch (const modnorm::Error&) {
    // A refused pair: the expected outcome for most inputs.
  }
  return 0;
}
