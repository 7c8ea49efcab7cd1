#pragma once
// Shared by the libFuzzer targets of tests/fuzz/. The readers under test take paths, so each
// input is written to a scratch file first. A modnorm::Error is the expected way to refuse an
// input; a broken invariant of an accepted input is reported with `finding` (an abort, which
// libFuzzer records with the input that caused it).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace modnorm::fuzz {

/// Stops the run with `what`: an accepted input broke a documented property of the reader.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "modnorm fuzz finding: %s\n", what.c_str());
  std::abort();
}

/// A file in the temporary directory, unique to this process (libFuzzer's -jobs and -fork run
/// several), removed when the process exits normally.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& stem)
      : path_((std::filesystem::temp_directory_path() / (stem + "." + std::to_string(::getpid())))
                  .string()) {}
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  /// Replaces the file's contents with the `size` bytes at `data`; returns its path.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write the scratch file %s\n", path_.c_str());
      std::exit(2);  // the machine, not the library: not a finding
    }
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace modnorm::fuzz
