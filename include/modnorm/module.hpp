#pragma once
/// @file module.hpp
/// The module core (docs/modules.md; Large et al. 2024, "Scalable Optimization in the
/// Modular Norm"): a module has a mass, a sensitivity, a forward and a backward map; atoms own
/// one weight measured in a `Norm`; bonds own none; compounds combine children by the
/// composition rules. `Module` is the value-semantic handle users hold (cheap to copy, shared
/// underneath); `ModuleImpl` is what a new atom, bond or compound implements (docs/modules.md).
///
/// The modular norm of a tree is a weighted max over its atoms, ||w|| = max_l c_l ||w_l||_l,
/// where the coefficient c_l of atom l is the product, along its path from the root, of the
/// factor each compound gives that child (Sequential: (M / m_k) * prod_{j > k} s_j;
/// concatenation and Add: M / m_k; Scale(a, M): |a|). Atoms of zero mass have c_l = inf: they
/// drop out of the max and their dualized gradient is zero. Hence dualize(g)_l =
/// dualize_l(g_l) / c_l and the modular dual norm is sum_l ||g_l||^dagger_l / c_l
/// (docs/modules.md, "Composition rules").
///
/// A module object appears at most once in a tree: its forward caches what its backward needs,
/// so a second place would overwrite the first's. Compounds refuse a repeated object, naming
/// both paths; `Module::clone()` makes the independent copy that repeating a block needs.

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/export.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

class ModuleImpl;
class AtomImpl;

/// One atom's weight as seen from a module tree: the tensors are handles to the atom's own
/// storage (update them in place, e.g. with axpy, to change the module).
struct Parameter {
  std::string name;    ///< dotted path from the root, e.g. "0.weight", "block.2.weight"
  Tensor weight;       ///< the atom's weight (Linear: d_out x d_in; Embed: d x vocab; Bias: n)
  Tensor grad;         ///< gradient accumulated by backward(), same shape and dtype
  Norm norm;           ///< the norm the weight is measured in (and its gradient dualized in)
  double mass;         ///< the atom's mass m_l
  double coefficient;  ///< c_l in the modular norm of the tree parameters() was called on
  AtomImpl* atom;      ///< the atom itself (non-owning; valid while the tree lives)
};

/// A module handle. Copies share the module (as PyTorch's `ModuleHolder`); build trees with
/// `Sequential`, `Add`, `Scale` and `>>` (modules/sequential.hpp).
///
/// Example:
///   auto net = modnorm::Linear(784, 512) >> modnorm::ReLU() >> modnorm::Linear(512, 10);
///   modnorm::Generator gen(0);
///   net.initialize(gen);
///   auto y = net.forward(x);            // x: [batch x 784]
///   net.backward(dy);                   // accumulates into parameters()[l].grad
///   auto steps = net.dualize();         // one tensor per parameter, modular norm 1
class MODNORM_API Module {
 public:
  /// Wraps an implementation (how atoms, bonds and compounds construct their handles).
  explicit Module(std::shared_ptr<ModuleImpl> impl);

  /// Total mass M (atoms: their mass; bonds: 0; compounds: the sum over children).
  double mass() const;
  /// Sensitivity s (atoms: 1; bonds: documented per bond; compounds: the composition rules).
  double sensitivity() const;
  /// The modular norm of the current weights, max_l c_l ||w_l||_l (0 if no atom has mass);
  /// spectral norms by orthogonal iteration with `options` (exact SVD with options.exact).
  double norm(const SpectralNormOptions& options = {}) const;
  /// The modular duality map of the current gradients: one tensor per parameters() entry,
  /// dualize(g_l, norm_l, options) / c_l (zeros for atoms of zero mass). Its modular norm is
  /// 1 unless every gradient is zero. Throws as modnorm::dualize, naming the parameter.
  std::vector<Tensor> dualize(const DualizeOptions& options = {}) const;
  /// The modular duality map of any tensors `g`, one per parameters() entry with that
  /// parameter's shape (the optimizer passes its momenta): dualize(g_l, norm_l, options) / c_l,
  /// zeros for atoms of zero mass (whose entry is not read). Atoms of one norm, shape, dtype and
  /// device are mapped as one batch (NormRule::dualize_batch: spectral atoms by one
  /// orthogonalize() of a rank-3 tensor, each matrix its own normalisation). Throws modnorm::Error
  /// on a count or shape mismatch, and as modnorm::dualize, naming the parameter.
  ///
  /// Example: auto steps = net.dualize(momenta);   // momenta[l] shaped like parameter l
  std::vector<Tensor> dualize(const std::vector<Tensor>& g,
                              const DualizeOptions& options = {}) const;
  /// The modular dual norm of the current gradients, sum_l dual_norm(g_l, norm_l) / c_l (each
  /// term the true dual norm of modnorm::dual_norm; with the exact polar factor it equals the
  /// inner product of the gradients with dualize()).
  double dual_norm() const;
  /// Well-normed initialisation: every atom's weight gets norm 1 in its own norm
  /// (AtomImpl::initialize; the default is dualize(randn, norm) with the exact polar factor,
  /// i.e. an orthogonal matrix scaled by sqrt(d_out/d_in) for Linear). Gradients are zeroed.
  void initialize(Generator& gen);

  /// Runs the module on x (one example per row) and remembers what backward() needs.
  /// Throws modnorm::Error naming the module's dotted path on a bad input.
  ///
  /// A module may be part of two trees (e.g. a block shared by two networks); each module
  /// remembers which top-level forward() ran it last, and backward() refuses (rather than
  /// return wrong gradients) when another tree's forward has run a shared module since this
  /// tree's forward: run forward and backward of one tree before the other's forward.
  Tensor forward(const Tensor& x);
  /// Same as forward(x).
  Tensor operator()(const Tensor& x) { return forward(x); }
  /// The general form of forward(): a tuple of tensors in, a tuple out (modula's tuples,
  /// docs/modules.md, "Tuples"). forward(x) is forward_tuple({x}) for a module that gives one
  /// tensor. Throws modnorm::Error when the module takes or gives another number of tensors.
  ///
  /// Example: auto qk = Tuple{Linear(8, 8), Linear(8, 8)}.forward_tuple({x});  // {q, k}
  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x);
  /// The general form of backward(): one gradient per output of the last forward_tuple(),
  /// one input gradient per input (empty tensors when `input_grad` is false).
  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad = true);
  /// Given dL/dy for the last forward(), accumulates dL/dw into every atom's grad (it adds;
  /// call zero_grad() between steps) and returns dL/dx. Throws before any forward().
  /// With `input_grad` false (x is data, as in training) dL/dx is not wanted: the work only it
  /// needs is skipped (a first Linear's dy W, a third of that layer's backward) and an empty
  /// tensor is returned; the weight gradients are the same.
  ///
  /// Example: net.backward(ce.grad, /*input_grad=*/false);
  Tensor backward(const Tensor& dy, bool input_grad = true);
  /// Sets every gradient to zero.
  void zero_grad();

  /// The atoms' weights in depth-first order with dotted names and coefficients.
  std::vector<Parameter> parameters() const;
  /// Moves every weight and gradient to `device` (new storage: Parameter handles taken
  /// before refer to the old tensors). Forward caches are dropped.
  void to(Device device);
  /// A deep copy: the same tree with new storage for every weight and gradient (values
  /// copied) and no forward cache. How a block is repeated: a module object may appear only
  /// once in a tree.
  ///
  /// Example: Module two = block >> modnorm::ReLU() >> block.clone();
  Module clone() const;

  /// The implementation (for compounds walking their children, and for printing). Throws
  /// modnorm::Error on a moved-from handle (as does every method of a moved-from Module).
  ModuleImpl& impl() const;
  /// The shared implementation pointer (null for a moved-from handle).
  const std::shared_ptr<ModuleImpl>& ptr() const { return impl_; }

 private:
  std::shared_ptr<ModuleImpl> impl_;
};

/// Prints the tree, one node per line with its mass, sensitivity and (atoms) norm kind;
/// children are indented under their parent (PyTorch's pretty_print).
MODNORM_API std::ostream& operator<<(std::ostream& os, const Module& module);

/// The modular duality map of some atoms of a tree: for each `params[k]` (entries of a
/// Module::parameters() list, in that list's order) dualize(g[k], norm, options) / c, zeros for
/// an atom of zero mass (whose g[k] is not read); Module::dualize(g) is this over every
/// parameter. Spectral atoms of one shape, dtype and device are orthogonalized as one batch. The
/// optimizer's step plan calls it for the atoms one rank updates. Throws as Module::dualize.
///
/// Example: auto steps = modnorm::dualize(net.parameters(), momenta);
MODNORM_API std::vector<Tensor> dualize(const std::vector<Parameter>& params,
                                        const std::vector<Tensor>& g,
                                        const DualizeOptions& options = {});

/// Rescales the masses of every atom under `module` by one factor so that module.mass() becomes
/// `total` (modula's `tare(absolute=total)`): the atoms keep their mass ratios, so each keeps
/// its share of the step inside the module, while the module's share in a larger tree becomes
/// total / M. Returns the same module (handles share it).
///
/// Throws modnorm::Error when total is negative or not finite, or the module has mass 0.
///
/// Example: Module blocks = tare(repeat(block, 4), 5.0);   // modula's GPT: blocks weigh 5
MODNORM_API Module tare(Module module, double total);

/// A named child of a compound.
struct Child {
  std::string name;  ///< the child's path component ("0", "block", ...)
  Module module;     ///< the child
};

/// What every module implements. Derive from AtomImpl (one weight), BondImpl (no weight) or
/// CompoundImpl (children); docs/modules.md lists exactly what to implement.
class MODNORM_API ModuleImpl {
 public:
  virtual ~ModuleImpl();
  ModuleImpl() = default;
  ModuleImpl& operator=(const ModuleImpl&) = delete;

  /// A deep copy of this module (new weight storage, children cloned, no forward cache).
  /// Derive from `Cloneable<YourImpl, AtomImpl | BondImpl | CompoundImpl>` to get it.
  virtual std::shared_ptr<ModuleImpl> clone() const = 0;

  /// A one-line description: "Linear(784 -> 512)", "ReLU", "Sequential".
  virtual std::string describe() const = 0;
  /// Mass m >= 0.
  virtual double mass() const = 0;
  /// Sensitivity s >= 0.
  virtual double sensitivity() const = 0;
  /// Forward map of a module that takes one tensor and gives one; stores what backward needs.
  /// (The default throws: a module that takes or gives tuples implements forward_tuple.)
  virtual Tensor forward(const Tensor& x);
  /// Backward map: accumulates weight gradients, returns dL/dx. When `input_grad` is false the
  /// caller discards the result: a module may skip work that only dL/dx needs and return
  /// anything (compounds pass the flag on to the children that see the input: the first child
  /// of a Sequential, every branch of an Add).
  virtual Tensor backward(const Tensor& dy, bool input_grad);
  /// Forward map on tuples (docs/modules.md, "Tuples"). The default checks that x is one
  /// tensor and calls forward(); compounds and the bonds that take or give tuples override it.
  virtual std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x);
  /// Backward map on tuples: one gradient per output, one input gradient per input. The
  /// default checks that dy is one tensor and calls backward().
  virtual std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool input_grad);
  /// Drops the state kept for backward (after to(), or to free memory).
  virtual void clear_cache() {}
  /// Which top-level Module::forward() ran this module last (0: none); set by Module::forward.
  std::uint64_t forward_run() const { return forward_run_; }

  /// Compounds: the children, in order (empty for atoms and bonds).
  virtual std::vector<Child> children() const { return {}; }
  /// Compounds: for each child k, the factor its atoms' coefficients are multiplied by in
  /// this module's norm (inf for a child of zero mass). Must have children().size() entries.
  virtual std::vector<double> child_factors() const { return {}; }
  /// Atoms return themselves.
  virtual AtomImpl* atom() { return nullptr; }

  /// The dotted path of this module in the tree it was last placed in ("" for a root).
  const std::string& path() const { return path_; }
  /// "module 'block.2' (Linear(512 -> 512))" or "module (root) (...)", for error messages.
  std::string where() const;
  /// Sets this module's path and, recursively, its children's (compounds call it).
  void set_path(const std::string& path);

 protected:
  /// For clone() only (Cloneable); copies the path.
  ModuleImpl(const ModuleImpl&) = default;

 private:
  friend class Module;
  std::string path_;
  std::uint64_t forward_run_ = 0;
};

/// Gives an implementation its clone() through its copy constructor (the bases' copy
/// constructors deep-copy weights and children); the forward cache is dropped.
///
/// Example: class MyBond final : public modnorm::Cloneable<MyBond, modnorm::BondImpl> { ... };
template <class Derived, class Base>
class Cloneable : public Base {
 public:
  using Base::Base;
  std::shared_ptr<ModuleImpl> clone() const override {
    auto copy = std::make_shared<Derived>(static_cast<const Derived&>(*this));
    copy->clear_cache();
    return copy;
  }
};

/// Children named by their index, for a compound's initializer-list constructor.
MODNORM_API std::vector<Child> unnamed_children(std::initializer_list<Module> modules);

/// Options every atom takes.
struct MODNORM_API AtomOptions {
  /// Mass m_l >= 0: the atom's share m_l / M of the modular step. 0 freezes the atom.
  double mass = 1.0;
  /// Override of the atom's norm (e.g. Norm::sign for an Adam-like layer); unset keeps the
  /// atom's own (Linear: spectral, Embed: column, Bias: euclidean).
  std::optional<Norm> norm;
  /// Dtype of the weight and its gradient.
  DType dtype = DType::f32;
  /// initialize() sets the weight to zero instead of a norm-1 tensor (modded-nanogpt's
  /// zero-initialised output projections: a residual branch starts as the identity's no-op).
  bool zero_init = false;

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~AtomOptions();
};

/// An atom: one weight, its gradient and its norm; sensitivity 1 (Large et al. 2024: atoms
/// are well-normed, ||grad_x f . dx|| <= ||dx|| when ||w|| <= 1).
class MODNORM_API AtomImpl : public ModuleImpl {
 public:
  /// `own_norm` is the atom's natural norm; options.norm overrides it. Throws on a negative
  /// or non-finite mass, naming `type` ("Linear"); the weight starts at zero (initialize()).
  AtomImpl(const char* type, const Shape& weight_shape, const Norm& own_norm,
           const AtomOptions& options);

  double mass() const override { return mass_; }
  double sensitivity() const override { return 1.0; }
  AtomImpl* atom() override { return this; }

  /// Sets the weight to a norm-1 tensor in the atom's norm (default: dualize(randn, norm)
  /// with the exact polar factor for spectral), or to zero when options.zero_init was set, and
  /// zeroes the gradient.
  virtual void initialize(Generator& gen);

  Tensor& weight() { return weight_; }
  Tensor& grad() { return grad_; }
  Norm norm() const { return norm_; }
  /// Moves weight and gradient to `device`.
  void to(Device device);
  /// Sets the mass (tare()); throws on a negative or non-finite mass.
  void set_mass(double mass);

 protected:
  /// Deep-copies the weight and the gradient (clone()).
  AtomImpl(const AtomImpl& other);

 private:
  double mass_;
  Norm norm_;
  bool zero_init_;
  Tensor weight_;
  Tensor grad_;
};

/// A bond: no weights, mass 0.
class MODNORM_API BondImpl : public ModuleImpl {
 public:
  double mass() const override { return 0.0; }
};

/// A compound: owns its children (named "0", "1", ... unless named), mass = sum of masses.
class MODNORM_API CompoundImpl : public ModuleImpl {
 public:
  /// Throws modnorm::Error when one module object appears twice in the new tree, naming both
  /// paths (`[Sequential] module Linear(4 -> 4) appears twice, at '0' and '2'; ...`).
  CompoundImpl(const char* type, std::vector<Child> children);
  double mass() const override;
  std::vector<Child> children() const override { return children_; }

 protected:
  /// Clones every child (clone()).
  CompoundImpl(const CompoundImpl& other);
  const std::vector<Child>& kids() const { return children_; }

 private:
  std::vector<Child> children_;
};

/// Throws "[op] <where>: backward called before forward" unless `forwarded` (every module's
/// backward starts with it).
MODNORM_API void require_forward(const char* op, const ModuleImpl& module, bool forwarded);

}  // namespace modnorm
