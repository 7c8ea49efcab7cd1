#pragma once
/// @file rms_norm.hpp
/// RMS normalisation without weights: y = x / sqrt(mean(x^2) + eps) over the last axis.

#include "modnorm/module.hpp"

namespace modnorm {

/// Each row (last axis, width d) is divided by its RMS: y = x / r, r = sqrt(sum x^2 / d + eps),
/// so the output rows have RMS norm ~1 whatever the input's scale. Mass 0; sensitivity 1 by
/// convention: the map is scale-invariant and, at inputs of RMS norm >= 1 (the well-normed
/// regime of Large et al. 2024), 1-Lipschitz in the RMS norm (its Jacobian is (I - y y^T/d)/r).
/// backward: dx = (dy - y * mean(dy * y)) / r, row by row.
///
/// Throws modnorm::Error on eps < 0 (constructor) or a rank-0 input (forward).
///
/// Example: auto block = modnorm::Linear(64, 64) >> modnorm::RMSNorm();
class MODNORM_API RMSNorm : public Module {
 public:
  explicit RMSNorm(double eps = 1e-6);
};

}  // namespace modnorm
