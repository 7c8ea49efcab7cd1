#pragma once
/// @file scale.hpp
/// Scalar maps: the Identity bond and the scalar multiple Scale(a, M) = a * M.

#include "modnorm/module.hpp"

namespace modnorm {

/// y = x; mass 0, sensitivity 1. The skip branch of a residual: Add{Identity(), block}.
///
/// Example: modnorm::Add residual{modnorm::Identity(), block};
class MODNORM_API Identity : public Module {
 public:
  Identity();
};

/// The scalar multiple a * M (DESIGN.md 4): forward a * M(x); mass m (unchanged),
/// sensitivity |a| * s, and the norm of M's weights unchanged (each child atom keeps its
/// coefficient: factor 1). Scale(a) alone is the bond "multiply by a constant" (mass 0,
/// sensitivity |a|). Inside a Sequential the |a| weighs every layer before it.
/// (modula's `Mul` bond uses a instead of |a| for the sensitivity; a negative a must not give
/// a negative sensitivity.)
///
/// Throws modnorm::Error on a non-finite a.
///
/// Example: modnorm::Add residual{modnorm::Scale(0.75), modnorm::Scale(0.25, block)};
class MODNORM_API Scale : public Module {
 public:
  explicit Scale(double a, Module module = Identity());
};

}  // namespace modnorm
