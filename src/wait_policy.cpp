// Linked into modnorm's own programs (the `modnorm` command, the examples, the benchmarks and the
// tests), not into the library: they run with OMP_WAIT_POLICY=passive unless the user chose a
// policy (OMP_WAIT_POLICY, libgomp's GOMP_SPINCOUNT or LLVM libomp's KMP_BLOCKTIME). Under the
// OpenMP runtimes' default, idle worker threads spin for milliseconds after every parallel
// region; on a machine that other processes also load, they take the cores that the working
// threads need, and the GPT step ran 6-10x slower (docs/benchmarks.md, "Threads between
// operations").
//
// The runtime reads the variable once, in its own initialiser, and the C library's initialiser
// (which runs before it) resets the environment to the one the process was started with, so
// neither a library nor an early setenv() can choose the policy. This runs from the program's
// .preinit_array, before every library initialiser, and when no policy is set it executes the
// program again (/proc/self/exe, same arguments) with the variable added: one more start-up
// (milliseconds), no other effect. Where that fails the program simply goes on with the default.
#include <unistd.h>

#include <cstring>

namespace {

constexpr const char* kChosen[] = {"OMP_WAIT_POLICY=", "GOMP_SPINCOUNT=", "KMP_BLOCKTIME="};
constexpr int kMaxEnvironment = 4096;  // entries; a larger environment keeps the default

void wait_passively(int /*argc*/, char** argv, char** envp) {
  int n = 0;
  for (; envp[n] != nullptr; ++n) {
    for (const char* name : kChosen)
      if (std::strncmp(envp[n], name, std::strlen(name)) == 0) return;
  }
  if (n + 2 > kMaxEnvironment) return;
  static char* environment[kMaxEnvironment];
  static char passive[] = "OMP_WAIT_POLICY=passive";
  std::memcpy(environment, envp, sizeof(char*) * static_cast<std::size_t>(n));
  environment[n] = passive;
  environment[n + 1] = nullptr;
  execve("/proc/self/exe", argv, environment);  // returns only on failure
}

__attribute__((section(".preinit_array"), used)) void (*const kPreinit)(int, char**,
                                                                        char**) = wait_passively;

}  // namespace
