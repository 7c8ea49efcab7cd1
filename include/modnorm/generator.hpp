#pragma once
/// @file generator.hpp
/// A seeded, platform-independent random number generator (xoshiro256** seeded by splitmix64;
/// normals by Box-Muller), so the same seed gives the same tensors with every compiler.

#include <cstdint>

#include "modnorm/export.hpp"

namespace modnorm {

/// Pass one Generator explicitly to everything random (there is no global state).
///
/// Example:
///   modnorm::Generator gen(42);
///   auto x = modnorm::Tensor::randn({3, 4}, gen);
class MODNORM_API Generator {
 public:
  /// Seeds the state from `seed`; equal seeds give equal streams.
  explicit Generator(std::uint64_t seed);
  /// The seed this generator was created with (print it to reproduce a run).
  std::uint64_t seed() const { return seed_; }
  /// Next 64 uniformly random bits.
  std::uint64_t next_u64();
  /// Uniform double in [0, 1).
  double uniform();
  /// Standard normal double (mean 0, variance 1).
  double normal();
  /// Uniform integer in [0, n); throws modnorm::Error if n == 0.
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t seed_;
  std::uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace modnorm
