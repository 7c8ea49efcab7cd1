// libFuzzer target: load_safetensors on arbitrary bytes. Every refusal must be a
// modnorm::Error; an accepted file must give CPU tensors of a supported dtype and rank 0-4
// whose every element can be read (ASan checks the reads), each found again by at().
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "modnorm/error.hpp"
#include "modnorm/safetensors.hpp"

namespace {

void check(const modnorm::SafetensorsFile& file) {
  using modnorm::fuzz::finding;
  for (const auto& [name, t] : file.tensors) {
    if (t.device() != modnorm::Device::cpu) finding("'" + name + "' is not on the CPU");
    if (t.rank() > 4) finding("'" + name + "' has rank " + std::to_string(t.rank()));
    const std::int64_t numel = t.numel();
    std::int64_t product = 1;
    for (const std::int64_t d : t.shape()) {
      if (d < 0) finding("'" + name + "' has a negative dimension");
      product *= d;
    }
    if (numel != product) finding("'" + name + "' numel disagrees with its shape");
    if (t.to_vector_f64().size() != static_cast<std::size_t>(numel))
      finding("'" + name + "' reads back a different number of elements");
    if (!file.at(name).same_storage(t)) finding("at('" + name + "') is another tensor");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modnorm::fuzz::ScratchFile scratch("modnorm_fuzz_safetensors");
  const std::string& path = scratch.write(data, size);
  try {
    check(modnorm::load_safetensors(path));
  } catch (const modnorm::Error&) {
    // A refused file: the expected outcome for most inputs.
  }
  return 0;
}
