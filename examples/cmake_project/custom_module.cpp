// A module defined outside modnorm, against the installed headers only: Gain(n), the atom
// y = x * g (one gain per feature, broadcast over the rows). As an operator on the RMS norm,
// diag(g) has norm max_i |g_i|, which is the `sign` norm of g (max |entry|); its duality map
// sign(G) and dual norm ||G||_1 come with that rule, so the atom writes none of them. The
// public <modnorm/module_checks.hpp> gives its input checks and errors that name the module.
// Trained a few steps inside a small network, it must lower the loss and report its norm;
// exits non-zero otherwise.
#include <cmath>
#include <iostream>
#include <memory>
#include <modnorm/modnorm.hpp>
#include <string>
#include <vector>

namespace {

class GainImpl final : public modnorm::Cloneable<GainImpl, modnorm::AtomImpl> {
 public:
  GainImpl(std::int64_t n, const modnorm::AtomOptions& options)
      : Cloneable("Gain", {n}, modnorm::Norm::sign, options), n_(n) {}

  std::string describe() const override { return "Gain(" + std::to_string(n_) + ")"; }

  modnorm::Tensor forward(const modnorm::Tensor& x) override {
    modnorm::check_width("Gain.forward", *this, x, n_);
    modnorm::check_like("Gain.forward", *this, x, weight());
    x_ = x;
    return modnorm::mul(x, weight());  // broadcast over the leading axes
  }

  modnorm::Tensor backward(const modnorm::Tensor& dy, bool /*input_grad*/) override {
    modnorm::require_forward("Gain.backward", *this, x_.has_value());
    modnorm::check_grad_shape("Gain.backward", *this, dy, x_->shape());
    const modnorm::Tensor rows = modnorm::mul(dy, *x_).reshape({dy.numel() / n_, n_});
    modnorm::axpy(1.0, modnorm::sum(rows, 0), grad());  // dg += sum_rows dy * x
    return modnorm::mul(dy, weight());                  // dx = dy * g
  }

  void clear_cache() override { x_.reset(); }

 private:
  std::int64_t n_;
  std::optional<modnorm::Tensor> x_;
};

// The handle users hold, as every module of the library has one.
class Gain : public modnorm::Module {
 public:
  explicit Gain(std::int64_t n, const modnorm::AtomOptions& options = {})
      : Module(make(n, options)) {}

 private:
  static std::shared_ptr<modnorm::ModuleImpl> make(std::int64_t n,
                                                   const modnorm::AtomOptions& options) {
    if (n < 1) modnorm::fail("Gain", "n must be >= 1, got " + std::to_string(n));
    return std::make_shared<GainImpl>(n, options);
  }
};

}  // namespace

int main() {
  modnorm::Generator gen(0);
  modnorm::Module net =
      modnorm::Linear(8, 16) >> Gain(16) >> modnorm::ReLU() >> modnorm::Linear(16, 4);
  net.initialize(gen);

  // Its errors name it by its place in the tree.
  bool named = false;
  try {
    modnorm::Module wrong = modnorm::Linear(8, 15) >> Gain(16);
    wrong.forward(modnorm::Tensor::zeros({2, 8}));
  } catch (const modnorm::Error& e) {
    std::cout << e.what() << "\n";
    named = std::string(e.what()).find("[Gain.forward] module '1' (Gain(16))") == 0;
  }

  // Four classes of 64 random points, labelled by their largest coordinate among the first four.
  const modnorm::Tensor x = modnorm::Tensor::randn({64, 8}, gen);
  const std::vector<float> values = x.to_vector();
  std::vector<std::int32_t> classes;
  for (std::size_t row = 0; row < 64; ++row) {
    std::size_t best = 0;
    for (std::size_t k = 1; k < 4; ++k)
      if (values[row * 8 + k] > values[row * 8 + best]) best = k;
    classes.push_back(static_cast<std::int32_t>(best));
  }
  const modnorm::Tensor labels = modnorm::Tensor::from_vector_i32(classes, {64});
  modnorm::Optimizer opt(net, modnorm::OptimizerOptions{});
  std::vector<double> losses;
  for (int step = 0; step < 40; ++step) {
    net.zero_grad();
    const modnorm::CrossEntropy ce = modnorm::softmax_cross_entropy(net.forward(x), labels);
    losses.push_back(ce.loss);
    net.backward(ce.grad, false);
    opt.step();
  }

  // Its row of the per-layer report: the sign norm, max_i |g_i|.
  const modnorm::Report table = modnorm::report(net);
  const modnorm::ReportRow& gain = table.rows.at(1);
  const double expected = modnorm::max_abs(net.parameters().at(1).weight);
  std::cout << net << table << "loss " << losses.front() << " -> " << losses.back() << "\n";
  const bool reported = gain.name == "1.weight" && std::abs(gain.weight_norm - expected) < 1e-6;
  return named && reported && losses.back() < 0.5 * losses.front() ? 0 : 1;
}
