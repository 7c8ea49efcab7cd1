#pragma once
/// @file concatenation.hpp
/// The concatenation rule (Large et al. 2024, Definition 6; docs/modules.md, "Composition
/// rules") as a base for compounds whose children all see the same input: Add and Tuple derive
/// from it, and so can a new compound that combines its branches' outputs some other way.

#include <limits>
#include <vector>

#include "modnorm/module.hpp"

namespace modnorm {

/// A compound of children that see the same input: mass m = sum m_k (CompoundImpl), sensitivity
/// s = sum s_k, and child k's atoms enter the modular norm with the factor M / m_k (inf when
/// m_k = 0: a child without mass drops out of the max). A derived class adds describe(),
/// forward_tuple and backward_tuple (how the branches' outputs combine), and inherits
/// CompoundImpl's constructor (type name for errors, children).
///
/// Example:
///   class MaxOfImpl final : public modnorm::ConcatenationImpl<MaxOfImpl> {
///    public:
///     using ConcatenationImpl::ConcatenationImpl;   // MaxOfImpl("MaxOf", children)
///     ...
///   };
template <class Derived>
class ConcatenationImpl : public Cloneable<Derived, CompoundImpl> {
 public:
  using Cloneable<Derived, CompoundImpl>::Cloneable;

  /// The sum of the children's sensitivities.
  double sensitivity() const override {
    double s = 0.0;
    for (const Child& child : this->kids()) s += child.module.sensitivity();
    return s;
  }

  /// M / m_k for each child k (inf for a child of mass 0).
  std::vector<double> child_factors() const override {
    const double total = this->mass();
    std::vector<double> factors;
    for (const Child& child : this->kids()) {
      const double m = child.module.mass();
      factors.push_back(m > 0.0 ? total / m : std::numeric_limits<double>::infinity());
    }
    return factors;
  }
};

}  // namespace modnorm
