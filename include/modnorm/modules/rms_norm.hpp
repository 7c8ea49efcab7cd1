#pragma once
/// @file rms_norm.hpp
/// The two halves of a LayerNorm without weights, each a bond (mass 0): RMSNorm divides by the
/// RMS, y = x / sqrt(mean(x^2) + eps), and MeanSubtract subtracts the mean (modula's RMSDivide
/// and MeanSubtract), over the last axis or over each example.

#include <cstdint>

#include "modnorm/module.hpp"

namespace modnorm {

/// The axes a normalising bond works over.
enum class NormAxes : std::uint8_t {
  last,     ///< the last axis: each row of features (modula's dim=-1)
  example,  ///< every axis but the first: each example whole, e.g. an image [H, W, C]
            ///< (modula's ResCNN, dim=(1, 2, 3))
};

/// Each group of d entries (the last axis, or each example: NormAxes) is divided by its RMS:
/// y = x / r, r = sqrt(sum x^2 / d + eps), so the output has RMS norm ~1 whatever the input's
/// scale. Mass 0; sensitivity 1 by convention: the map is scale-invariant and, at inputs of RMS
/// norm >= 1 (the well-normed regime of Large et al. 2024), 1-Lipschitz in the RMS norm (its
/// Jacobian is (I - y y^T/d)/r). backward: dx = (dy - y * mean(dy * y)) / r, group by group.
///
/// Throws modnorm::Error on eps < 0 (constructor) or an input that has no axis to normalise
/// over or whose groups are empty (forward).
///
/// Example: auto block = modnorm::Linear(64, 64) >> modnorm::RMSNorm();
///          auto per_image = modnorm::RMSNorm(1e-6, modnorm::NormAxes::example);  // NHWC
class MODNORM_API RMSNorm : public Module {
 public:
  explicit RMSNorm(double eps = 1e-6, NormAxes axes = NormAxes::last);
};

/// Each group of d entries (the last axis, or each example: NormAxes) minus its mean:
/// y = x - mean(x). Mass 0; sensitivity 1 (modula bond.py MeanSubtract): the map is the
/// orthogonal projection I - 1 1^T / d, so ||y||_RMS <= ||x||_RMS. backward applies the same
/// projection: dx = dy - mean(dy).
///
/// Throws modnorm::Error in forward on an input that has no axis to work over or whose groups
/// are empty.
///
/// Example: auto residue = modnorm::Conv2D(8, 8, 3, 1, 1) >> modnorm::Abs() >>
///                         modnorm::MeanSubtract(modnorm::NormAxes::example);
class MODNORM_API MeanSubtract : public Module {
 public:
  explicit MeanSubtract(NormAxes axes = NormAxes::last);
};

}  // namespace modnorm
