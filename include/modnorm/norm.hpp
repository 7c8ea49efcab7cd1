#pragma once
/// @file norm.hpp
/// A norm as a rule object (modula's atom owns its `dualize`; here the norm does): a `NormRule`
/// owns the norm of a weight, the dual norm of a gradient, the duality map, the shape factor
/// of that map and its cost, and `Norm` is the handle atoms, parameters, reports and the
/// optimizer hold. The library's own rules are `Norm::spectral`, `Norm::column`, `Norm::sign`
/// and `Norm::euclidean` (their formulas are at the Norm class); a new norm is one class
/// derived from NormRule, wrapped by `Norm(std::make_shared<MyRule>())` (docs/architecture.md,
/// "Adding a norm"). Nothing outside a rule asks which norm it is.

#include <memory>
#include <string>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

struct OrthogonalizeOptions;
struct SpectralNormOptions;

/// The rules of one norm on weights W (and their gradients G) of the shapes it accepts; the
/// inner product is the Frobenius one, <A, B> = sum_ij A_ij B_ij. A rule is immutable and shared
/// by every atom measured in it.
///
/// The library calls a rule's methods only with inputs it has checked (non-empty, finite, of a
/// shape shape_requirement() accepts), so a rule computes and trusts them; the public functions
/// of dualize.hpp (dualize(), dual_norm(), norm(), dual_pairing()) do those checks and add the
/// dual norm correction, and the module core and the optimizer call them or the rule.
///
/// Example (the max-row norm, max_i ||W[i,:]||_2, whose duality map normalises each row):
///   struct RowNorm final : modnorm::NormRule {
///     const char* name() const override { return "row"; }
///     std::string shape_requirement(const modnorm::Shape& s) const override {
///       return s.size() == 2 ? "" : "a matrix (rank 2)";
///     }
///     double norm(const modnorm::Tensor& w, const modnorm::SpectralNormOptions&) const override;
///     double dual_norm(const modnorm::Tensor& g) const override;
///     modnorm::Tensor dualize(const modnorm::Tensor& g,
///                             const modnorm::OrthogonalizeOptions&) const override;
///   };
///   modnorm::Norm row(std::make_shared<RowNorm>());
///   modnorm::AtomOptions o;  o.norm = row;  modnorm::Linear layer(4, 3, o);
class MODNORM_API NormRule {
 public:
  virtual ~NormRule();

  /// The norm's name, as printed in module trees and reports ("spectral").
  virtual const char* name() const = 0;

  /// "" when a weight of `shape` can be measured in this norm, otherwise what it needs, as
  /// "a matrix (rank 2)": the checks then throw `[op] norm NAME needs <that>, got <shape>`.
  /// Default: every shape (the tensor as a flat list of its entries).
  virtual std::string shape_requirement(const Shape& shape) const;

  /// ||W||, in W's units. `options` says how a rule estimates a spectral norm (spectral_norm());
  /// other rules ignore it.
  virtual double norm(const Tensor& W, const SpectralNormOptions& options) const = 0;

  /// The true dual norm ||G||^dagger = max_{||T|| = 1} <G, T>, in G's units.
  virtual double dual_norm(const Tensor& G) const = 0;

  /// The duality map argmax_{||T|| = 1} <G, T>: same shape, dtype and device as G; a zero G gives
  /// zeros, never NaN. `options` says how a rule that orthogonalizes computes U V^T (others
  /// ignore it).
  virtual Tensor dualize(const Tensor& G, const OrthogonalizeOptions& options) const = 0;

  /// dualize(G_k, options) of several tensors of one shape, dtype and device at once (a tree's
  /// atoms of one shape under this norm, Module::dualize). Default: one by one; the spectral
  /// rule orthogonalizes them as one batch (one batched product per step on the GPU).
  virtual std::vector<Tensor> dualize_batch(const std::vector<Tensor>& G,
                                            const OrthogonalizeOptions& options) const;

  /// The factor of the duality map that depends on the shape alone: spectral's sqrt(d_out/d_in)
  /// in dualize(G) = sqrt(d_out/d_in) U V^T; 1 for the other built-in rules (default). The
  /// optimizer's learning-rate rules that resize an orthogonalized matrix (LrRule::muon,
  /// Convention::optax) and the orthogonalized pairing of the dual norm correction replace or
  /// remove it.
  virtual double shape_factor(const Shape& shape) const;

  /// Whether dualize(G) is shape_factor(shape) times the polar factor U V^T of G (of each matrix
  /// of a batch), computed by orthogonalize(options): then the optimizer may resize that matrix
  /// by another lr rule, and the sharded step may orthogonalize a tall one split by rows among
  /// ranks (orthogonalize_rows). Default false.
  virtual bool orthogonalizes() const;

  /// The flops of one duality map of a weight of `shape` under `options`, for the shard planner
  /// (plan_shards), which balances these across ranks; 0 (default) for elementwise work, which
  /// the planner balances by element count instead.
  virtual double cost(const Shape& shape, const OrthogonalizeOptions& options) const;
};

/// The norm a weight is measured in: a handle to a shared NormRule (cheap to copy; two handles
/// are equal when they hold the same rule object). The library's rules (docs/theory.md; W is
/// `d_out x d_in`, n = numel):
///
/// - `spectral`:  norm sqrt(d_in/d_out) sigma_max(W); dualize sqrt(d_out/d_in) U V^T;
///   dual norm sqrt(d_out/d_in) ||G||_*.
/// - `column`:    norm max_j ||W[:,j]||_RMS; dualize column j -> G[:,j] / ||G[:,j]||_RMS (a zero
///   column stays zero); dual norm sum_j sqrt(d_out) ||G[:,j]||_2.
/// - `sign`:      norm max_ij |W_ij|; dualize sign(G); dual norm sum_ij |G_ij|.
/// - `euclidean`: norm ||w||_RMS = ||w||_2 / sqrt(n); dualize g / ||g||_RMS; dual norm
///   sqrt(n) ||g||_2.
///
/// `spectral` is the RMS->RMS operator norm of a Linear weight; `column` the l1->RMS operator
/// norm of an embedding table (`d x vocab`, one column per token); `sign` the l1->l_inf
/// operator norm (the max-abs entry); `euclidean` the RMS norm of a vector (bias, gain).
/// `column` needs a matrix (rank 2); `spectral` a matrix or a batch of matrices
/// [B, d_out, d_in] (rank 3), measured by the largest of their norms, max_b sqrt(d_in/d_out)
/// sigma_max(W_b): then dualize maps each matrix on its own and the dual norm is the sum of
/// theirs (a per-tap Conv2D weight, docs/theory.md); `sign` and `euclidean` accept any rank and
/// treat the tensor as a flat list of its entries. `||G||_*` is the nuclear norm (the sum of
/// singular values) and G = U S V^T the reduced SVD. Each of the four is one file of
/// src/norms/.
///
/// Example: modnorm::Tensor d = modnorm::dualize(grad, modnorm::Norm::spectral);
class MODNORM_API Norm {
 public:
  static const Norm spectral;   ///< RMS->RMS operator norm (Linear, Conv2D)
  static const Norm column;     ///< l1->RMS operator norm (Embed)
  static const Norm sign;       ///< l1->l_inf operator norm, the max-abs entry
  static const Norm euclidean;  ///< RMS norm of a vector (Bias)

  /// Wraps a rule. Throws modnorm::Error on a null rule.
  ///
  /// Example: modnorm::Norm row(std::make_shared<RowNorm>());
  explicit Norm(std::shared_ptr<const NormRule> rule);

  /// The rule this norm follows.
  const NormRule& rule() const { return *rule_; }
  /// Whether both handles hold the same rule object.
  friend bool operator==(const Norm& a, const Norm& b) { return a.rule_ == b.rule_; }
  friend bool operator!=(const Norm& a, const Norm& b) { return a.rule_ != b.rule_; }

 private:
  std::shared_ptr<const NormRule> rule_;
};

/// The rule's name: "spectral", "column", "sign", "euclidean" for the library's rules.
MODNORM_API const char* to_string(const Norm& norm);

}  // namespace modnorm
