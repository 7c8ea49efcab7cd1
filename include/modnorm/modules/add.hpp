#pragma once
/// @file add.hpp
/// Add (docs/modules.md, "Composition rules"): concatenation of branches on the same input
/// followed by a sum bond; the residual connection is Add{Identity(), block}.

#include <initializer_list>
#include <vector>

#include "modnorm/module.hpp"

namespace modnorm {

/// y = sum_k M_k(x): every branch sees the same input and all outputs must have one shape.
/// Concatenation rules: mass M = sum_k m_k, sensitivity s = sum_k s_k, and the atoms of branch
/// k enter the modular norm with factor M / m_k (inf when m_k = 0). backward gives each branch
/// dy and sums their input gradients.
///
/// Throws modnorm::Error when given no branches, or in forward when two branches give outputs
/// of different shapes (naming the module and both shapes).
///
/// Example: modnorm::Add residual{modnorm::Identity(), modnorm::Linear(64, 64) >> modnorm::ReLU()};
class MODNORM_API Add : public Module {
 public:
  Add(std::initializer_list<Module> branches);
  /// Branches with names ("" means the branch's index).
  explicit Add(std::vector<Child> branches);
};

}  // namespace modnorm
