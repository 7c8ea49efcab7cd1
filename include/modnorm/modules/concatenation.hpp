#pragma once
// The concatenation rule shared by Tuple and Add (docs/modules.md, "Composition rules"):
// children see the same input; mass adds, sensitivity adds, and child k's atoms enter the
// modular norm with factor M / m_k (inf when m_k = 0). Private to modules/.

#include <limits>
#include <vector>

#include "modnorm/module.hpp"

namespace modnorm::detail {

template <class Derived>
class ConcatenationImpl : public Cloneable<Derived, CompoundImpl> {
 public:
  using Cloneable<Derived, CompoundImpl>::Cloneable;

  double sensitivity() const override {
    double s = 0.0;
    for (const Child& child : this->kids()) s += child.module.sensitivity();
    return s;
  }

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

}  // namespace modnorm::detail
