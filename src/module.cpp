// The module core: the handle, the generic tree walks (parameters with their coefficients,
// modular norm, duality map, dual norm, initialisation) and printing. The composition rules
// themselves live in each compound's child_factors() (src/modules/sequential.cpp, add.cpp,
// scale.cpp); everything here is generic over the tree (docs/modules.md).
#include "modnorm/module.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <ostream>
#include <tuple>

#include "dualize_detail.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "module_detail.hpp"
#include "parameter_checks.hpp"

namespace modnorm {
namespace {
using detail::for_parameter;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Depth-first: every atom under `module` with the product of the factors along its path.
void collect(ModuleImpl& module, const std::string& prefix, double factor,
             std::vector<Parameter>& out) {
  if (AtomImpl* atom = module.atom()) {
    // An atom's own norm is its norm (M / m = 1); with mass 0 it drops out of the max.
    const double c = atom->mass() > 0.0 ? factor : kInf;
    out.push_back({join(prefix, "weight"), atom->weight(), atom->grad(), atom->norm(), atom->mass(),
                   c, atom});
    return;
  }
  const std::vector<Child> children = module.children();
  const std::vector<double> factors = module.child_factors();
  if (factors.size() != children.size())
    fail("Module.parameters", module.where() + ": child_factors() has " +
                                  std::to_string(factors.size()) + " entries for " +
                                  std::to_string(children.size()) + " children");
  for (std::size_t k = 0; k < children.size(); ++k)
    collect(children[k].module.impl(), join(prefix, children[k].name), factor * factors[k], out);
}

void check_mass(const char* op, double mass) {
  if (!(mass >= 0.0) || !std::isfinite(mass))
    fail(op, "mass must be a finite number >= 0, got " + std::to_string(mass));
}

// Every module object under `module` (at `path`) in `seen`; throws on the first one met twice.
void check_once(const char* op, const ModuleImpl& module, const std::string& path,
                std::map<const ModuleImpl*, std::string>& seen) {
  const auto [first, fresh] = seen.emplace(&module, path);
  if (!fresh)
    fail(op, "module " + module.describe() + " appears twice in the tree, at '" + first->second +
                 "' and '" + path +
                 "' (a module caches its last input, so one object cannot be in two places); "
                 "use clone() to repeat it");
  for (const Child& child : module.children())
    check_once(op, child.module.impl(), join(path, child.name), seen);
}

// Each child's name is its path component: distinct and without the '.' that joins components,
// so that no two places in a tree share a path (an unnamed child is named by its position, which
// a given name may already hold: {{"1", a}, {"", b}}).
void check_names(const char* op, const std::vector<Child>& children) {
  std::map<std::string, std::size_t> index;
  for (std::size_t k = 0; k < children.size(); ++k) {
    const std::string& name = children[k].name;
    if (name.find('.') != std::string::npos)
      fail(op, "child " + std::to_string(k) + " is named '" + name +
                   "', but '.' separates the names of a path");
    const auto [first, fresh] = index.emplace(name, k);
    if (!fresh)
      fail(op, "children " + std::to_string(first->second) + " and " + std::to_string(k) +
                   " are both named '" + name +
                   "' (an unnamed child is named by its position); "
                   "each child's parameters are registered under its own name");
  }
}

void print(std::ostream& os, const ModuleImpl& module, const std::string& name, int depth) {
  os << std::string(2 * depth, ' ');
  if (!name.empty()) os << '(' << name << ") ";
  os << module.describe() << "  mass " << module.mass() << "  sensitivity " << module.sensitivity();
  if (AtomImpl* atom = const_cast<ModuleImpl&>(module).atom())
    os << "  norm " << to_string(atom->norm());
  os << '\n';
  for (const Child& child : module.children())
    print(os, child.module.impl(), child.name, depth + 1);
}

}  // namespace

// ---- ModuleImpl --------------------------------------------------------------------------------

ModuleImpl::~ModuleImpl() = default;

std::string ModuleImpl::where() const {
  return "module " + (path_.empty() ? std::string("(root)") : "'" + path_ + "'") + " (" +
         describe() + ")";
}

void ModuleImpl::set_path(const std::string& path) {
  path_ = path;
  for (const Child& child : children()) child.module.impl().set_path(join(path, child.name));
}

Tensor ModuleImpl::forward(const Tensor&) {
  fail("Module.forward", where() + ": takes a tuple; call forward_tuple");
}

Tensor ModuleImpl::backward(const Tensor&, bool) {
  fail("Module.backward", where() + ": takes a tuple; call backward_tuple");
}

std::vector<Tensor> ModuleImpl::forward_tuple(const std::vector<Tensor>& x) {
  if (x.size() != 1)
    fail("Module.forward",
         where() + ": takes one tensor, got a tuple of " + std::to_string(x.size()));
  return {forward(x[0])};
}

std::vector<Tensor> ModuleImpl::backward_tuple(const std::vector<Tensor>& dy, bool input_grad) {
  if (dy.size() != 1)
    fail("Module.backward",
         where() + ": gives one tensor, got " + std::to_string(dy.size()) + " output gradients");
  return {backward(dy[0], input_grad)};
}

void require_forward(const char* op, const ModuleImpl& module, bool forwarded) {
  if (!forwarded) fail(op, module.where() + ": backward called before forward");
}

// ---- AtomImpl
// ------------------------------------------------------------------------------------

// Out of line: exported for interpreters (module.hpp).
AtomOptions::~AtomOptions() = default;

AtomImpl::AtomImpl(const char* type, const Shape& weight_shape, const Norm& own_norm,
                   const AtomOptions& options)
    : mass_(options.mass),
      norm_(options.norm.value_or(own_norm)),
      zero_init_(options.zero_init),
      weight_(Tensor::zeros(weight_shape, options.dtype)),
      grad_(Tensor::zeros(weight_shape, options.dtype)) {
  check_mass(type, options.mass);
  detail::check_shape(type, norm_, weight_shape, to_string(weight_shape));
}

void AtomImpl::initialize(Generator& gen) {
  // dualize() of a Gaussian has norm exactly 1 in every norm (docs/modules.md: well-normed init);
  // for spectral the exact polar factor gives an orthogonal matrix scaled by sqrt(d_out/d_in).
  grad_ = Tensor::zeros(weight_.shape(), weight_.dtype(), weight_.device());
  if (zero_init_) {
    weight_ = Tensor::zeros(weight_.shape(), weight_.dtype(), weight_.device());
    return;
  }
  DualizeOptions exact;
  exact.orthogonalize.method = OrthogonalizeMethod::svd;
  const Tensor g = Tensor::randn(weight_.shape(), gen, DType::f64);
  weight_ = modnorm::dualize(g, norm_, exact).to(weight_.dtype()).to(weight_.device());
}

AtomImpl::AtomImpl(const AtomImpl& other)
    : ModuleImpl(other),
      mass_(other.mass_),
      norm_(other.norm_),
      zero_init_(other.zero_init_),
      weight_(other.weight_.clone()),
      grad_(other.grad_.clone()) {}

void AtomImpl::set_mass(double mass) {
  check_mass("AtomImpl.set_mass", mass);
  mass_ = mass;
}

void AtomImpl::to(Device device) {
  weight_ = weight_.to(device);
  grad_ = grad_.to(device);
  clear_cache();
}

// ---- CompoundImpl -------------------------------------------------------------------------------

CompoundImpl::CompoundImpl(const char* type, std::vector<Child> children)
    : children_(std::move(children)) {
  for (std::size_t k = 0; k < children_.size(); ++k)
    if (children_[k].name.empty()) children_[k].name = std::to_string(k);
  check_names(type, children_);
  std::map<const ModuleImpl*, std::string> seen;
  for (const Child& child : children_) check_once(type, child.module.impl(), child.name, seen);
  set_path("");
}

CompoundImpl::CompoundImpl(const CompoundImpl& other) : ModuleImpl(other) {
  for (const Child& child : other.children_)
    children_.push_back({child.name, Module(child.module.impl().clone())});
  set_path("");
}

double CompoundImpl::mass() const {
  double m = 0.0;
  for (const Child& child : children_) m += child.module.mass();
  return m;
}

std::vector<Child> unnamed_children(std::initializer_list<Module> modules) {
  std::vector<Child> children;
  for (const Module& m : modules) children.push_back({"", m});
  return children;
}

// ---- Module
// --------------------------------------------------------------------------------------

Module::Module(std::shared_ptr<ModuleImpl> impl) : impl_(std::move(impl)) {
  if (!impl_) fail("Module", "null implementation");
}

ModuleImpl& Module::impl() const {
  if (!impl_) fail("Module", "this handle was moved from; assign a module to it before use");
  return *impl_;
}

double Module::mass() const {
  return impl().mass();
}
double Module::sensitivity() const {
  return impl().sensitivity();
}

std::vector<Parameter> Module::parameters() const {
  std::vector<Parameter> out;
  collect(impl(), "", 1.0, out);
  return out;
}

double Module::norm(const SpectralNormOptions& options) const {
  double n = 0.0;
  for (const Parameter& p : parameters()) {
    if (detail::frozen(p)) continue;
    n = std::max(n, p.coefficient * for_parameter("Module.norm", p.name, [&] {
                      return modnorm::norm(p.weight, p.norm, options);
                    }));
  }
  return n;
}

std::vector<Tensor> Module::dualize(const DualizeOptions& options) const {
  std::vector<Tensor> grads;
  for (const Parameter& p : parameters()) grads.push_back(p.grad);
  return dualize(grads, options);
}

std::vector<Tensor> Module::dualize(const std::vector<Tensor>& g,
                                    const DualizeOptions& options) const {
  return modnorm::dualize(parameters(), g, options);
}

std::vector<Tensor> dualize(const std::vector<Parameter>& params, const std::vector<Tensor>& g,
                            const DualizeOptions& options) {
  return detail::dualize_parameters(params, g, options, detail::InputValues::checked);
}

namespace detail {

std::vector<Tensor> dualize_parameters(const std::vector<Parameter>& params,
                                       const std::vector<Tensor>& g, const DualizeOptions& options,
                                       InputValues values) {
  constexpr const char* op = "Module.dualize";
  if (g.size() != params.size())
    fail(op, "got " + std::to_string(g.size()) + " tensors for " + std::to_string(params.size()) +
                 " parameters");
  std::vector<Tensor> out(params.size());
  // Atoms of one norm, shape, dtype and device, mapped as one batch (below; the spectral rule
  // orthogonalizes them together).
  std::map<std::tuple<const NormRule*, Shape, DType, Device>, std::vector<std::size_t>> batches;
  for (std::size_t l = 0; l < params.size(); ++l) {
    const Parameter& p = params[l];
    if (frozen(p)) {
      out[l] = Tensor::zeros(p.weight.shape(), p.weight.dtype(), p.weight.device());
      continue;
    }
    check_coefficient(op, p);
    if (g[l].shape() != p.weight.shape())
      fail(op, "parameter '" + p.name + "': tensor " + to_string(g[l].shape()) +
                   " does not match the weight " + to_string(p.weight.shape()));
    for_parameter(op, p.name,
                  [&] { check_dualize("dualize", g[l], p.norm, options.orthogonalize, values); });
    // dualize_M(g)_l = dualize_l(g_l) / c_l (docs/modules.md, "The modular duality map").
    if (options.dual_norm_correction.enabled) {  // each atom's own correction
      out[l] = for_parameter(op, p.name, [&] {
        return scale(dualize_checked(g[l], p.norm, options), 1.0 / p.coefficient);
      });
      continue;
    }
    batches[{&p.norm.rule(), g[l].shape(), g[l].dtype(), g[l].device()}].push_back(l);
  }
  for (const auto& [key, atoms] : batches) {
    std::vector<Tensor> inputs;
    for (const std::size_t l : atoms) inputs.push_back(g[l]);
    const NormRule* rule = std::get<0>(key);  // a lambda may not capture a structured binding
    const std::vector<Tensor> directions = for_parameter(op, params[atoms[0]].name, [&] {
      return rule->dualize_batch(inputs, options.orthogonalize);
    });
    for (std::size_t k = 0; k < atoms.size(); ++k)
      out[atoms[k]] = scale(directions[k], 1.0 / params[atoms[k]].coefficient);
  }
  return out;
}

}  // namespace detail

double Module::dual_norm() const {
  constexpr const char* op = "Module.dual_norm";
  double total = 0.0;
  for (const Parameter& p : parameters()) {
    if (detail::frozen(p)) continue;
    detail::check_coefficient(op, p);
    total += for_parameter(op, p.name, [&] { return modnorm::dual_norm(p.grad, p.norm); }) /
             p.coefficient;
  }
  return total;
}

void Module::initialize(Generator& gen) {
  for (const Parameter& p : parameters()) p.atom->initialize(gen);
}

// Top-level forward runs are numbered so that a module shared by two trees can tell whose
// forward filled its cache: `run` is the number of the run in progress on this thread (0 when
// none), `counter` the last number handed out. The same for backward: `expected` is the run the
// top-level backward in progress belongs to.
namespace {
std::atomic<std::uint64_t> counter{0};
thread_local std::uint64_t run = 0;
thread_local std::uint64_t expected = 0;

// Sets `slot` to `value` for the lifetime of the guard, then back to 0 (top level only).
class RunScope {
 public:
  RunScope(std::uint64_t& slot, std::uint64_t value) : slot_(slot), top_(slot == 0) {
    if (top_) slot_ = value;
  }
  ~RunScope() {
    if (top_) slot_ = 0;
  }
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  std::uint64_t& slot_;
  bool top_;
};
}  // namespace

std::vector<Tensor> Module::forward_tuple(const std::vector<Tensor>& x) {
  ModuleImpl& m = impl();
  const RunScope scope(run, run == 0 ? ++counter : run);
  m.forward_run_ = run;
  return m.forward_tuple(x);
}

std::vector<Tensor> Module::backward_tuple(const std::vector<Tensor>& dy, bool input_grad) {
  ModuleImpl& m = impl();
  const RunScope scope(expected, m.forward_run_);
  if (m.forward_run_ != expected)
    fail("Module.backward",
         m.where() +
             ": its last forward ran as part of another tree (a module shared by two "
             "trees keeps one cache); run each tree's forward and backward before the "
             "other tree's forward, or clone() the shared part");
  std::vector<Tensor> dx = m.backward_tuple(dy, input_grad);
  if (!input_grad) std::fill(dx.begin(), dx.end(), Tensor());
  return dx;
}

Tensor Module::forward(const Tensor& x) {
  std::vector<Tensor> y = forward_tuple({x});
  if (y.size() != 1)
    fail("Module.forward", impl().where() + ": gives a tuple of " + std::to_string(y.size()) +
                               " tensors; call forward_tuple");
  return y[0];
}

Tensor Module::backward(const Tensor& dy, bool input_grad) {
  std::vector<Tensor> dx = backward_tuple({dy}, input_grad);
  if (dx.size() != 1)
    fail("Module.backward", impl().where() + ": takes a tuple of " + std::to_string(dx.size()) +
                                " tensors; call backward_tuple");
  return dx[0];
}

void Module::zero_grad() {
  for (const Parameter& p : parameters()) {
    Tensor g = p.grad;
    fill(g, 0.0);
  }
}

Module Module::clone() const {
  return Module(impl().clone());
}

void Module::to(Device device) {
  for (const Parameter& p : parameters()) p.atom->to(device);
  std::vector<ModuleImpl*> stack{&impl()};
  while (!stack.empty()) {
    ModuleImpl* m = stack.back();
    stack.pop_back();
    m->clear_cache();
    for (const Child& child : m->children()) stack.push_back(&child.module.impl());
  }
}

Module tare(Module module, double total) {
  constexpr const char* op = "tare";
  check_mass(op, total);
  const double mass = module.mass();
  if (!(mass > 0.0))
    fail(op, module.impl().where() + " has mass 0: no atom mass to rescale to " +
                 std::to_string(total));
  for (const Parameter& p : module.parameters()) p.atom->set_mass(p.mass * (total / mass));
  return module;
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  print(os, module.impl(), "", 0);
  return os;
}

}  // namespace modnorm
