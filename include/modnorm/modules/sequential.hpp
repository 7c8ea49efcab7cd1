#pragma once
/// @file sequential.hpp
/// Sequential composition (docs/modules.md; Large et al. 2024, module composition): children
/// applied in order, M = M_n o ... o M_1.

#include <initializer_list>
#include <vector>

#include "modnorm/module.hpp"

namespace modnorm {

/// Children applied first to last. Mass M = sum_k m_k; sensitivity s = prod_k s_k; the
/// atoms of child k enter the modular norm with factor (M / m_k) * prod_{j > k} s_j (inf when
/// m_k = 0: a weightless child drops out of the max). For two children this is
/// ||(w1, w2)|| = max(s2 (M/m1) ||w1||, (M/m2) ||w2||). Children are named "0", "1", ...
/// unless given names. `a >> b` builds the same thing (module.hpp).
///
/// Throws modnorm::Error when given no children.
///
/// Example:
///   modnorm::Sequential mlp{modnorm::Linear(784, 512), modnorm::ReLU(), modnorm::Linear(512, 10)};
///   modnorm::Sequential named({{"body", mlp}, {"head", modnorm::Linear(10, 10)}});
class MODNORM_API Sequential : public Module {
 public:
  Sequential(std::initializer_list<Module> children);
  /// Children with names ("" means the child's index).
  explicit Sequential(std::vector<Child> children);
};

/// Composition, left first: `a >> b` is Sequential{a, b} (b applied after a); sequences
/// built with >> flatten, so `a >> b >> c` has children 0, 1, 2. Each >> builds a new
/// Sequential (linear in its length): build a long chain with Sequential(std::vector<Child>).
///
/// Throws modnorm::Error when a module object would appear twice (use Module::clone()).
///
/// Example: modnorm::Module net = modnorm::Linear(4, 8) >> modnorm::ReLU() >> modnorm::Linear(8,
/// 2);
MODNORM_API Module operator>>(const Module& a, const Module& b);

/// `times` copies of `block` in sequence (modula's `block ** times`): the block itself first,
/// then times - 1 deep copies (Module::clone()), named "0", "1", ...; each copy has the
/// block's current weights and its own storage.
///
/// Throws modnorm::Error when times < 1.
///
/// Example: Module stack = modnorm::repeat(residual_block, 4);   // 4 independent blocks
MODNORM_API Module repeat(const Module& block, int times);

}  // namespace modnorm
