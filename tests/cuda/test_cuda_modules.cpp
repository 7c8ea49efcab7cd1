// Modules, dualize and the optimizer on the GPU against the same computation on the CPU:
// forward, backward and every parameter gradient of each atom, bond and compound; the four
// duality maps (and a spectral batch); and a few optimizer steps of the default Fashion-MNIST
// MLP on the same batches (what `modnorm train --device cuda` runs). Every case is skipped, with
// its reason, when no CUDA device is visible.
#include <boost/test/unit_test.hpp>
#include <functional>

#include "modnorm/modnorm.hpp"
#include "support.hpp"

using namespace modnorm;
using modnorm::test::rel_error;
using modnorm::test::token_ids;

namespace {

constexpr double kF32Band = 1e-5;  // f32 GPU vs CPU relative error

// Two identical copies of a network (same initialisation), one moved to the GPU.
struct Twins {
  Module cpu, gpu;
};
Twins twins(const std::function<Module()>& make, std::uint64_t seed) {
  Twins t{make(), make()};
  Generator a(seed), b(seed);
  t.cpu.initialize(a);
  t.gpu.initialize(b);
  t.gpu.to(Device::cuda);
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cuda_modules, *boost::unit_test::precondition(modnorm::test::cuda_visible))

BOOST_AUTO_TEST_CASE(every_module_forward_and_backward_match_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  struct Case {
    const char* name;
    std::function<Module()> make;
    Tensor x;
    bool input_grad;  // token ids have no gradient
  };
  const std::vector<Case> cases = {
      {"Linear", [] { return Module(Linear(48, 40)); }, Tensor::randn({16, 48}, gen), true},
      {"Linear on [B x T x d]", [] { return Module(Linear(12, 20)); },
       Tensor::randn({3, 5, 12}, gen), true},
      {"Bias", [] { return Module(Bias(30)); }, Tensor::randn({7, 30}, gen), true},
      {"bonds",
       [] {
         return Module(Sequential{ReLU(), GELU(), Abs(), Identity(), Scale(-1.5)});
       },
       Tensor::randn({9, 33}, gen), true},
      {"RMSNorm", [] { return Module(RMSNorm(0.5)); }, Tensor::randn({2, 6, 17}, gen), true},
      {"Flatten", [] { return Module(Flatten() >> Linear(60, 8) >> GELU()); },
       Tensor::randn({4, 5, 12}, gen), true},
      {"Embed, Flatten, MLP",
       [] {
         return Module(Sequential{Embed(50, 16), Flatten(), Linear(64, 32), ReLU(), Linear(32, 5)});
       },
       token_ids({6, 4}, 50, gen), false},
      {"Embed, Mean", [] { return Module(Embed(50, 16) >> Mean(1) >> Linear(16, 3)); },
       token_ids({6, 9}, 50, gen), false},
      {"residual MLP",
       [] {
         Module block = Linear(32, 32) >> RMSNorm() >> GELU();
         return Module(Sequential{Linear(24, 32), Bias(32), Add{Scale(0.75), Scale(0.25, block)},
                                  ReLU(), Linear(32, 10)});
       },
       Tensor::randn({20, 24}, gen), true},
      {"Conv2D per tap, stride 2", [] { return Module(Conv2D(3, 8, 3, 2, 1)); },
       Tensor::randn({4, 9, 7, 3}, gen), true},
      {"Conv2D flattened, 1x1 and 5x5",
       [] {
         Conv2DOptions flat;
         flat.conv_norm = ConvNorm::flattened;
         return Module(Conv2D(2, 6, 1, 1, 0, flat) >> Conv2D(6, 4, 5, 1, 2, flat));
       },
       Tensor::randn({3, 8, 8, 2}, gen), true},
      {"pooling and the per-example bonds",
       [] {
         return Module(Sequential{AvgPool2D(2), MeanSubtract(NormAxes::example),
                                  RMSNorm(1e-6, NormAxes::example), AvgPool2D(3, 1, 1),
                                  GlobalAvgPool()});
       },
       Tensor::randn({3, 10, 8, 5}, gen), true},
      {"ResCNN, two stages",
       [] {
         ResCNNOptions o;
         o.in_channels = 1;
         o.widths = {8, 16};
         o.blocks = 2;
         return ResCNN(o);
       },
       Tensor::randn({6, 12, 12, 1}, gen), true},
      {"Attention (causal, Rope)",
       [] {
         GPTOptions o;
         o.heads = 2;
         o.d_embed = 16;
         o.d_query = 8;
         o.d_value = 6;
         return Attention(o);
       },
       Tensor::randn({3, 7, 16}, gen), true},
      {"GPT",
       [] {
         GPTOptions o;
         o.vocab = 11;
         o.heads = 2;
         o.d_embed = 16;
         o.d_query = 4;
         o.d_value = 4;
         o.blocks = 2;
         return GPT(o);
       },
       token_ids({2, 9}, 11, gen), false},
      {"ModernGPT (QK-norm, ReLU^2, soft cap)",
       [] {
         ModernGPTOptions o;
         o.vocab = 11;
         o.heads = 2;
         o.d_embed = 16;
         o.d_head = 4;
         o.blocks = 2;
         o.soft_cap = 3.0;
         return ModernGPT(o);
       },
       token_ids({2, 9}, 11, gen), false},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Twins t = twins(c.make, gen.below(1u << 30));
      const Tensor y = t.cpu.forward(c.x);
      const Tensor y_gpu = t.gpu.forward(c.x.to(Device::cuda));
      BOOST_TEST(y_gpu.device() == Device::cuda);
      BOOST_TEST(rel_error(y_gpu.to_vector_f64(), y.to_vector_f64()) <= kF32Band);

      const Tensor dy = Tensor::randn(y.shape(), gen);
      t.cpu.zero_grad();
      t.gpu.zero_grad();
      const Tensor dx = t.cpu.backward(dy);
      const Tensor dx_gpu = t.gpu.backward(dy.to(Device::cuda));
      if (c.input_grad)
        BOOST_TEST(rel_error(dx_gpu.to_vector_f64(), dx.to_vector_f64()) <= kF32Band);
      const auto params = t.cpu.parameters(), params_gpu = t.gpu.parameters();
      BOOST_TEST_REQUIRE(params.size() == params_gpu.size());
      for (std::size_t l = 0; l < params.size(); ++l) {
        BOOST_TEST_INFO(params[l].name);
        BOOST_TEST(params_gpu[l].grad.device() == Device::cuda);
        BOOST_TEST(rel_error(params_gpu[l].grad.to_vector_f64(), params[l].grad.to_vector_f64()) <=
                   kF32Band);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_duality_map_matches_the_cpu) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const Norm& norm : {Norm::spectral, Norm::column, Norm::sign, Norm::euclidean})
    for (const Shape& shape : std::vector<Shape>{{64, 48}, {48, 64}, {1, 37}, {300, 3}}) {
      BOOST_TEST_CONTEXT(to_string(norm) << " " << to_string(shape)) {
        Tensor g = Tensor::randn(shape, gen);
        if (norm == Norm::column) {  // a zero column stays zero
          std::vector<double> keep(static_cast<std::size_t>(shape[1]), 1.0);
          keep[0] = 0.0;
          g = mul(g, Tensor::from_vector_f64(keep, {1, shape[1]}));
        }
        const Tensor cpu = dualize(g, norm);
        const Tensor gpu = dualize(g.to(Device::cuda), norm);
        BOOST_TEST(gpu.device() == Device::cuda);
        BOOST_TEST(rel_error(gpu.to_vector_f64(), cpu.to_vector_f64()) <= kF32Band);
        BOOST_TEST(std::abs(dual_norm(g.to(Device::cuda), norm) - dual_norm(g, norm)) <=
                   kF32Band * dual_norm(g, norm));
      }
    }
  // A spectral batch (a per-tap Conv2D weight): every tap on its own, norms max and sum.
  const Tensor taps = Tensor::randn({9, 32, 16}, gen);
  const Tensor taps_gpu = taps.to(Device::cuda);
  BOOST_TEST(rel_error(dualize(taps_gpu, Norm::spectral).to_vector_f64(),
                       dualize(taps, Norm::spectral).to_vector_f64()) <= kF32Band);
  BOOST_TEST(std::abs(dual_norm(taps_gpu, Norm::spectral) - dual_norm(taps, Norm::spectral)) <=
             kF32Band * dual_norm(taps, Norm::spectral));
  BOOST_TEST(std::abs(norm(taps_gpu, Norm::spectral) - norm(taps, Norm::spectral)) <=
             1e-4 * norm(taps, Norm::spectral));
}

BOOST_AUTO_TEST_CASE(training_steps_of_the_default_mlp_match_the_cpu) {
  // The default model of `modnorm train` (784-512-512-10, no biases) and its default optimizer
  // (modular, lr 0.1, Nesterov, quintic), 3 steps on the same random batches of 256, then
  // AdamW and the NorMuon + cautious-decay variant: the GPU weights must stay within the f32
  // band of the CPU ones, and so must each run's total update (the harder test: it is small).
  MODNORM_FRESH_GENERATOR(gen);
  auto mlp = [] {
    return Module(Linear(784, 512) >> ReLU() >> Linear(512, 512) >> ReLU() >> Linear(512, 10));
  };
  std::vector<OptimizerOptions> variants(3);
  variants[0].nesterov = true;
  variants[1].algorithm = Algorithm::adamw;
  variants[1].lr = 3e-3;
  variants[2].nesterov = true;
  variants[2].normuon.enabled = true;
  variants[2].weight_decay.mode = WeightDecay::cautious;
  variants[2].weight_decay.coefficient = 0.1;
  for (const OptimizerOptions& options : variants) {
    BOOST_TEST_CONTEXT(to_string(options.algorithm)
                       << (options.normuon.enabled ? " normuon" : "")) {
      Twins t = twins(mlp, gen.below(1u << 30));
      std::vector<Tensor> start;
      for (const auto& p : t.cpu.parameters()) start.push_back(p.weight.clone());
      Optimizer cpu(t.cpu, options), gpu(t.gpu, options);
      for (int step = 0; step < 3; ++step) {
        const Tensor x = Tensor::randn({256, 784}, gen);
        const Tensor labels = token_ids({256}, 10, gen);
        for (auto [net, opt, input] :
             {std::tuple{&t.cpu, &cpu, x}, std::tuple{&t.gpu, &gpu, x.to(Device::cuda)}}) {
          net->zero_grad();
          const CrossEntropy ce =
              softmax_cross_entropy(net->forward(input), labels.to(input.device()));
          net->backward(ce.grad);
          opt->step();
        }
      }
      const auto params = t.cpu.parameters(), params_gpu = t.gpu.parameters();
      for (std::size_t l = 0; l < params.size(); ++l) {
        BOOST_TEST_INFO(params[l].name);
        const std::vector<double> w = params[l].weight.to_vector_f64();
        const std::vector<double> w_gpu = params_gpu[l].weight.to_vector_f64();
        BOOST_TEST(rel_error(w_gpu, w) <= kF32Band);
        const std::vector<double> w0 = start[l].to_vector_f64();
        std::vector<double> update(w.size()), update_gpu(w.size());
        for (std::size_t e = 0; e < w.size(); ++e) {
          update[e] = w[e] - w0[e];
          update_gpu[e] = w_gpu[e] - w0[e];
        }
        // Updates are differences of f32 weights (~1e-7 relative of |W| each) and pass
        // through three Newton-Schulz runs: 1e-3 of the update is far below any real change.
        BOOST_TEST(rel_error(update_gpu, update) <= 1e-3);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
