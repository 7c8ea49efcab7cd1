// A step that fails changes nothing: for every algorithm (the modular one under each norm, with
// NorMuon, the corrections, optax's convention and the SVD map; sgd; the Adams; a hybrid of
// groups), a NaN, +Inf or -Inf in a weight or a gradient, or an update that overflows, throws
// the step's message and leaves every weight, every state buffer and steps() bit for bit as
// they were; and the next good step is exactly the one of a run that never saw the bad one.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using modnorm::Algorithm;
using modnorm::AtomOptions;
using modnorm::CorrectionMode;
using modnorm::Generator;
using modnorm::Module;
using modnorm::Norm;
using modnorm::Optimizer;
using modnorm::OptimizerOptions;
using modnorm::Parameter;
using modnorm::Role;
using modnorm::Tensor;
using modnorm::WeightDecay;

namespace {

using Bits = std::vector<std::vector<double>>;  // f32 values, exact in double

AtomOptions with_norm(Norm norm, double mass = 1.0) {
  AtomOptions a;
  a.norm = norm;
  a.mass = mass;
  return a;
}

// One atom per built-in norm and a frozen one (mass 0): "0.weight" column [4x6], "1.weight"
// spectral [5x4], "2.weight" sign [5x5], "3.weight" euclidean [5], "4.weight" frozen [5]. The
// step reads only the gradients, so the shapes need not chain.
Module net_of_every_norm() {
  return modnorm::Sequential{modnorm::Embed(6, 4), modnorm::Linear(4, 5),
                             modnorm::Linear(5, 5, with_norm(Norm::sign)), modnorm::Bias(5),
                             modnorm::Bias(5, with_norm(Norm::euclidean, 0.0))};
}

struct Config {
  std::string name;
  OptimizerOptions options;
};

std::vector<Config> configs() {
  std::vector<Config> out;
  const auto add = [&](const std::string& name, const std::function<void(OptimizerOptions&)>& f) {
    OptimizerOptions o;
    f(o);
    out.push_back({name, o});
  };
  add("modular", [](OptimizerOptions&) {});
  add("modular svd",
      [](OptimizerOptions& o) { o.orthogonalize.method = modnorm::OrthogonalizeMethod::svd; });
  add("modular normuon per_layer", [](OptimizerOptions& o) {
    o.normuon.enabled = true;
    o.correction.mode = CorrectionMode::per_layer;
  });
  add("modular global cautious", [](OptimizerOptions& o) {
    o.correction.mode = CorrectionMode::global;
    o.weight_decay.mode = WeightDecay::cautious;
  });
  add("modular optax", [](OptimizerOptions& o) {
    o.convention = modnorm::Convention::optax;
    o.correction.mode = CorrectionMode::per_layer;
  });
  add("sgd", [](OptimizerOptions& o) { o.algorithm = Algorithm::sgd; });
  add("adamw", [](OptimizerOptions& o) {
    o.algorithm = Algorithm::adamw;
    o.lr = 1e-3;
    o.weight_decay.mode = WeightDecay::decoupled;
  });
  add("adaptive_adam", [](OptimizerOptions& o) {
    o.algorithm = Algorithm::adaptive_adam;
    o.lr = 1e-3;
  });
  add("hybrid", [](OptimizerOptions& o) {
    modnorm::ParameterGroup muon{"muon", {}, {Role::hidden}, {}};
    muon.rule.lr_rule = modnorm::LrRule::muon;
    muon.rule.normuon.enabled = true;
    modnorm::ParameterGroup adam{"adam", {}, {}, {}};
    adam.rule.algorithm = Algorithm::adamw;
    adam.rule.lr = 3e-3;
    o.groups = {muon, adam};
  });
  return out;
}

// Decoupled weight decay at lr * coefficient = `rate` in every rule (the options' own, or each
// group's).
OptimizerOptions with_decay(OptimizerOptions o, double rate) {
  const auto decay = [&](modnorm::StepRule& r) {
    r.weight_decay.mode = WeightDecay::decoupled;
    r.weight_decay.coefficient = rate / r.lr;
  };
  if (o.groups.empty()) decay(o);
  for (modnorm::ParameterGroup& g : o.groups) decay(g.rule);
  return o;
}

// Fresh Gaussian values for every gradient, as host values.
Bits random_grads(const Module& net, Generator& gen) {
  Bits grads;
  for (const Parameter& p : net.parameters())
    grads.push_back(Tensor::randn(p.grad.shape(), gen).to_vector_f64());
  return grads;
}

// Writes values[l] into tensor l of `tensors`.
void assign(const std::vector<Tensor>& tensors, const Bits& values) {
  for (std::size_t l = 0; l < tensors.size(); ++l) {
    Tensor t = tensors[l];
    modnorm::axpy(1.0, Tensor::from_vector_f64(values[l], t.shape()).to(t.dtype()), t, 0.0);
  }
}

std::vector<Tensor> weight_tensors(const Module& net) {
  std::vector<Tensor> out;
  for (const Parameter& p : net.parameters()) out.push_back(p.weight);
  return out;
}

std::vector<Tensor> grad_tensors(const Module& net) {
  std::vector<Tensor> out;
  for (const Parameter& p : net.parameters()) out.push_back(p.grad);
  return out;
}

Bits values(const std::vector<Tensor>& tensors) {
  Bits out;
  for (const Tensor& t : tensors) out.push_back(t.to_vector_f64());
  return out;
}

// Sets entry `index` (flat) of t to `value`.
void poke(Tensor t, std::int64_t index, double value) {
  std::vector<double> v = t.to_vector_f64();
  v[static_cast<std::size_t>(index)] = value;
  modnorm::axpy(1.0, Tensor::from_vector_f64(v, t.shape()).to(t.dtype()), t, 0.0);
}

// Equal bit for bit as f32 values (a NaN equals a NaN).
bool same(const Bits& a, const Bits& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t l = 0; l < a.size(); ++l) {
    if (a[l].size() != b[l].size()) return false;
    for (std::size_t k = 0; k < a[l].size(); ++k)
      if (!(a[l][k] == b[l][k] || (std::isnan(a[l][k]) && std::isnan(b[l][k])))) return false;
  }
  return true;
}

// Every state entry (step count, momenta, second moments, row second moments), in order.
Bits state(const Optimizer& opt) {
  Bits out;
  for (const auto& entry : opt.state()) out.push_back(entry.second.to_vector_f64());
  return out;
}

// The multi-index of flat entry k of a tensor of `shape`, as the step prints it: "[i, j]".
std::string index_of(const modnorm::Shape& shape, std::int64_t k) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = k % shape[d];
    k /= shape[d];
  }
  std::string out = "[";
  for (std::size_t d = 0; d < index.size(); ++d) out += (d ? ", " : "") + std::to_string(index[d]);
  return out + "]";
}

// A run that takes one good step, then a step that `spoil` breaks (it must throw a message
// with every fragment of `expected` and change nothing), then, with the tree repaired, a second
// good step; against a run of the two good steps alone.
void fails_and_recovers(const Config& c, const std::function<void(const Module&)>& spoil,
                        const std::vector<std::string>& expected) {
  MODNORM_FRESH_GENERATOR(gen);
  BOOST_TEST_INFO_SCOPE(c.name << ": " << expected.front());
  Module net = net_of_every_norm();
  net.initialize(gen);
  Module fresh = net.clone();
  Optimizer opt(net, c.options), never(fresh, c.options);
  const Bits first = random_grads(net, gen);
  const Bits second = random_grads(net, gen);
  assign(grad_tensors(net), first);
  opt.step();

  // The failed step changes nothing.
  assign(grad_tensors(net), second);
  const Bits good = values(weight_tensors(net));
  const Bits state_before = state(opt);
  BOOST_TEST(state_before.size() > net.parameters().size());  // the step, a buffer per atom...
  spoil(net);
  const Bits spoiled = values(weight_tensors(net));
  modnorm::test::expect_error([&] { opt.step(); }, expected);
  BOOST_TEST(same(values(weight_tensors(net)), spoiled));
  BOOST_TEST(same(state(opt), state_before));
  BOOST_TEST(opt.steps() == 1);

  // Repaired, the next step is the one of a run that never saw the bad one.
  assign(weight_tensors(net), good);
  assign(grad_tensors(net), second);
  opt.step();
  assign(grad_tensors(fresh), first);
  never.step();
  assign(grad_tensors(fresh), second);
  never.step();
  BOOST_TEST(same(values(weight_tensors(net)), values(weight_tensors(fresh))));
  BOOST_TEST(same(state(opt), state(never)));
  BOOST_TEST(opt.steps() == 2);
}

struct Bad {
  double value;
  const char* name;  // as the step prints it
};

const std::vector<Bad>& bad_values() {
  static const std::vector<Bad> bad{{std::numeric_limits<double>::quiet_NaN(), "NaN"},
                                    {std::numeric_limits<double>::infinity(), "+Inf"},
                                    {-std::numeric_limits<double>::infinity(), "-Inf"}};
  return bad;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(failed_step)

BOOST_AUTO_TEST_CASE(a_non_finite_weight_or_gradient_changes_nothing) {
  const std::vector<Parameter> params = net_of_every_norm().parameters();
  std::size_t n = 0;
  for (const Config& c : configs())
    for (const bool in_weight : {false, true})
      for (const Bad& bad : bad_values()) {
        // Every atom in turn, the frozen one too (its weight and gradient are checked as well).
        const std::size_t l = n % params.size();
        const std::int64_t k = static_cast<std::int64_t>(7 * n++) % params[l].weight.numel();
        fails_and_recovers(
            c,
            [&](const Module& net) {
              const Parameter p = net.parameters()[l];
              poke(in_weight ? p.weight : p.grad, k, bad.value);
            },
            {"[Optimizer.step] parameter '" + params[l].name +
             "': " + (in_weight ? "weight " : "gradient ") + params[l].weight.describe() +
             " contains " + bad.name + " at " + index_of(params[l].weight.shape(), k) +
             " (1 non-finite entry); no weight or optimizer state was changed"});
      }
}

// An update that overflows f32 (lr 1e300: every entry +-Inf, or NaN where the weight decay adds
// the opposite Inf) from finite weights and gradients: refused, nothing changed (the momenta and
// second moments included).
BOOST_AUTO_TEST_CASE(an_overflowing_update_changes_nothing) {
  MODNORM_FRESH_GENERATOR(gen);
  for (Config c : configs()) {
    BOOST_TEST_INFO_SCOPE(c.name);
    if (c.options.groups.empty()) c.options.lr = 1e300;
    for (modnorm::ParameterGroup& g : c.options.groups) g.rule.lr = 1e300;
    Module net = net_of_every_norm();
    net.initialize(gen);
    Optimizer opt(net, c.options);
    assign(grad_tensors(net), random_grads(net, gen));
    const Bits before = values(weight_tensors(net));
    const Bits state_before = state(opt);
    // The first atom of the first group: 0.weight, or the hybrid's first hidden matrix.
    const Parameter first = net.parameters()[c.options.groups.empty() ? 0 : 1];
    modnorm::test::expect_error(
        [&] { opt.step(); },
        {"[Optimizer.step] parameter '" + first.name + "': update " + first.weight.describe() +
             " contains ",
         " at [0, 0] (" + std::to_string(first.weight.numel()) +
             " non-finite entries) at learning rate 1e+300 (the step overflows the weight's "
             "dtype); no weight was changed"});
    BOOST_TEST(same(values(weight_tensors(net)), before));
    BOOST_TEST(same(state(opt), state_before));
    BOOST_TEST(opt.steps() == 0);
  }
}

// An update that overflows through weight decay (a finite weight entry of 3e38, decayed by
// lr * coefficient = 10): refused, nothing changed, and once the weight is repaired the next
// step is the one of a run that never saw the bad one.
BOOST_AUTO_TEST_CASE(after_an_overflowing_update_the_next_step_is_unchanged) {
  for (Config c : configs()) {
    c.options = with_decay(c.options, 10.0);
    // 1.weight is in the first group of the hybrid.
    std::ostringstream rate;
    rate << " at learning rate "
         << (c.options.groups.empty() ? c.options.lr : c.options.groups[0].rule.lr)
         << " (the step overflows the weight's dtype); no weight was changed";
    fails_and_recovers(
        c, [&](const Module& net) { poke(net.parameters()[1].weight, 3, 3e38); },
        {"[Optimizer.step] parameter '1.weight': update [5x4] f32 cpu contains -Inf at [0, 3]",
         rate.str()});
  }
}

BOOST_AUTO_TEST_SUITE_END()
