#pragma once
/// @file linear.hpp
/// Linear(d_in, d_out): y = x W^T with W of shape d_out x d_in, measured in the scaled
/// spectral norm sqrt(d_in/d_out) sigma_max(W) (the RMS -> RMS operator norm; docs/theory.md,
/// section 2).
/// No bias: add a Bias atom after it when one is wanted.

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// A Linear atom: mass options.mass (1), sensitivity 1, norm `spectral` unless overridden.
/// forward takes x of shape [..., d_in] (one example per row; leading axes are batch axes) and
/// returns [..., d_out]; backward accumulates dW += dy^T x and returns dy W.
///
/// Throws modnorm::Error on d_in or d_out < 1, a negative mass, an input whose last axis is not
/// d_in or whose dtype/device differ from the weight's (naming the module's dotted path).
///
/// Example:
///   modnorm::Linear fc(784, 512);          // weight [512 x 784]
///   modnorm::AtomOptions half;
///   half.mass = 0.5;
///   modnorm::Linear head(512, 10, half);
class MODNORM_API Linear : public Module {
 public:
  Linear(std::int64_t d_in, std::int64_t d_out, const AtomOptions& options = {});
};

}  // namespace modnorm
