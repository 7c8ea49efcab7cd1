// Build an MLP and a residual MLP from modules, print their trees, take one backward pass on
// random data and print the per-layer report (docs/modules.md). Run: ./build/bin/compose
#include <iostream>
#include <modnorm/modnorm.hpp>

int main() {
  using namespace modnorm;
  Generator gen(0);

  // An MLP: 784 -> 256 -> 256 -> 10 with ReLU; the head gets twice the mass (a larger share
  // of each modular step).
  AtomOptions head;
  head.mass = 2.0;
  Module mlp = Linear(784, 256) >> ReLU() >> Linear(256, 256) >> ReLU() >> Linear(256, 10, head);

  // A residual MLP: each block is x -> (1 - 1/L) x + (1/L) block(x), so every block has
  // sensitivity 1 and the whole net stays well-normed however deep (modula's convention).
  const int blocks = 3;
  std::vector<Child> body{{"embed", Linear(784, 128)}};
  for (int b = 0; b < blocks; ++b) {
    Module block = RMSNorm() >> Linear(128, 128) >> GELU() >> Linear(128, 128);
    body.push_back(
        {"block" + std::to_string(b), Add{Scale(1.0 - 1.0 / blocks), Scale(1.0 / blocks, block)}});
  }
  body.push_back({"head", Linear(128, 10)});
  Module residual = Sequential(body);

  for (auto [name, net] :
       {std::pair<const char*, Module>{"MLP", mlp}, {"residual MLP", residual}}) {
    net.initialize(gen);
    const Tensor x = Tensor::randn({32, 784}, gen);
    std::vector<std::int32_t> classes(32);
    for (auto& y : classes) y = static_cast<std::int32_t>(gen.below(10));
    const Tensor labels = Tensor::from_vector_i32(classes, {32});
    const CrossEntropy ce = softmax_cross_entropy(net.forward(x), labels);
    net.backward(ce.grad);

    std::cout << "== " << name << ": mass " << net.mass() << ", sensitivity " << net.sensitivity()
              << ", modular norm " << net.norm() << ", loss " << ce.loss << "\n"
              << net << "\n"
              << report(net) << "\n";
  }
  return 0;
}
