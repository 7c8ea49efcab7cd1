// A norm defined outside the library through the public API alone (norm.hpp): one rule class is
// all a new norm costs. The rule here is the max-row norm max_i ||W[i,:]||_2 (the l2 -> l_inf
// operator norm), whose duality map scales every row of G to unit length and whose dual norm is
// sum_i ||G[i,:]||_2; the tests check that the library's checks, module core, optimizer, report
// and shard planner all use it as they use the built-in rules.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

namespace {

namespace tt = boost::test_tools;
namespace mt = modnorm::test;
using modnorm::DType;
using modnorm::Module;
using modnorm::Norm;
using modnorm::Shape;
using modnorm::Tensor;

// m where m > 0, 1 where m == 0 (so that a zero row stays zero).
Tensor nonzero_or_one(const Tensor& m) {
  return modnorm::add(
      m, modnorm::sub(Tensor::full({1}, 1.0, m.dtype(), m.device()), modnorm::sign(m)));
}

class RowNorm : public modnorm::NormRule {
 public:
  const char* name() const override { return "row"; }
  std::string shape_requirement(const Shape& shape) const override {
    return shape.size() == 2 ? "" : "a matrix (rank 2)";
  }
  double norm(const Tensor& W, const modnorm::SpectralNormOptions&) const override {
    return modnorm::max(modnorm::row_norms(W.to(DType::f64)));
  }
  double dual_norm(const Tensor& G) const override {
    return modnorm::sum(modnorm::row_norms(G.to(DType::f64)));
  }
  Tensor dualize(const Tensor& G, const modnorm::OrthogonalizeOptions&) const override {
    const Tensor norms = nonzero_or_one(modnorm::row_norms(G));
    return modnorm::div(G, norms.reshape({G.dim(0), 1}));  // row i over ||G[i,:]||_2
  }
};

// The same rule with a cost for the shard planner (flops per duality map, whatever the shape).
class CostlyRowNorm final : public RowNorm {
 public:
  double cost(const Shape&, const modnorm::OrthogonalizeOptions&) const override { return 1e9; }
};

const Norm& row_norm() {
  static const Norm row(std::make_shared<RowNorm>());
  return row;
}

modnorm::AtomOptions row_atom(DType dtype = DType::f64) {
  modnorm::AtomOptions o;
  o.norm = row_norm();
  o.dtype = dtype;
  return o;
}

// Entry (i, j) of a matrix on the host.
double at(const std::vector<double>& values, const Tensor& t, std::int64_t i, std::int64_t j) {
  return values[static_cast<std::size_t>(i * t.dim(1) + j)];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(custom_norm)

BOOST_AUTO_TEST_CASE(custom_duality_map_has_unit_norm_and_pairs_to_the_dual_norm) {
  MODNORM_FRESH_GENERATOR(gen);
  std::vector<double> values = Tensor::randn({5, 7}, gen, DType::f64).to_vector_f64();
  values.resize(values.size() + 7, 0.0);  // a zero last row
  const Tensor g = Tensor::from_vector_f64(values, {6, 7});
  const Tensor t = modnorm::dualize(g, row_norm());
  BOOST_TEST(modnorm::norm(t, row_norm()) == 1.0, tt::tolerance(1e-12));
  BOOST_TEST(modnorm::dot(g, t) == modnorm::dual_norm(g, row_norm()), tt::tolerance(1e-12));
  BOOST_TEST(modnorm::dual_pairing(g, row_norm()) == modnorm::dual_norm(g, row_norm()),
             tt::tolerance(1e-12));
  // Every row of G in the direction of that row, with unit length; the zero row stays zero.
  const std::vector<double> gv = g.to_vector_f64(), tv = t.to_vector_f64();
  for (std::int64_t i = 0; i < g.dim(0); ++i) {
    double length = 0.0;
    for (std::int64_t j = 0; j < g.dim(1); ++j) length += at(gv, g, i, j) * at(gv, g, i, j);
    length = std::sqrt(length);
    for (std::int64_t j = 0; j < g.dim(1); ++j)
      BOOST_TEST(at(tv, t, i, j) == (length > 0 ? at(gv, g, i, j) / length : 0.0),
                 tt::tolerance(1e-12));
  }
  // The dual norm correction works for any rule: the clamped pairing scales the map.
  modnorm::DualizeOptions corrected;
  corrected.dual_norm_correction.enabled = true;
  const Tensor small = modnorm::scale(g, 1e-3 / modnorm::dual_norm(g, row_norm()));
  BOOST_TEST(modnorm::norm(modnorm::dualize(small, row_norm(), corrected), row_norm()) == 1e-3,
             tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(custom_norm_gets_the_library_checks_and_names) {
  BOOST_TEST(std::string(modnorm::to_string(row_norm())) == "row");
  BOOST_TEST((row_norm() == Norm(row_norm())));
  BOOST_TEST((Norm(std::make_shared<RowNorm>()) != row_norm()));  // another rule object
  BOOST_TEST((row_norm() != Norm::spectral));
  mt::expect_error([] { modnorm::dualize(Tensor::full({4}, 1.0), row_norm()); },
                   {"[dualize]", "norm row needs a matrix (rank 2)", "[4] f32 cpu"});
  mt::expect_error(
      [] {
        modnorm::dual_norm(Tensor::from_vector({1.0f, std::nanf("")}, {1, 2}), row_norm());
      },
      {"[dual_norm]", "NaN at [0, 1]"});
  mt::expect_error([] { modnorm::Bias(3, row_atom()); }, {"[Bias]", "norm row needs", "[3]"});
  mt::expect_error([] { static_cast<void>(Norm(nullptr)); }, {"[Norm]", "null rule"});
}

BOOST_AUTO_TEST_CASE(module_with_a_custom_norm_trains) {
  MODNORM_FRESH_GENERATOR(gen);
  modnorm::AtomOptions spectral;
  spectral.dtype = DType::f64;
  Module net =
      modnorm::Linear(8, 16, row_atom()) >> modnorm::ReLU() >> modnorm::Linear(16, 4, spectral);
  net.initialize(gen);
  const std::vector<modnorm::Parameter> params = net.parameters();
  BOOST_TEST((params[0].norm == row_norm()));
  BOOST_TEST(modnorm::norm(params[0].weight, row_norm()) == 1.0, tt::tolerance(1e-12));
  std::ostringstream tree;
  tree << net;
  BOOST_TEST(tree.str().find("norm row") != std::string::npos, tree.str());
  BOOST_TEST(std::string(modnorm::to_string(modnorm::report(net).rows[0].norm)) == "row");

  // A regression y = x A^T with its mean squared error.
  const Tensor x = Tensor::randn({64, 8}, gen, DType::f64);
  const Tensor target = modnorm::matmul(x, Tensor::randn({4, 8}, gen, DType::f64), false, true);
  const auto loss_and_grad = [&] {
    net.zero_grad();
    const Tensor r = modnorm::sub(net.forward(x), target);
    net.backward(modnorm::scale(r, 2.0 / static_cast<double>(r.dim(0))), false);
    return modnorm::dot(r, r) / static_cast<double>(r.dim(0));
  };
  modnorm::OptimizerOptions options;
  options.beta = 0.0;  // the step is the tree's duality map of the gradient itself
  options.lr = 0.05;
  modnorm::Optimizer opt(net, options);
  const double first = loss_and_grad();
  const Tensor expected = modnorm::scale(net.dualize()[0], -options.lr);  // dualize(g) / c_0
  opt.step();
  BOOST_TEST(mt::rel_error(opt.last_updates()[0].to_vector_f64(), expected.to_vector_f64()) <=
             1e-12);
  double last = first;
  for (int step = 1; step < 60; ++step) {
    last = loss_and_grad();
    opt.step();
  }
  BOOST_TEST_INFO("loss " << first << " -> " << last);
  BOOST_TEST(last < 0.5 * first);
}

BOOST_AUTO_TEST_CASE(lr_rules_that_resize_orthogonalized_matrices_refuse_it) {
  // LrRule::muon replaces the shape factor of U V^T; the row norm's map is no U V^T.
  const Module net = modnorm::Linear(8, 16, row_atom());
  modnorm::OptimizerOptions options;
  options.lr_rule = modnorm::LrRule::muon;
  mt::expect_error([&] { modnorm::Optimizer opt(net, options); },
                   {"[Optimizer]", "lr_rule muon sizes orthogonalized", "'weight'", "norm row"});
}

BOOST_AUTO_TEST_CASE(shard_planner_asks_the_rule_for_its_cost) {
  const Norm costly(std::make_shared<CostlyRowNorm>());
  const modnorm::ShardPlan plan =
      modnorm::plan_shards({{{256, 8}, costly}, {{8, 8}, row_norm()}}, 2, {});
  BOOST_TEST(plan.flops[0] + plan.flops[1] == 1e9);
  // More than a rank's share of the work, tall and 256 rows: a spectral matrix would be split;
  // a rule that does not orthogonalize is owned whole.
  BOOST_TEST(plan.owners[0].size() == 1u);
  const modnorm::ShardPlan spectral =
      modnorm::plan_shards({{{256, 8}, Norm::spectral}, {{8, 8}, row_norm()}}, 2, {});
  BOOST_TEST(spectral.owners[0].size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
