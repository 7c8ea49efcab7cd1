#pragma once
// Progress of long work: a redrawn bar on a terminal, plain lines otherwise (logs, CI).

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace modnorm::cli {

class Progress {
 public:
  // Reports to `out`; a bar when `out` is a terminal, else one line per finished unit.
  explicit Progress(std::FILE* out) : out_(out), tty_(isatty(fileno(out)) != 0) {}

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // Step `done` of `total` within `label` (redrawn in place on a terminal only).
  void update(const std::string& label, long done, long total, const std::string& status) {
    if (!tty_) return;
    const int width = 30;
    const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    std::fprintf(out_, "\r%s [%s%s] %ld/%ld %s %.0fs   ", label.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), done, total,
                 status.c_str(), seconds());
    std::fflush(out_);
  }

  // A finished unit: ends the bar's line on a terminal, prints a line otherwise.
  void finish(const std::string& line) {
    std::fprintf(out_, "%s%s (%.1fs)\n", tty_ ? "\r\033[K" : "", line.c_str(), seconds());
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace modnorm::cli
