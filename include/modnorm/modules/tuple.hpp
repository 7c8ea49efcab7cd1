#pragma once
/// @file tuple.hpp
/// Tuple (modula's `(A, B)`; docs/modules.md, "Tuples"): children on the same input whose
/// outputs are kept apart.

#include <initializer_list>
#include <vector>

#include "modnorm/module.hpp"

namespace modnorm {

/// y = (M_1(x), ..., M_n(x)): every child sees the same input (one tensor or a tuple) and the
/// outputs are concatenated into one flat tuple (a child that gives a tuple contributes all of
/// its tensors). The concatenation rules: mass M = sum_k m_k, sensitivity s = sum_k s_k, and
/// the atoms of child k enter the modular norm with factor M / m_k (inf when m_k = 0), as for
/// Add. backward_tuple() splits the output gradients among the children and sums their input
/// gradients. A Tuple gives more than one tensor: run it with forward_tuple(), or follow it by
/// a module that takes a tuple.
///
/// Throws modnorm::Error when given no children.
///
/// Example:
///   modnorm::Tuple qk{modnorm::Linear(64, 64), modnorm::Linear(64, 64)};
///   std::vector<modnorm::Tensor> out = qk.forward_tuple({x});   // {q, k}
class MODNORM_API Tuple : public Module {
 public:
  Tuple(std::initializer_list<Module> children);
  /// Children with names ("" means the child's index).
  explicit Tuple(std::vector<Child> children);
};

}  // namespace modnorm
