// Parameter groups (optim.hpp, ParameterGroup): roles and patterns select each parameter once,
// every group runs its own rule (the hybrid of Muon on the hidden matrices and AdamW on the
// rest), no groups is bit for bit one group of every parameter, the lr rules against an exact
// SVD reference, and the errors of bad groups.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "dualize/dualize_support.hpp"
#include "modnorm/modnorm.hpp"

namespace mt = modnorm::test;
using modnorm::Algorithm;
using modnorm::DType;
using modnorm::Error;
using modnorm::LrRule;
using modnorm::Module;
using modnorm::Optimizer;
using modnorm::OptimizerOptions;
using modnorm::OrthogonalizeMethod;
using modnorm::Parameter;
using modnorm::ParameterGroup;
using modnorm::Role;
using modnorm::Tensor;
using mt::MatD;

namespace {

modnorm::AtomOptions f64() {
  modnorm::AtomOptions a;
  a.dtype = DType::f64;
  return a;
}

// Embed(7 -> 6) >> Linear(6 -> 8) >> Bias(8) >> ReLU >> Linear(8 -> 5) >> Linear(5 -> 7):
// "0.weight" embedding, "1.weight" and "4.weight" hidden, "2.weight" vector, "5.weight" output.
Module tiny_lm() {
  return modnorm::Sequential{modnorm::Embed(7, 6, f64()),  modnorm::Linear(6, 8, f64()),
                             modnorm::Bias(8, f64()),      modnorm::ReLU(),
                             modnorm::Linear(8, 5, f64()), modnorm::Linear(5, 7, f64())};
}

// Fresh Gaussian gradients for every parameter.
void random_grads(const Module& net, modnorm::Generator& gen) {
  for (const Parameter& p : net.parameters()) {
    const Tensor g = modnorm::Tensor::randn(p.grad.shape(), gen, p.grad.dtype());
    Tensor dst = p.grad;
    modnorm::axpy(1.0, g, dst, 0.0);
  }
}

std::vector<std::vector<double>> weights(const Module& net) {
  std::vector<std::vector<double>> out;
  for (const Parameter& p : net.parameters()) out.push_back(p.weight.to_vector_f64());
  return out;
}

// Two copies of one initialised net.
std::pair<Module, Module> twins(modnorm::Generator& gen) {
  Module a = tiny_lm(), b = tiny_lm();
  a.initialize(gen);
  const auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t l = 0; l < pa.size(); ++l) {
    Tensor w = pb[l].weight;
    modnorm::axpy(1.0, pa[l].weight, w, 0.0);
  }
  return {a, b};
}

// Same gradients in both nets.
void same_grads(const Module& a, const Module& b, modnorm::Generator& gen) {
  random_grads(a, gen);
  const auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t l = 0; l < pa.size(); ++l) {
    Tensor g = pb[l].grad;
    modnorm::axpy(1.0, pa[l].grad, g, 0.0);
  }
}

ParameterGroup group(std::string name, std::vector<std::string> patterns, std::vector<Role> roles,
                     Algorithm algorithm = Algorithm::modular, double lr = 0.1) {
  ParameterGroup g{std::move(name), std::move(patterns), std::move(roles), {}};
  g.rule.algorithm = algorithm;
  g.rule.lr = lr;
  return g;
}

// The hybrid: Muon (lr rule muon) on the hidden matrices, AdamW on the rest.
OptimizerOptions hybrid() {
  OptimizerOptions o;
  o.groups.push_back(group("muon", {}, {Role::hidden}, Algorithm::modular, 0.05));
  o.groups.back().rule.lr_rule = LrRule::muon;
  o.groups.push_back(
      group("adam", {}, {Role::embedding, Role::output, Role::vector}, Algorithm::adamw, 3e-3));
  return o;
}

void expect_error(const OptimizerOptions& o, const std::vector<std::string>& parts) {
  Module net = tiny_lm();
  BOOST_CHECK_EXCEPTION(Optimizer(net, o), Error, [&](const Error& e) {
    const std::string what = e.what();
    BOOST_TEST_INFO(what);
    bool all = what.rfind("[Optimizer]", 0) == 0;
    for (const std::string& part : parts) all = all && what.find(part) != std::string::npos;
    BOOST_TEST(all);
    return true;
  });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parameter_groups)

BOOST_AUTO_TEST_CASE(roles_follow_the_definitions) {
  std::vector<std::string> roles;
  for (const Role role : modnorm::parameter_roles(tiny_lm().parameters()))
    roles.emplace_back(modnorm::to_string(role));
  const std::vector<std::string> expected = {"embedding", "hidden", "vector", "hidden", "output"};
  BOOST_TEST(roles == expected, boost::test_tools::per_element());
  BOOST_TEST(std::string(modnorm::to_string(Role::output)) == "output");
  BOOST_TEST(std::string(modnorm::to_string(LrRule::rms_match)) == "rms_match");
}

BOOST_AUTO_TEST_CASE(no_groups_is_one_group_of_every_parameter_bit_for_bit) {
  MODNORM_FRESH_GENERATOR(gen);
  auto [a, b] = twins(gen);
  OptimizerOptions plain;
  plain.nesterov = true;
  plain.normuon.enabled = true;
  plain.weight_decay = {modnorm::WeightDecay::cautious, 0.1};
  OptimizerOptions grouped;
  grouped.groups.push_back(group("everything", {"*"}, {}));
  grouped.groups[0].rule = plain;  // the same rule, as a group
  Optimizer pa(a, plain), pb(b, grouped);
  for (int k = 0; k < 4; ++k) {
    same_grads(a, b, gen);
    pa.step();
    pb.step();
  }
  BOOST_TEST((weights(a) == weights(b)));
}

BOOST_AUTO_TEST_CASE(each_group_runs_its_own_rule) {
  MODNORM_FRESH_GENERATOR(gen);
  // The hybrid against AdamW alone and against the Muon group beside SGD, on one start and one
  // gradient sequence: AdamW's atoms move as under AdamW alone, the hidden ones as under Muon.
  Module net = tiny_lm();
  net.initialize(gen);
  std::vector<Module> others{tiny_lm(), tiny_lm()};
  for (Module& other : others) {
    const auto pn = net.parameters(), po = other.parameters();
    for (std::size_t l = 0; l < pn.size(); ++l) {
      Tensor w = po[l].weight;
      modnorm::axpy(1.0, pn[l].weight, w, 0.0);
    }
  }
  OptimizerOptions adam;
  adam.algorithm = Algorithm::adamw;
  adam.lr = 3e-3;
  OptimizerOptions muon = hybrid();
  muon.groups[1].rule = modnorm::StepRule{};
  muon.groups[1].rule.algorithm = Algorithm::sgd;
  Optimizer hybrid_opt(net, hybrid()), adam_opt(others[0], adam), muon_opt(others[1], muon);
  for (int k = 0; k < 3; ++k) {
    random_grads(net, gen);
    for (Module& other : others) {
      const auto pn = net.parameters(), po = other.parameters();
      for (std::size_t l = 0; l < pn.size(); ++l) {
        Tensor g = po[l].grad;
        modnorm::axpy(1.0, pn[l].grad, g, 0.0);
      }
    }
    hybrid_opt.step();
    adam_opt.step();
    muon_opt.step();
  }
  const auto roles = modnorm::parameter_roles(net.parameters());
  const auto wh = weights(net), wa = weights(others[0]), wm = weights(others[1]);
  for (std::size_t l = 0; l < roles.size(); ++l) {
    BOOST_TEST_INFO("parameter " << l);
    BOOST_TEST((wh[l] == (roles[l] == Role::hidden ? wm[l] : wa[l])));
  }
}

BOOST_AUTO_TEST_CASE(lr_rules_match_the_svd_reference) {
  MODNORM_FRESH_GENERATOR(gen);
  // One step without momentum: Delta W = -lr * factor * U V^T of the gradient, exactly (svd).
  for (const LrRule rule : {LrRule::modular, LrRule::muon, LrRule::rms_match}) {
    BOOST_TEST_INFO(modnorm::to_string(rule));
    Module net = tiny_lm();
    net.initialize(gen);
    random_grads(net, gen);
    OptimizerOptions o;
    o.groups.push_back(group("matrices", {}, {Role::hidden}, Algorithm::modular, 0.07));
    o.groups[0].rule.lr_rule = rule;
    o.groups[0].rule.beta = 0.0;
    o.groups[0].rule.orthogonalize.method = OrthogonalizeMethod::svd;
    o.groups.push_back(
        group("rest", {}, {Role::embedding, Role::output, Role::vector}, Algorithm::sgd, 0.01));
    Optimizer opt(net, o);
    opt.step();
    const auto params = net.parameters();
    for (const std::size_t l : {1u, 3u}) {
      const MatD g = mt::to_eigen(params[l].grad);
      Eigen::JacobiSVD<MatD> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
      const MatD O = svd.matrixU() * svd.matrixV().transpose();
      const double d_out = static_cast<double>(g.rows()), d_in = static_cast<double>(g.cols());
      const double factor = rule == LrRule::modular
                                ? std::sqrt(d_out / d_in) / params[l].coefficient
                            : rule == LrRule::muon ? std::sqrt(std::max(1.0, d_out / d_in))
                                                   : 0.2 * std::sqrt(std::max(d_out, d_in));
      const MatD expected = -0.07 * factor * O;
      const MatD got = mt::to_eigen(opt.last_updates()[l]);
      BOOST_TEST((got - expected).norm() <= 1e-10 * expected.norm());
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_groups_are_refused_naming_the_fault) {
  OptimizerOptions uncovered;
  uncovered.groups.push_back(group("hidden", {}, {Role::hidden}));
  expect_error(uncovered, {"no group takes", "'0.weight' (embedding)", "'5.weight' (output)"});

  OptimizerOptions twice = hybrid();
  twice.groups.push_back(group("again", {"1.*"}, {}));
  expect_error(twice, {"'1.weight'", "two groups", "'muon'", "'again'"});

  OptimizerOptions nothing = hybrid();
  nothing.groups[0].patterns = {"blocks.*"};
  expect_error(nothing, {"group 'muon'", "pattern 'blocks.*' matches no parameter"});

  OptimizerOptions unused = hybrid();
  unused.groups[1].rule.nesterov = true;
  expect_error(unused, {"group 'adam'", "nesterov", "adamw"});

  OptimizerOptions normuon_on_adam = hybrid();
  normuon_on_adam.groups[1].rule.normuon.enabled = true;
  expect_error(normuon_on_adam, {"group 'adam'", "normuon"});

  OptimizerOptions rule_on_embedding = hybrid();
  rule_on_embedding.groups[0].roles = {Role::hidden, Role::embedding};
  rule_on_embedding.groups[1].roles = {Role::output, Role::vector};
  expect_error(rule_on_embedding, {"group 'muon'", "lr_rule muon", "'0.weight'", "column"});

  OptimizerOptions top_level = hybrid();
  top_level.lr = 0.5;
  expect_error(top_level, {"lr is set on the options, which have groups"});

  OptimizerOptions same_name = hybrid();
  same_name.groups[1].name = "muon";
  expect_error(same_name, {"two groups are named 'muon'"});

  OptimizerOptions bad_lr = hybrid();
  bad_lr.groups[0].rule.lr = -1.0;
  expect_error(bad_lr, {"group 'muon'", "lr must be a finite number > 0, got -1"});
}

BOOST_AUTO_TEST_CASE(patterns_select_modules_and_globs) {
  OptimizerOptions o;
  o.groups.push_back(group("first", {"0", "1.weight"}, {}, Algorithm::adamw, 1e-3));
  o.groups.push_back(
      group("middle", {"2.weight", "4.*"}, {Role::vector, Role::hidden}, Algorithm::sgd));
  o.groups.push_back(group("last", {"5"}, {}));
  Module net = tiny_lm();
  BOOST_CHECK_NO_THROW(Optimizer(net, o));
  // A group without patterns and roles takes the rest: here the output layer, then nothing.
  o.groups.pop_back();
  o.groups.push_back(group("rest", {}, {}, Algorithm::sgd));
  Optimizer with_rest(net, o);
  const auto steps = with_rest.atom_steps();
  BOOST_TEST_REQUIRE(steps.size() == 5u);
  BOOST_TEST(steps[0].group == "first");
  BOOST_TEST(steps[4].group == "rest");
  BOOST_TEST(steps[4].algorithm == "sgd");
  o.groups.insert(o.groups.begin(), group("everything", {"*"}, {}));
  o.groups.erase(o.groups.begin() + 1, o.groups.end() - 1);
  BOOST_CHECK_NO_THROW(Optimizer(net, o));  // the rest may be empty
  o.groups.push_back(group("another rest", {}, {}));
  expect_error(o, {"'rest' and 'another rest' both take the rest"});
}

BOOST_AUTO_TEST_CASE(atom_steps_give_each_atom_its_effective_rate) {
  Module net = tiny_lm();
  OptimizerOptions o = hybrid();
  o.schedule.kind = modnorm::Schedule::linear_warmup;
  o.schedule.warmup_steps = 4;
  const auto params = net.parameters();
  const auto steps = Optimizer(net, o).atom_steps();
  BOOST_TEST_REQUIRE(steps.size() == params.size());
  // Step 0 of a 4-step ramp: a quarter of each group's lr; the muon rule's factor on [8x6] and
  // [5x8] is sqrt(max(1, d_out / d_in)).
  BOOST_TEST(steps[1].rate == 0.25 * 0.05 * std::sqrt(8.0 / 6.0),
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(steps[3].rate == 0.25 * 0.05, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(steps[0].rate == 0.25 * 3e-3, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(steps[0].algorithm == "adamw");
  modnorm::ReportOptions ro;
  ro.steps = steps;
  const std::string csv = modnorm::report(net, ro).to_csv();
  BOOST_TEST(csv.find(",group,algorithm,rate\n") != std::string::npos);
  BOOST_TEST(csv.find(",muon,modular,") != std::string::npos);
  const std::string json = modnorm::report(net, ro).to_json();
  BOOST_TEST(json.find("\"group\":\"adam\"") != std::string::npos);
  BOOST_TEST(modnorm::report(net, ro).to_html().find("<th>rate</th>") != std::string::npos);
  BOOST_TEST(modnorm::report(net, ro).to_text().find("adamw") != std::string::npos);
  BOOST_TEST(modnorm::report(net).to_csv().find("group") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_resumed_grouped_run_is_bit_identical) {
  MODNORM_FRESH_GENERATOR(gen);
  auto [a, b] = twins(gen);
  OptimizerOptions o = hybrid();
  o.groups[0].rule.normuon.enabled = true;
  o.groups[1].rule.weight_decay = {modnorm::WeightDecay::decoupled, 0.1};
  // a runs 5 steps; b starts from a's weights and state after 2 and runs the last 3.
  Optimizer first(a, o);
  std::vector<std::vector<Tensor>> grads;
  for (int k = 0; k < 5; ++k) {
    random_grads(a, gen);
    grads.emplace_back();
    for (const Parameter& p : a.parameters()) grads.back().push_back(p.grad.clone());
  }
  const auto set = [&](const Module& net, int k) {
    const auto params = net.parameters();
    for (std::size_t l = 0; l < params.size(); ++l) {
      Tensor g = params[l].grad;
      modnorm::axpy(1.0, grads[k][l], g, 0.0);
    }
  };
  std::vector<std::pair<std::string, Tensor>> saved;
  for (int k = 0; k < 5; ++k) {
    if (k == 2) {
      saved = first.state();
      const auto pa = a.parameters(), pb = b.parameters();
      for (std::size_t l = 0; l < pa.size(); ++l) {
        Tensor w = pb[l].weight;
        modnorm::axpy(1.0, pa[l].weight, w, 0.0);
      }
    }
    set(a, k);
    first.step();
  }
  // The state names the buffers each group's rule keeps: AdamW's second moments, NorMuon's rows.
  bool adam_moment = false, normuon_rows = false;
  for (const auto& [name, t] : saved) {
    adam_moment = adam_moment || name == "0.weight.second_moment";
    normuon_rows = normuon_rows || name == "1.weight.row_second_moment";
    BOOST_TEST(name != "1.weight.second_moment");
  }
  BOOST_TEST(adam_moment);
  BOOST_TEST(normuon_rows);
  Optimizer second(b, o);
  second.load_state(saved);
  for (int k = 2; k < 5; ++k) {
    set(b, k);
    second.step();
  }
  BOOST_TEST((weights(a) == weights(b)));
  const auto sa = first.state(), sb = second.state();
  BOOST_TEST_REQUIRE(sa.size() == sb.size());
  for (std::size_t e = 0; e < sa.size(); ++e)
    BOOST_TEST((sa[e].second.to_vector_f64() == sb[e].second.to_vector_f64()));
}

BOOST_AUTO_TEST_SUITE_END()
