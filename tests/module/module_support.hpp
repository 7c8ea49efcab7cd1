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

/// Checks backward() of `net` at input x (f64) against central differences of
/// L = <R, net(x)> with a random R: dL/dx (unless `check_input` is false) and dL/dW for every
/// parameter entry. h = 1e-6 in float64 gives ~1e-9 accuracy; the tolerance is 1e-6 (1 + |g|).
inline void check_gradients(Module net, Tensor x, Generator& gen, bool check_input = true) {
  const Tensor y = net.forward(x);
  const Tensor r = Tensor::randn(y.shape(), gen, DType::f64);
  net.zero_grad();
  const Tensor dx = net.backward(r);
  const auto loss = [&] { return dot(r, net.forward(x)); };
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
  if (check_input) probe(x, dx, "input");
  for (const Parameter& p : net.parameters()) probe(p.weight, p.grad, p.name);
}

}  // namespace modnorm::test
