// The module core: the handle, the generic tree walks (parameters with their coefficients,
// modular norm, duality map, dual norm, initialisation) and printing. The composition rules
// themselves live in each compound's child_factors() (modules/sequential.cpp, modules/add.cpp,
// modules/scale.cpp); everything here is generic over the tree (DESIGN.md 4).
#include "modnorm/module.hpp"

#include <cmath>
#include <limits>
#include <ostream>
#include <sstream>

#include "fail.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

using detail::fail;

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
    out.push_back({join(prefix, "weight"), atom->weight(), atom->grad(), atom->norm(),
                   atom->mass(), c, atom});
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

// Runs `body`, prefixing any modnorm::Error with the parameter it concerns.
template <typename Body>
auto for_parameter(const char* op, const Parameter& p, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    fail(op, "parameter '" + p.name + "': " + e.what());
  }
}

void check_coefficient(const char* op, const Parameter& p) {
  if (!(p.coefficient > 0.0))
    fail(op, "parameter '" + p.name + "' has coefficient " + std::to_string(p.coefficient) +
                 " (a module after it has sensitivity 0), so its dual step is unbounded");
}

void print(std::ostream& os, const ModuleImpl& module, const std::string& name, int depth) {
  os << std::string(2 * depth, ' ');
  if (!name.empty()) os << '(' << name << ") ";
  os << module.describe() << "  mass " << module.mass() << "  sensitivity "
     << module.sensitivity();
  if (AtomImpl* atom = const_cast<ModuleImpl&>(module).atom())
    os << "  norm " << to_string(atom->norm());
  os << '\n';
  for (const Child& child : module.children()) print(os, child.module.impl(), child.name, depth + 1);
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

void require_forward(const char* op, const ModuleImpl& module, bool forwarded) {
  if (!forwarded) fail(op, module.where() + ": backward called before forward");
}

// ---- AtomImpl ------------------------------------------------------------------------------------

AtomImpl::AtomImpl(const char* type, Shape weight_shape, Norm own_norm,
                   const AtomOptions& options)
    : mass_(options.mass),
      norm_(options.norm.value_or(own_norm)),
      weight_(Tensor::zeros(weight_shape, options.dtype)),
      grad_(Tensor::zeros(weight_shape, options.dtype)) {
  if (!(options.mass >= 0.0) || !std::isfinite(options.mass))
    fail(type, "mass must be a finite number >= 0, got " + std::to_string(options.mass));
}

void AtomImpl::initialize(Generator& gen) {
  // dualize() of a Gaussian has norm exactly 1 in every kind (DESIGN.md 4: well-normed init);
  // for spectral the exact polar factor gives an orthogonal matrix scaled by sqrt(d_out/d_in).
  DualizeOptions exact;
  exact.orthogonalize.method = OrthogonalizeMethod::svd;
  const Tensor g = Tensor::randn(weight_.shape(), gen, DType::f64);
  weight_ = modnorm::dualize(g, norm_, exact).to(weight_.dtype()).to(weight_.device());
  grad_ = Tensor::zeros(weight_.shape(), weight_.dtype(), weight_.device());
}

void AtomImpl::to(Device device) {
  weight_ = weight_.to(device);
  grad_ = grad_.to(device);
  clear_cache();
}

// ---- CompoundImpl -------------------------------------------------------------------------------

CompoundImpl::CompoundImpl(std::vector<Child> children) : children_(std::move(children)) {
  for (std::size_t k = 0; k < children_.size(); ++k)
    if (children_[k].name.empty()) children_[k].name = std::to_string(k);
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

// ---- Module --------------------------------------------------------------------------------------

Module::Module(std::shared_ptr<ModuleImpl> impl) : impl_(std::move(impl)) {
  if (!impl_) fail("Module", "null implementation");
}

double Module::mass() const { return impl_->mass(); }
double Module::sensitivity() const { return impl_->sensitivity(); }

std::vector<Parameter> Module::parameters() const {
  std::vector<Parameter> out;
  collect(*impl_, "", 1.0, out);
  return out;
}

double Module::norm(const SpectralNormOptions& options) const {
  double n = 0.0;
  for (const Parameter& p : parameters()) {
    if (std::isinf(p.coefficient)) continue;
    n = std::max(n, p.coefficient * for_parameter("Module.norm", p, [&] {
                      return modnorm::norm(p.weight, p.norm, options);
                    }));
  }
  return n;
}

std::vector<Tensor> Module::dualize(const DualizeOptions& options) const {
  std::vector<Tensor> out;
  for (const Parameter& p : parameters()) {
    if (std::isinf(p.coefficient)) {
      out.push_back(Tensor::zeros(p.grad.shape(), p.grad.dtype(), p.grad.device()));
      continue;
    }
    check_coefficient("Module.dualize", p);
    out.push_back(for_parameter("Module.dualize", p, [&] {
      return scale(modnorm::dualize(p.grad, p.norm, options), 1.0 / p.coefficient);
    }));
  }
  return out;
}

double Module::dual_norm(const DualizeOptions& options) const {
  double total = 0.0;
  for (const Parameter& p : parameters()) {
    if (std::isinf(p.coefficient)) continue;
    check_coefficient("Module.dual_norm", p);
    total += for_parameter("Module.dual_norm", p, [&] {
      return modnorm::dual_norm(p.grad, p.norm, options);
    }) / p.coefficient;
  }
  return total;
}

void Module::initialize(Generator& gen) {
  for (const Parameter& p : parameters()) p.atom->initialize(gen);
}

Tensor Module::forward(const Tensor& x) { return impl_->forward(x); }
Tensor Module::backward(const Tensor& dy, bool input_grad) {
  Tensor dx = impl_->backward(dy, input_grad);
  return input_grad ? dx : Tensor();
}

void Module::zero_grad() {
  for (const Parameter& p : parameters()) {
    Tensor g = p.grad;
    fill(g, 0.0);
  }
}

void Module::to(Device device) {
  for (const Parameter& p : parameters()) p.atom->to(device);
  std::vector<ModuleImpl*> stack{impl_.get()};
  while (!stack.empty()) {
    ModuleImpl* m = stack.back();
    stack.pop_back();
    m->clear_cache();
    for (const Child& child : m->children()) stack.push_back(&child.module.impl());
  }
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  print(os, module.impl(), "", 0);
  return os;
}

}  // namespace modnorm
