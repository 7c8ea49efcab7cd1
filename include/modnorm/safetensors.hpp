#pragma once
/// @file safetensors.hpp
/// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), so that
/// weights open in PyTorch, JAX and the Hugging Face tools (docs/checkpoints.md).
///
/// Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}`, padded with spaces so that 8 + N is a multiple of 8;
/// then the raw little-endian elements, row-major, with each tensor's bytes at
/// [begin, end) counted from the first byte after the header. DTypes map as f32 <-> "F32",
/// bf16 <-> "BF16", f64 <-> "F64", i32 <-> "I32".

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// Writes `tensors` (in the given order, packed with no gaps) and the string-to-string
/// `metadata` (omitted from the header when empty) to a safetensors file at `path`. Tensors
/// may live on any device (they are copied to the host) and have any dtype and rank 0-4.
///
/// The file is written to a temporary file next to it, `<path>.tmp.<process id>.<n>` (unique
/// per process and call, so concurrent saves to one path from threads or processes do not
/// collide: the last rename wins), flushed to disk, and renamed over `path`, so `path` is
/// either its old self or a complete new file; on failure the temporary file is removed. A
/// save that was killed cannot remove its own: after a successful save, the temporary files
/// of `path` (that pattern exactly) whose process no longer exists are removed too.
/// When `path` is a symbolic link (or a chain of them), the save writes through it: the
/// temporary file is made next to the file the links end at and renamed onto that file, so
/// the links stay links and the file they point to (created if missing) gets the data.
///
/// Throws modnorm::Error, `[save_safetensors] <path>: <what>`, for an empty tensor name, a
/// duplicate name (quoted), the reserved name "__metadata__", a name or metadata string that
/// is not valid UTF-8, and any failure to create, write or rename the file (naming the path and
/// quoting strerror).
///
/// Example:
///   modnorm::save_safetensors("mlp.safetensors",
///                             {{"0.weight", w0}, {"2.weight", w2}},
///                             {{"format", "pt"}, {"step", "1000"}});
MODNORM_API void save_safetensors(const std::string& path,
                                  const std::vector<std::pair<std::string, Tensor>>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

/// The contents of a safetensors file: named CPU tensors in the file's order (by data
/// offset) and the `__metadata__` strings.
///
/// Example:
///   auto file = modnorm::load_safetensors("mlp.safetensors");
///   const modnorm::Tensor& w0 = file.at("0.weight");
///   for (const auto& [name, t] : file.tensors) std::cout << name << " " << t.describe() << "\n";
struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  ///< in data-offset order
  std::map<std::string, std::string> metadata;          ///< empty when the file has none

  /// The tensor called `name`. Throws modnorm::Error (`[SafetensorsFile::at] no tensor named
  /// '...'`, listing the names present) when there is none.
  MODNORM_API const Tensor& at(const std::string& name) const;
};

/// Reads a safetensors file written by save_safetensors() or by any other safetensors writer,
/// as long as its dtypes are F32, BF16, F64 or I32 and ranks are 0-4. Tensors come back on the CPU
/// in the order of their data offsets. Gaps between tensors, and bytes after the last one, are
/// ignored; overlapping tensors are an error.
///
/// Throws modnorm::Error, `[load_safetensors] <path>: <what>`, for: a file that cannot be
/// opened or read; a file shorter than 8 bytes; a header length larger than the rest of the
/// file; a header that is not valid JSON or not an object; an entry without a string "dtype",
/// an array "shape" of non-negative integers or a two-integer "data_offsets"; an unknown or
/// unsupported dtype; a rank above 4; a shape larger than kMaxTensorBytes (checked_numel(),
/// zero dimensions included: [2^62, 4, 0] is refused); a shape whose byte size disagrees with
/// its data_offsets; offsets that run past the data (or begin after they end); two tensors
/// whose bytes overlap (naming both); and a `__metadata__` that is not an object of strings.
///
/// Example:
///   auto file = modnorm::load_safetensors("mlp.safetensors");
///   std::string step = file.metadata.at("step");
MODNORM_API SafetensorsFile load_safetensors(const std::string& path);

}  // namespace modnorm
