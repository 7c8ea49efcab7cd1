// libFuzzer target: a GPT checkpoint through `modnorm inspect` and `modnorm sample` as the
// command runs them (src/cli/inspect.cpp, src/cli/lm.cpp's run_sample, both on
// load_gpt: the metadata, the shape against the weights the file holds, and the weights checked
// finite and of finite norm). Sampling continues the first character of the checkpoint's
// vocabulary for a few characters. Every refusal must be a modnorm::Error; anything else (a
// crash, a sanitizer report, another exception, a hang) is a finding. Standard output, the
// table and the text, is discarded.
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>

#include "cli/inspect.hpp"
#include "cli/lm.hpp"
#include "fuzz_support.hpp"
#include "modnorm/modnorm.hpp"

namespace {

// The first character of the metadata's vocabulary, as UTF-8 ("a" when there is none).
std::string first_character(const std::string& path) {
  try {
    const modnorm::SafetensorsFile file = modnorm::load_safetensors(path);
    const auto it = file.metadata.find("vocabulary");
    if (it == file.metadata.end()) return "a";
    const std::u32string characters = modnorm::decode_utf8(it->second, "[fuzz]");
    return characters.empty() ? "a" : modnorm::encode_utf8(characters.substr(0, 1));
  } catch (const modnorm::Error&) {
    return "a";
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cout.setstate(std::ios::badbit);  // inspect's table and sample's text go nowhere
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static modnorm::fuzz::ScratchFile scratch("modnorm_fuzz_gpt_checkpoint");
  const std::string& path = scratch.write(data, size);
  try {
    modnorm::cli::run_inspect(path);
  } catch (const modnorm::Error&) {
    // Refused: expected for most mutations.
  }
  modnorm::cli::SampleConfig sample;
  sample.checkpoint = path;
  sample.prompt = first_character(path);
  sample.tokens = 4;
  try {
    modnorm::cli::run_sample(sample);
  } catch (const modnorm::Error&) {
    // Refused: expected for most mutations.
  }
  return 0;
}
