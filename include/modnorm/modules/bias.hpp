#pragma once
/// @file bias.hpp
/// Bias(n): y = x + b, b a vector of n entries measured in the RMS norm ||b||_2 / sqrt(n)
/// (`euclidean`; docs/theory.md, section 2).

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// A bias atom: mass options.mass (1), sensitivity 1 (y - x does not depend on x), norm
/// `euclidean` unless overridden. forward adds b to every row of x [..., n]; backward
/// accumulates db += sum over rows of dy and returns dy. initialize() gives ||b||_RMS = 1, as for
/// every atom; use AtomOptions::mass = 0 and a zero weight for a frozen zero bias.
///
/// Throws modnorm::Error on n < 1, a negative mass, or an input whose last axis is not n.
///
/// Example: auto net = modnorm::Linear(784, 512) >> modnorm::Bias(512) >> modnorm::ReLU();
class MODNORM_API Bias : public Module {
 public:
  explicit Bias(std::int64_t n, const AtomOptions& options = {});
};

}  // namespace modnorm
