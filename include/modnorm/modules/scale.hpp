#pragma once
/// @file scale.hpp
/// Scalar maps: the Identity bond and the scalar multiple Scale(a, M) = a * M.

#include "modnorm/module.hpp"

namespace modnorm {

/// y = x (one tensor or a tuple); mass 0, sensitivity 1. The skip branch of a residual:
/// Add{Identity(), block}.
///
/// Example: modnorm::Add residual{modnorm::Identity(), block};
class MODNORM_API Identity : public Module {
 public:
  Identity();
};

/// The scalar multiple a * M = Mul(a) o M (docs/modules.md; modula's `a * M`): forward
/// a * M(x); mass m (unchanged), sensitivity |a| * s, and ||w||_{aM} = |a| ||w||_M: every atom
/// of M has its coefficient multiplied by |a|, so its dualized update is divided by |a|.
/// `Scale(a, M)` and `M >> Scale(a)` are the same module (same mass, sensitivity,
/// coefficients and duality map). Scale(a) alone is the bond "multiply by a constant" (mass 0,
/// sensitivity |a|); inside a Sequential the |a| weighs every layer before it. (modula's `Mul`
/// bond uses a instead of |a| for the sensitivity; a negative a must not give a negative
/// sensitivity.)
///
/// Throws modnorm::Error when a is zero or not finite (0 * M would give M's atoms coefficient
/// 0, an unbounded dual step).
///
/// Example: modnorm::Add residual{modnorm::Scale(0.75), modnorm::Scale(0.25, block)};
class MODNORM_API Scale : public Module {
 public:
  explicit Scale(double a, Module module = Identity());
};

}  // namespace modnorm
