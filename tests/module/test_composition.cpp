// The composition rules of docs/modules.md, checked exactly: random trees (depth 1-6, mixed masses
// and sensitivities) against an independent reference that folds the two-module rules pairwise,
// hand-computed examples, the modular duality map and dual norm, names and printing.
#include <boost/test/unit_test.hpp>
#include <limits>
#include <map>
#include <sstream>

#include "module/module_support.hpp"

namespace mt = modnorm::test;
using namespace modnorm;
namespace tt = boost::test_tools;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A module with the metrics the rules predict: mass, sensitivity and each atom's coefficient.
struct Built {
  Module module;
  double mass;
  double sensitivity;
  std::map<const AtomImpl*, double> coefficient;
};

double factor(double total, double part) {
  return part > 0.0 ? total / part : kInf;
}

// The binary rules of docs/modules.md, applied to two built modules.
Built sequential(const Built& first, const Built& second, Module combined) {
  Built out{
      std::move(combined), first.mass + second.mass, first.sensitivity * second.sensitivity, {}};
  for (auto [atom, c] : first.coefficient)
    out.coefficient[atom] = c * second.sensitivity * factor(out.mass, first.mass);
  for (auto [atom, c] : second.coefficient)
    out.coefficient[atom] = c * factor(out.mass, second.mass);
  return out;
}

Built concatenation(const Built& a, const Built& b, Module combined) {
  Built out{std::move(combined), a.mass + b.mass, a.sensitivity + b.sensitivity, {}};
  for (auto [atom, c] : a.coefficient) out.coefficient[atom] = c * factor(out.mass, a.mass);
  for (auto [atom, c] : b.coefficient) out.coefficient[atom] = c * factor(out.mass, b.mass);
  return out;
}

Built atom(Module m) {
  const double mass = m.mass();
  AtomImpl* a = m.impl().atom();
  return {m, mass, 1.0, {{a, mass > 0.0 ? 1.0 : kInf}}};
}

Built leaf(Generator& gen) {
  const double masses[] = {0.0, 0.5, 1.0, 2.0, 3.0};
  const double mass = masses[gen.below(5)];
  const auto dim = [&] { return static_cast<std::int64_t>(1 + gen.below(5)); };
  const double a = (0.25 + 1.75 * gen.uniform()) * (gen.below(2) ? 1.0 : -1.0);
  switch (gen.below(7)) {
    case 0:
      return atom(Linear(dim(), dim(), mt::f64_atom(mass)));
    case 1:
      return atom(Embed(dim(), dim(), mt::f64_atom(mass)));
    case 2:
      return atom(Bias(dim(), mt::f64_atom(mass)));
    case 3:
      return {ReLU(), 0.0, 1.0, {}};
    case 4:
      return {GELU(), 0.0, 1.0, {}};
    case 5:
      return {Scale(a), 0.0, std::abs(a), {}};
    default:
      return {RMSNorm(), 0.0, 1.0, {}};
  }
}

Built random_tree(Generator& gen, int depth) {
  if (depth == 0) return leaf(gen);
  const std::size_t n = 1 + gen.below(3);
  std::vector<Built> kids;
  for (std::size_t k = 0; k < n; ++k)
    kids.push_back(random_tree(gen, gen.below(2) ? depth - 1 : 0));
  std::vector<Child> children;
  for (const Built& k : kids) children.push_back({"", k.module});
  switch (gen.below(4)) {
    case 3: {  // Tuple = concatenation, outputs kept apart
      Built acc = kids[0];
      for (std::size_t k = 1; k < n; ++k) acc = concatenation(acc, kids[k], acc.module);
      acc.module = Tuple(children);
      return acc;
    }
    case 0: {  // Sequential, folded pairwise left to right
      Built acc = kids[0];
      for (std::size_t k = 1; k < n; ++k) acc = sequential(acc, kids[k], acc.module);
      acc.module = Sequential(children);
      return acc;
    }
    case 1: {  // Add = concatenation (then a weightless sum)
      Built acc = kids[0];
      for (std::size_t k = 1; k < n; ++k) acc = concatenation(acc, kids[k], acc.module);
      acc.module = Add(children);
      return acc;
    }
    default: {  // a * M = Mul(a) o M: a bond of mass 0 and sensitivity |a| after M
      const double a = (0.25 + 1.75 * gen.uniform()) * (gen.below(2) ? 1.0 : -1.0);
      return sequential(kids[0], {Scale(a), 0.0, std::abs(a), {}}, Scale(a, kids[0].module));
    }
  }
}

void check_close(double got, double expected) {
  if (std::isinf(expected))
    BOOST_TEST(std::isinf(got));
  else
    BOOST_TEST(got == expected, tt::tolerance(1e-12));
}

SpectralNormOptions exact_norm() {
  SpectralNormOptions o;
  o.exact = true;
  return o;
}

DualizeOptions exact_dualize() {
  DualizeOptions o;
  o.orthogonalize.method = OrthogonalizeMethod::svd;
  return o;
}

void set_random(Tensor t, double scale_by, Generator& gen) {
  axpy(scale_by, Tensor::randn(t.shape(), gen, t.dtype()), t, 0.0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(composition)

BOOST_AUTO_TEST_CASE(random_trees_follow_the_composition_rules_exactly) {
  MODNORM_FRESH_GENERATOR(gen);
  for (int trial = 0; trial < 60; ++trial) {
    const int depth = 1 + trial % 6;
    const Built tree = random_tree(gen, depth);
    BOOST_TEST_INFO("trial " << trial << ", depth " << depth << ":\n" << tree.module);
    check_close(tree.module.mass(), tree.mass);
    check_close(tree.module.sensitivity(), tree.sensitivity);
    const std::vector<Parameter> params = tree.module.parameters();
    BOOST_TEST_REQUIRE(params.size() == tree.coefficient.size());

    // Weights of random scale; the modular norm is the max over atoms of c_l ||w_l||_l.
    double expected_norm = 0.0;
    for (const Parameter& p : params) {
      check_close(p.coefficient, tree.coefficient.at(p.atom));
      set_random(p.weight, 0.1 + 3 * gen.uniform(), gen);
      if (!std::isinf(p.coefficient))
        expected_norm =
            std::max(expected_norm, p.coefficient * norm(p.weight, p.norm, exact_norm()));
    }
    check_close(tree.module.norm(exact_norm()), expected_norm);

    // dualize: per atom dualize_l(g_l) / c_l; its pairing with g is the modular dual norm,
    // and its modular norm is 1.
    for (const Parameter& p : params) set_random(p.grad, 0.1 + 3 * gen.uniform(), gen);
    const std::vector<Tensor> d = tree.module.dualize(exact_dualize());
    BOOST_TEST_REQUIRE(d.size() == params.size());
    double pairing = 0.0, expected_dual = 0.0;
    bool any = false;
    for (std::size_t l = 0; l < params.size(); ++l) {
      const Parameter& p = params[l];
      const Tensor expected =
          std::isinf(p.coefficient)
              ? Tensor::zeros(p.grad.shape(), DType::f64)
              : scale(dualize(p.grad, p.norm, exact_dualize()), 1 / p.coefficient);
      BOOST_TEST(mt::max_abs_diff(d[l].to_vector_f64(), expected.to_vector_f64()) <= 1e-12);
      pairing += dot(p.grad, d[l]);
      if (!std::isinf(p.coefficient)) {
        expected_dual += dual_norm(p.grad, p.norm) / p.coefficient;
        any = true;
      }
    }
    check_close(tree.module.dual_norm(), expected_dual);
    BOOST_TEST(pairing == expected_dual, tt::tolerance(1e-10));
    for (std::size_t l = 0; l < params.size(); ++l) {
      Tensor w = params[l].weight;
      axpy(1.0, d[l], w, 0.0);
    }
    BOOST_TEST(tree.module.norm(exact_norm()) == (any ? 1.0 : 0.0), tt::tolerance(1e-10));
  }
}

BOOST_AUTO_TEST_CASE(hand_computed_masses_sensitivities_and_coefficients) {
  // Sequential{L1 (m=1), ReLU, L2 (m=2)}: M = 3, s = 1; c_1 = (3/1) * 1 * 1 = 3, c_2 = 3/2.
  AtomOptions two;
  two.mass = 2;
  Module mlp = Linear(4, 3) >> ReLU() >> Linear(3, 2, two);
  BOOST_TEST(mlp.mass() == 3.0);
  BOOST_TEST(mlp.sensitivity() == 1.0);
  auto p = mlp.parameters();
  BOOST_TEST(p[0].coefficient == 3.0);
  BOOST_TEST(p[1].coefficient == 1.5);

  // Sequential{L1, Scale(0.5), L2}: M = 2, s = 0.5; c_1 = 2 * 0.5 = 1, c_2 = 2.
  Module halved = Sequential{Linear(4, 4), Scale(0.5), Linear(4, 4)};
  BOOST_TEST(halved.sensitivity() == 0.5);
  p = halved.parameters();
  BOOST_TEST(p[0].coefficient == 1.0);
  BOOST_TEST(p[1].coefficient == 2.0);

  // Residual: Sequential{L1, Add{0.75 * Id, 0.25 * (L2 >> ReLU)}, L3}: M = 3; the Add has
  // mass 1 and sensitivity 0.75 + 0.25 = 1, so L1 and L3 have c = 3 (mass share 1/3); L2 is
  // inside 0.25 * (...), which multiplies its coefficient by 0.25: c = 3 * 1 * 0.25 = 0.75.
  Module residual =
      Sequential{Linear(8, 4), Add{Scale(0.75), Scale(0.25, Linear(4, 4) >> ReLU())}, Linear(4, 2)};
  BOOST_TEST(residual.mass() == 3.0);
  BOOST_TEST(residual.sensitivity() == 1.0);
  p = residual.parameters();
  BOOST_TEST(p[0].coefficient == 3.0);
  BOOST_TEST(p[1].coefficient == 0.75);
  BOOST_TEST(p[2].coefficient == 3.0);

  // A frozen atom (mass 0) drops out: c = inf, zero dual step, not in the norm.
  AtomOptions frozen;
  frozen.mass = 0;
  Module partly = Linear(3, 3, frozen) >> Linear(3, 3);
  p = partly.parameters();
  BOOST_TEST(std::isinf(p[0].coefficient));
  BOOST_TEST(p[1].coefficient == 1.0);
}

// modula's GPT residual stack: L blocks (1 - a) * Identity + a * block in sequence, a = 1/(2L),
// with the scalar multiple written both ways. The two spellings are the same module: equal
// mass, sensitivity, coefficients and duality map; and both match the rule by hand: block k
// has mass 1 of M = L, the residuals after it have sensitivity (1 - a) + a = 1, and a * block
// multiplies by a: c = L * 1 * a = 1/2 for every atom.
BOOST_AUTO_TEST_CASE(scale_of_a_module_is_the_module_followed_by_scale) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const int depth : {1, 2, 3, 5}) {
    const double a = 1.0 / (2 * depth);
    std::vector<Child> inner, outer;
    for (int k = 0; k < depth; ++k) {
      Module block = Linear(6, 6, mt::f64_atom(1.0)) >> GELU();
      Module twin = block.clone();
      inner.push_back({"", Add{Scale(1 - a), Scale(a, block)}});
      outer.push_back({"", Add{Scale(1 - a), twin >> Scale(a)}});
    }
    Module one = Sequential(inner), two = Sequential(outer);
    BOOST_TEST_INFO("L = " << depth);
    BOOST_TEST(one.mass() == two.mass());
    BOOST_TEST(one.mass() == static_cast<double>(depth));
    BOOST_TEST(one.sensitivity() == two.sensitivity(), tt::tolerance(1e-15));
    BOOST_TEST(one.sensitivity() == 1.0, tt::tolerance(1e-15));
    const std::vector<Parameter> p1 = one.parameters(), p2 = two.parameters();
    BOOST_TEST_REQUIRE(p1.size() == p2.size());
    for (std::size_t l = 0; l < p1.size(); ++l) {
      BOOST_TEST(p1[l].coefficient == p2[l].coefficient, tt::tolerance(1e-15));
      BOOST_TEST(p1[l].coefficient == 0.5, tt::tolerance(1e-15));
      set_random(p1[l].grad, 1.0, gen);
      Tensor twin_grad = p2[l].grad;
      axpy(1.0, p1[l].grad, twin_grad, 0.0);
    }
    const std::vector<Tensor> d1 = one.dualize(exact_dualize()), d2 = two.dualize(exact_dualize());
    for (std::size_t l = 0; l < d1.size(); ++l) {
      BOOST_TEST(mt::max_abs_diff(d1[l].to_vector_f64(), d2[l].to_vector_f64()) <= 1e-14);
      const Tensor by_hand = scale(dualize(p1[l].grad, p1[l].norm, exact_dualize()), 2.0);
      BOOST_TEST(mt::max_abs_diff(d1[l].to_vector_f64(), by_hand.to_vector_f64()) <= 1e-14);
    }
  }
  // A scale inside a sequence weighs the layers before it both ways too.
  Module first = Linear(4, 4);
  Module scaled = Scale(-0.5, first) >> Linear(4, 4);
  Module spelled = first.clone() >> Scale(-0.5) >> Linear(4, 4);
  BOOST_TEST(scaled.parameters()[0].coefficient == 1.0);  // M = 2: 2 * 0.5
  BOOST_TEST(spelled.parameters()[0].coefficient == 1.0);
  BOOST_TEST(scaled.parameters()[1].coefficient == 2.0);
}

BOOST_AUTO_TEST_CASE(scale_by_zero_is_an_error) {
  mt::expect_error([] { Scale(0.0, Linear(3, 3)); }, {"[Scale]", "non-zero", "got 0"});
  mt::expect_error([] { Scale(-0.0); }, {"[Scale]", "non-zero"});
}

// One module object in two places of a tree would share one forward cache (and step its
// weight twice): refused, naming both paths; clone() is the way to repeat a block.
BOOST_AUTO_TEST_CASE(a_module_appears_once_in_a_tree) {
  Module l = Linear(4, 4);
  mt::expect_error([&] { l >> ReLU() >> l; },
                   {"[Sequential]", "Linear(4 -> 4)", "appears twice", "'0'", "'2'", "clone()"});
  Module relu = ReLU();
  mt::expect_error(
      [&] {
        Add{Identity(), Sequential{Linear(4, 4), relu}, relu};
      },
      {"[Add]", "ReLU", "'1.1'", "'2'"});
  mt::expect_error(
      [&] {
        Scale(0.5, Sequential{l, Sequential({{"inner", l}})});
      },
      {"[Sequential]", "'0'", "'1.inner'"});
  // Nested: a subtree placed twice.
  Module block = Linear(4, 4) >> ReLU();
  mt::expect_error([&] { Sequential{block, block}; }, {"appears twice", "'0'", "'1'"});
  // Each place has its own path: a given name that an unnamed child's position would take, or
  // one with the '.' of a path, is refused before the twice-used module could be named twice
  // by one path ('1' and '1', 'a.b' and 'a.b').
  mt::expect_error(
      [&] {
        Sequential({{"1", l}, {"", l}});
      },
      {"[Sequential]", "children 0 and 1", "both named '1'"});
  mt::expect_error(
      [&] {
        Sequential({{"x", Linear(4, 4)}, {"x", Linear(4, 4)}});
      },
      {"children 0 and 1", "both named 'x'"});
  mt::expect_error(
      [&] {
        Sequential({{"a.b", l}, {"a", Sequential({{"b", l}})}});
      },
      {"child 0 is named 'a.b'", "'.'"});
}

BOOST_AUTO_TEST_CASE(clone_is_a_deep_copy_with_the_same_structure) {
  MODNORM_FRESH_GENERATOR(gen);
  Module net =
      Sequential{Embed(5, 4), Flatten(), Add{Identity(), Scale(0.5, Linear(4, 4) >> RMSNorm())},
                 Linear(4, 3), Bias(3)};
  net.initialize(gen);
  Module copy = net.clone();
  std::ostringstream a, b;
  a << net;
  b << copy;
  BOOST_TEST(a.str() == b.str());
  const std::vector<Parameter> p = net.parameters(), q = copy.parameters();
  BOOST_TEST_REQUIRE(p.size() == q.size());
  for (std::size_t l = 0; l < p.size(); ++l) {
    BOOST_TEST(p[l].name == q[l].name);
    BOOST_TEST(p[l].coefficient == q[l].coefficient);
    BOOST_TEST(p[l].weight.raw() != q[l].weight.raw());  // new storage
    BOOST_TEST(mt::max_abs_diff(p[l].weight.to_vector_f64(), q[l].weight.to_vector_f64()) == 0.0);
  }
  // Independent: changing the copy leaves the original.
  Tensor w = q[3].weight;
  fill(w, 0.0);
  BOOST_TEST(max_abs(p[3].weight) > 0.0);
  // Same function.
  const Tensor ids = Tensor::from_vector_i32({0, 3, 4}, {3, 1});
  BOOST_TEST(mt::max_abs_diff(net.forward(ids).to_vector_f64(),
                              net.clone().forward(ids).to_vector_f64()) == 0.0);
  // A clone carries no forward cache.
  net.forward(ids);
  mt::expect_error([&] { net.clone().backward(Tensor::zeros({3, 3})); }, {"before forward"});
}

// Tuple{A, B} runs A and B on the same input and keeps the outputs apart; its backward gives
// each child its own output gradient and sums the input gradients. Checked against clones of
// A and B run alone (whose backward the finite-difference suite checks), and in a sequence.
BOOST_AUTO_TEST_CASE(tuple_keeps_outputs_apart_and_sums_input_gradients) {
  MODNORM_FRESH_GENERATOR(gen);
  Module a = Linear(5, 3, mt::f64_atom(1.0)) >> GELU();
  Module b = Tuple{Linear(5, 2, mt::f64_atom(2.0)), Identity()};  // a nested tuple: 2 outputs
  Module pair = Tuple{a, b};
  pair.initialize(gen);
  BOOST_TEST(pair.mass() == 3.0);
  BOOST_TEST(pair.sensitivity() == 1.0 + 2.0);
  const std::vector<Parameter> p = pair.parameters();
  BOOST_TEST(p[0].coefficient == 3.0);        // M / m_a
  BOOST_TEST(p[1].coefficient == 1.5 * 1.0);  // M / m_b, then b's own M_b / m = 1
  Module lone_a = a.clone(), lone_b = b.clone();
  const Tensor x = Tensor::randn({4, 5}, gen, DType::f64);
  const std::vector<Tensor> y = pair.forward_tuple({x});
  BOOST_TEST_REQUIRE(y.size() == 3u);
  const Tensor ya = lone_a.forward(x);
  const std::vector<Tensor> yb = lone_b.forward_tuple({x});
  BOOST_TEST(mt::max_abs_diff(y[0].to_vector_f64(), ya.to_vector_f64()) == 0.0);
  BOOST_TEST(mt::max_abs_diff(y[1].to_vector_f64(), yb[0].to_vector_f64()) == 0.0);
  BOOST_TEST(mt::max_abs_diff(y[2].to_vector_f64(), x.to_vector_f64()) == 0.0);
  const std::vector<Tensor> dy = {Tensor::randn({4, 3}, gen, DType::f64),
                                  Tensor::randn({4, 2}, gen, DType::f64),
                                  Tensor::randn({4, 5}, gen, DType::f64)};
  const std::vector<Tensor> dx = pair.backward_tuple(dy);
  BOOST_TEST_REQUIRE(dx.size() == 1u);
  const Tensor dxa = lone_a.backward(dy[0]);
  const std::vector<Tensor> dxb = lone_b.backward_tuple({dy[1], dy[2]});
  BOOST_TEST(mt::max_abs_diff(dx[0].to_vector_f64(), add(dxa, dxb[0]).to_vector_f64()) <= 1e-14);
  const std::vector<Parameter> q = lone_a.parameters(), r = lone_b.parameters();
  BOOST_TEST(mt::max_abs_diff(p[0].grad.to_vector_f64(), q[0].grad.to_vector_f64()) == 0.0);
  BOOST_TEST(mt::max_abs_diff(p[1].grad.to_vector_f64(), r[0].grad.to_vector_f64()) == 0.0);
  // A tuple gives 3 tensors: forward() refuses, and so does a module that takes one tensor.
  mt::expect_error([&] { pair.forward(x); }, {"[Module.forward]", "Tuple", "tuple of 3"});
  Module then = Tuple{Linear(5, 3), Linear(5, 3)} >> ReLU();
  mt::expect_error(
      [&] {
        then.forward(Tensor::zeros({1, 5}));
      },
      {"[Module.forward]", "ReLU", "takes one tensor, got a tuple of 2"});
  // Add sums tuples entry by entry; Scale scales each.
  Module sum = Add{Tuple{Identity(), Identity()}, Scale(2.0, Tuple{Identity(), Identity()})};
  const std::vector<Tensor> s = sum.forward_tuple({x});
  BOOST_TEST(mt::max_abs_diff(s[1].to_vector_f64(), scale(x, 3.0).to_vector_f64()) <= 1e-15);
}

// modula's GPT weighs its L blocks 5 in all: tare rescales the atoms' masses by one factor.
BOOST_AUTO_TEST_CASE(tare_rescales_masses_and_repeat_makes_independent_copies) {
  MODNORM_FRESH_GENERATOR(gen);
  AtomOptions two;
  two.mass = 2.0;
  Module block = Linear(4, 4) >> GELU() >> Linear(4, 4, two);
  block.initialize(gen);
  Module stack = repeat(block, 3);
  BOOST_TEST(stack.impl().children().size() == 3u);
  BOOST_TEST(stack.impl().children()[0].module.ptr() == block.ptr());  // the block itself
  BOOST_TEST(stack.mass() == 9.0);
  const std::vector<Parameter> before = stack.parameters();
  BOOST_TEST(before[0].weight.raw() != before[2].weight.raw());  // copies have own storage
  BOOST_TEST(mt::max_abs_diff(before[0].weight.to_vector_f64(), before[2].weight.to_vector_f64()) ==
             0.0);
  Module tared = tare(stack, 5.0);
  BOOST_TEST(tared.ptr() == stack.ptr());
  BOOST_TEST(stack.mass() == 5.0, tt::tolerance(1e-15));
  const std::vector<Parameter> after = stack.parameters();
  for (std::size_t l = 0; l < after.size(); ++l)
    BOOST_TEST(after[l].mass == before[l].mass * 5.0 / 9.0, tt::tolerance(1e-15));
  // Coefficients inside are unchanged (ratios kept); in a larger tree the share is 5 / M.
  for (std::size_t l = 0; l < after.size(); ++l)
    BOOST_TEST(after[l].coefficient == before[l].coefficient, tt::tolerance(1e-12));
  Module gpt = Linear(4, 4) >> stack >> Linear(4, 4);  // masses 1 + 5 + 1
  BOOST_TEST(gpt.mass() == 7.0, tt::tolerance(1e-15));
  mt::expect_error([] { repeat(Linear(2, 2), 0); }, {"[repeat]", "times must be >= 1, got 0"});
  mt::expect_error([] { tare(ReLU(), 1.0); }, {"[tare]", "mass 0"});
  mt::expect_error([&] { tare(stack, -1.0); }, {"[tare]", "mass must be a finite number >= 0"});
}

BOOST_AUTO_TEST_CASE(initialize_gives_every_atom_norm_one_and_the_tree_its_coefficient_max) {
  MODNORM_FRESH_GENERATOR(gen);
  AtomOptions sign;
  sign.norm = Norm::sign;
  Module net = Sequential{Embed(11, 6), Flatten(), Linear(6, 9), Bias(9), Linear(9, 4, sign)};
  net.initialize(gen);
  double max_c = 0.0;
  for (const Parameter& p : net.parameters()) {
    BOOST_TEST_INFO(p.name);
    BOOST_TEST(norm(p.weight, p.norm, exact_norm()) == 1.0, tt::tolerance(1e-6));
    BOOST_TEST(max_abs(p.grad) == 0.0);
    max_c = std::max(max_c, p.coefficient);
  }
  BOOST_TEST(net.norm(exact_norm()) == max_c, tt::tolerance(1e-6));
  BOOST_TEST((net.parameters()[3].norm == Norm::sign));
}

BOOST_AUTO_TEST_CASE(parameters_have_dotted_names_in_depth_first_order) {
  Module net =
      Sequential{Linear(4, 4), Add{Identity(), Sequential{Linear(4, 4), ReLU()}}, Linear(4, 2)};
  std::vector<std::string> names;
  for (const Parameter& p : net.parameters()) names.push_back(p.name);
  BOOST_TEST(names == (std::vector<std::string>{"0.weight", "1.1.0.weight", "2.weight"}),
             tt::per_element());
  Module named = Sequential({{"body", Linear(3, 3) >> ReLU()}, {"head", Linear(3, 1)}});
  names.clear();
  for (const Parameter& p : named.parameters()) names.push_back(p.name);
  BOOST_TEST(names == (std::vector<std::string>{"body.0.weight", "head.weight"}),
             tt::per_element());
  BOOST_TEST(Linear(2, 2).parameters()[0].name == "weight");
}

BOOST_AUTO_TEST_CASE(shift_operator_flattens_left_sequences) {
  Module net = Linear(2, 3) >> ReLU() >> Linear(3, 1);
  BOOST_TEST(net.impl().children().size() == 3u);
  BOOST_TEST(net.impl().children()[2].name == "2");
}

BOOST_AUTO_TEST_CASE(tree_prints_mass_sensitivity_and_norm_kind_indented) {
  AtomOptions two;
  two.mass = 2;
  Module net = Linear(4, 3) >> ReLU() >> Linear(3, 2, two);
  std::ostringstream out;
  out << net;
  const std::string text = out.str();
  BOOST_TEST_INFO(text);
  BOOST_TEST(text.find("Sequential  mass 3  sensitivity 1\n") == 0u);
  BOOST_TEST(text.find("  (0) Linear(4 -> 3)  mass 1  sensitivity 1  norm spectral\n") !=
             std::string::npos);
  BOOST_TEST(text.find("  (1) ReLU  mass 0  sensitivity 1\n") != std::string::npos);
  BOOST_TEST(text.find("  (2) Linear(3 -> 2)  mass 2  sensitivity 1  norm spectral\n") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(handles_share_the_module) {
  MODNORM_FRESH_GENERATOR(gen);
  Module a = Linear(3, 2);
  Module b = a;
  b.initialize(gen);
  BOOST_TEST(a.parameters()[0].weight.raw() == b.parameters()[0].weight.raw());
  BOOST_TEST(a.norm() == 1.0, tt::tolerance(1e-4));
}

BOOST_AUTO_TEST_SUITE_END()
