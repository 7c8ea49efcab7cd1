#pragma once
// Helpers shared by the module tests: float64 atoms and a central finite-difference check of
// every module's backward.

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

namespace modnorm::test {

inline AtomOptions f64_atom(double mass = 1.0) {
  AtomOptions o;
  o.mass = mass;
  o.dtype = DType::f64;
  return o;
}

/// Standard normal entries in float64.
inline Tensor randn64(Shape shape, Generator& gen) {
  return Tensor::randn(std::move(shape), gen, DType::f64);
}

/// `net` initialised, with every atom's weight and gradient in float64 (the builders, GPT and
/// ResCNN, make f32 atoms).
inline Module to_f64(Module net, Generator& gen) {
  net.initialize(gen);
  for (const Parameter& p : net.parameters()) {
    p.atom->weight() = p.weight.to(DType::f64);
    p.atom->grad() = Tensor::zeros(p.weight.shape(), DType::f64);
  }
  return net;
}

/// Checks backward_tuple() of `net` at the input tuple x (f64) against central differences
/// of L = sum_k <R_k, net(x)_k> with random R_k: dL/dx_i (unless `check_input` is false) and
/// dL/dW for every parameter entry. h = 1e-6 in float64 gives ~1e-9 accuracy; the tolerance
/// is 1e-6 (1 + |g|).
inline void check_tuple_gradients(Module net, std::vector<Tensor> x, Generator& gen,
                                  bool check_input = true) {
  const std::vector<Tensor> y = net.forward_tuple(x);
  std::vector<Tensor> r;
  for (const Tensor& yk : y) r.push_back(Tensor::randn(yk.shape(), gen, DType::f64));
  net.zero_grad();
  const std::vector<Tensor> dx = net.backward_tuple(r);
  const auto loss = [&] {
    const std::vector<Tensor> out = net.forward_tuple(x);
    double l = 0.0;
    for (std::size_t k = 0; k < out.size(); ++k) l += dot(r[k], out[k]);
    return l;
  };
  const auto probe = [&](Tensor t, const Tensor& analytic, const std::string& what) {
    const double h = 1e-6;
    double* v = t.data<double>();
    const std::vector<double> a = analytic.to_vector_f64();
    BOOST_TEST_REQUIRE(a.size() == static_cast<std::size_t>(t.numel()));
    for (std::size_t k = 0; k < a.size(); ++k) {
      const double old = v[k];
      v[k] = old + h;
      const double plus = loss();
      v[k] = old - h;
      const double minus = loss();
      v[k] = old;
      const double fd = (plus - minus) / (2 * h);
      BOOST_TEST_INFO(what << " entry " << k << ": backward " << a[k] << ", finite difference "
                           << fd);
      BOOST_TEST(std::abs(a[k] - fd) <= 1e-6 * (1 + std::abs(a[k])));
    }
  };
  if (check_input)
    for (std::size_t i = 0; i < x.size(); ++i) probe(x[i], dx.at(i), "input " + std::to_string(i));
  for (const Parameter& p : net.parameters()) probe(p.weight, p.grad, p.name);
}

/// Fills every gradient of `net` with random values and checks that the modular duality map of
/// them has modular norm 1 (Large et al. 2024: the map's image is the unit sphere), with the
/// exact polar factor and the exact spectral norm.
inline void check_duality_map_has_unit_norm(Module& net, Generator& gen) {
  std::vector<Parameter> p = net.parameters();
  for (const Parameter& q : p) {
    Tensor g = q.grad;
    axpy(1.0, Tensor::randn(q.grad.shape(), gen), g, 0.0);
  }
  DualizeOptions exact;
  exact.orthogonalize.method = OrthogonalizeMethod::svd;
  const std::vector<Tensor> d = net.dualize(exact);
  for (std::size_t l = 0; l < p.size(); ++l) {
    Tensor w = p[l].weight;
    axpy(1.0, d[l], w, 0.0);
  }
  SpectralNormOptions sigma;
  sigma.exact = true;
  BOOST_TEST(net.norm(sigma) == 1.0, boost::test_tools::tolerance(1e-5));
}

/// check_tuple_gradients for a module from one tensor to one tensor.
inline void check_gradients(Module net, Tensor x, Generator& gen, bool check_input = true) {
  check_tuple_gradients(std::move(net), {std::move(x)}, gen, check_input);
}

}  // namespace modnorm::test
