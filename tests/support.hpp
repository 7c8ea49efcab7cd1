#pragma once
// Shared test helpers: fresh seeded randomness that reports its seed on failure, float64
// references, and a relative-error measure.

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/error.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm::test {

/// A new seed for each call: MODNORM_TEST_SEED if set (to replay a failure), else the clock.
inline std::uint64_t fresh_seed() {
  if (const char* env = std::getenv("MODNORM_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  static std::uint64_t counter = 0;
  return static_cast<std::uint64_t>(
             std::chrono::high_resolution_clock::now().time_since_epoch().count()) +
         counter++;
}

/// A Boost.Test precondition for GPU suites: false, with the reason CTest turns into "skipped"
/// (tests/CMakeLists.txt), when no CUDA device is visible.
inline boost::test_tools::assertion_result cuda_visible(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result visible(cuda_available());
  visible.message() << "no CUDA device visible";
  return visible;
}

/// Integer ids in [0, vocab) as an i32 CPU tensor of `shape` (the input of Embed, labels).
inline Tensor token_ids(Shape shape, std::int64_t vocab, Generator& gen) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(checked_numel(shape, "test")));
  for (std::int32_t& id : ids)
    id = static_cast<std::int32_t>(gen.below(static_cast<std::uint64_t>(vocab)));
  return Tensor::from_vector_i32(ids, std::move(shape));
}

/// The shape of a batch of rows x cols matrices: `batch` followed by rows and cols.
inline Shape batched(Shape batch, std::int64_t rows, std::int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

/// Relative error ||a - b||_2 / max(||b||_2, tiny) of two flat vectors.
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

/// Max elementwise |a - b|.
inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

/// Runs fn, requires a modnorm::Error, and checks every fragment appears in its message.
template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments)
      BOOST_TEST(msg.find(f) != std::string::npos, "message '" << msg << "' lacks '" << f << "'");
    return;
  }
  BOOST_FAIL("no modnorm::Error thrown; expected one mentioning '" << fragments.front() << "'");
}

/// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("modnorm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace modnorm::test

/// Declares `gen`, a Generator with a fresh seed, and attaches "seed N" to every failure in
/// the enclosing scope (replay with MODNORM_TEST_SEED=N).
#define MODNORM_FRESH_GENERATOR(gen)                                                          \
  const std::uint64_t gen##_seed = ::modnorm::test::fresh_seed();                             \
  ::modnorm::Generator gen(gen##_seed);                                                       \
  BOOST_TEST_CHECKPOINT("seed " << gen##_seed);                                               \
  BOOST_TEST_INFO_SCOPE("seed " << gen##_seed << " (replay: MODNORM_TEST_SEED=" << gen##_seed \
                                << ")")
