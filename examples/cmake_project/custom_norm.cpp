// A norm defined outside modnorm, against the installed headers only: the Frobenius norm
// ||W||_F, whose duality map is G / ||G||_F and whose dual norm is ||G||_F. One class is all a
// new norm costs; a Linear measured in it then trains like any other atom. Exits non-zero when
// the map is not unit-norm or the loss does not fall.
#include <cmath>
#include <iostream>
#include <memory>
#include <modnorm/modnorm.hpp>

namespace {

class FrobeniusNorm final : public modnorm::NormRule {
 public:
  const char* name() const override { return "frobenius"; }
  double norm(const modnorm::Tensor& w, const modnorm::SpectralNormOptions&) const override {
    return modnorm::frobenius_norm(w);
  }
  double dual_norm(const modnorm::Tensor& g) const override { return modnorm::frobenius_norm(g); }
  modnorm::Tensor dualize(const modnorm::Tensor& g,
                          const modnorm::OrthogonalizeOptions&) const override {
    const double n = modnorm::frobenius_norm(g);
    return n > 0 ? modnorm::scale(g, 1.0 / n) : g;
  }
};

}  // namespace

int main() {
  const modnorm::Norm frobenius(std::make_shared<FrobeniusNorm>());
  modnorm::Generator gen(0);
  const modnorm::Tensor g = modnorm::Tensor::randn({3, 4}, gen);
  const double unit = modnorm::norm(modnorm::dualize(g, frobenius), frobenius);

  modnorm::AtomOptions atom;
  atom.norm = frobenius;
  modnorm::Module net = modnorm::Linear(4, 3, atom);
  net.initialize(gen);
  const modnorm::Tensor x = modnorm::Tensor::randn({32, 4}, gen);
  const modnorm::Tensor target =
      modnorm::matmul(x, modnorm::Tensor::randn({3, 4}, gen), false, true);
  modnorm::OptimizerOptions options;
  options.lr = 0.2;
  modnorm::Optimizer opt(net, options);
  double first = 0, last = 0;
  for (int step = 0; step < 50; ++step) {
    net.zero_grad();
    const modnorm::Tensor r = modnorm::sub(net.forward(x), target);
    last = modnorm::dot(r, r) / 32.0;
    if (step == 0) first = last;
    net.backward(modnorm::scale(r, 2.0 / 32.0), false);
    opt.step();
  }
  std::cout << net << "||dualize(G)|| = " << unit << ", loss " << first << " -> " << last << "\n";
  return std::abs(unit - 1.0) < 1e-5 && last < 0.5 * first ? 0 : 1;
}
