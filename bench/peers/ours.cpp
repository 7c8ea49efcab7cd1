// bench_peers_ours: modnorm's side of the comparison with optax, PyTorch and JAX
// (docs/benchmarks.md "Peers: optax, PyTorch, JAX"). bench/peers/peers.py writes the inputs and
// a job list, runs this program, runs the peers on the same inputs and compares.
//
// Usage:
//   bench_peers_ours agree INPUT.safetensors OUTPUT.safetensors
//   bench_peers_ours speed INPUT.safetensors OUTPUT.json
//
// INPUT holds the tensors and, in its __metadata__ entry "jobs", a JSON list of jobs that
// name them. `agree` writes every job's results to OUTPUT (safetensors); `speed` times every
// job (median of "repeats" calls after "warmup" calls) and writes one JSON document. Jobs:
//
//   {"op": "orthogonalize", "input": NAME, "output": NAME, "epsilon": E, "compute": "f32"|"f64"}
//       modnorm::orthogonalize with the default quintic (5 steps) and OrthogonalizeOptions
//       epsilon E, iterates in `compute`.
//   {"op": "optimizer", "w0": NAME, "grads": NAME, "output": NAME, "options": {...}}
//       One Linear atom (c = 1) with weight w0 [d_out x d_in], stepped once per slice of grads
//       [steps x d_out x d_in] by modnorm::Optimizer; output [steps x d_out x d_in] holds the
//       weight after each step. options: lr, beta, nesterov, weight_decay (decoupled),
//       correction ("off" | "per_layer"), convention ("modular" | "optax"), epsilon.
//   {"op": "mlp_grad", "x": NAME, "labels": NAME, "weights": [NAME, ...], "output": PREFIX}
//       The MLP of `modnorm train` (Linear >> ReLU >> ... >> Linear, no biases) with the given
//       weights: PREFIX + "loss" (rank 0) and PREFIX + <parameter name> (the gradients).
//   {"op": "train_step", "x": NAME, "labels": NAME, "weights": [...], "lr": LR}   (speed only)
//       One training step exactly as src/cli/trainer.cpp does it: zero_grad, forward,
//       softmax_cross_entropy, backward, Optimizer::step (modular defaults, Nesterov, quintic).
//   {"op": "cnn_step", "x": NAME, "labels": NAME, "widths": [...], "lr": LR}   (speed only)
//       The same step for the residual CNN of `modnorm train cnn` (src/cli/cnn.hpp):
//       Unflatten to [N, 28, 28, 1], ResCNN with these stage widths, one block per stage,
//       per-tap convolution norm; its own seeded initialization (the timing does not depend
//       on the values).
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../timing.hpp"
#include "modnorm/modnorm.hpp"

namespace {

using modnorm::DType;
using modnorm::Module;
using modnorm::Tensor;
using json = nlohmann::json;

using modnorm::bench::time_calls;
using modnorm::bench::Timing;

// The tensor name a job gives under `key`.
std::string name_of(const json& job, const char* key) {
  return job.at(key).get<std::string>();
}

// Copies `value` into `dst` (same shape; converted to dst's dtype).
void assign(Tensor dst, const Tensor& value) {
  if (dst.shape() != value.shape())
    throw modnorm::Error("[bench_peers_ours] shape " + modnorm::to_string(value.shape()) +
                         " does not fit " + modnorm::to_string(dst.shape()));
  modnorm::axpy(1.0, value.to(dst.dtype()), dst, 0.0);
}

// The MLP of `modnorm train` (src/cli/mlp.hpp) for weights [d_1 x d_0], [d_2 x d_1], ...
Module mlp_for(const modnorm::SafetensorsFile& in, const json& names) {
  std::vector<Tensor> weights;
  for (const auto& name : names) weights.push_back(in.at(name.get<std::string>()));
  Module net = modnorm::Linear(weights[0].dim(1), weights[0].dim(0));
  for (std::size_t k = 1; k < weights.size(); ++k)
    net = net >> modnorm::ReLU() >> modnorm::Linear(weights[k].dim(1), weights[k].dim(0));
  if (weights.size() == 1) net = modnorm::Sequential{net};
  const auto params = net.parameters();
  for (std::size_t k = 0; k < weights.size(); ++k) assign(params[k].weight, weights[k]);
  return net;
}

// The residual CNN of `modnorm train cnn` (src/cli/cnn.hpp) for 28x28 images, seeded.
Module cnn_for(const json& widths) {
  modnorm::ResCNNOptions o;
  o.widths = widths.get<std::vector<std::int64_t>>();
  o.blocks = 1;
  Module net = modnorm::Unflatten({28, 28, 1}) >> modnorm::ResCNN(o);
  modnorm::Generator gen(0);
  net.initialize(gen);
  return net;
}

modnorm::OrthogonalizeOptions orthogonalize_options(const json& job) {
  modnorm::OrthogonalizeOptions o;
  o.epsilon = job.value("epsilon", 0.0);
  o.compute_dtype = job.value("compute", std::string("f32")) == "f64" ? DType::f64 : DType::f32;
  return o;
}

modnorm::OptimizerOptions optimizer_options(const json& j) {
  modnorm::OptimizerOptions o;
  o.lr = j.value("lr", 0.1);
  o.beta = j.value("beta", 0.95);
  o.nesterov = j.value("nesterov", false);
  const double decay = j.value("weight_decay", 0.0);
  if (decay > 0) {
    o.weight_decay.mode = modnorm::WeightDecay::decoupled;
    o.weight_decay.coefficient = decay;
  }
  if (j.value("correction", std::string("off")) == "per_layer")
    o.correction.mode = modnorm::CorrectionMode::per_layer;
  if (j.value("convention", std::string("modular")) == "optax")
    o.convention = modnorm::Convention::optax;
  o.orthogonalize.epsilon = j.value("epsilon", 0.0);
  return o;
}

// One Linear atom stepped through every slice of `grads`; returns the weights after each step.
Tensor run_optimizer(const Tensor& w0, const Tensor& grads, const modnorm::OptimizerOptions& o) {
  const std::int64_t steps = grads.dim(0), rows = grads.dim(1), cols = grads.dim(2);
  Module net = modnorm::Linear(cols, rows);
  auto params = net.parameters();
  if (params[0].coefficient != 1.0)  // optax has no modular share: compare single atoms
    throw modnorm::Error("[bench_peers_ours] a lone Linear atom should have coefficient 1");
  assign(params[0].weight, w0);
  modnorm::Optimizer opt(net, o);
  const std::vector<float> g = grads.to_vector();
  std::vector<float> trajectory;
  const auto slice = static_cast<std::size_t>(rows * cols);
  for (std::int64_t k = 0; k < steps; ++k) {
    const auto begin =
        g.begin() + static_cast<std::ptrdiff_t>(k) * static_cast<std::ptrdiff_t>(slice);
    assign(
        params[0].grad,
        Tensor::from_vector(std::vector<float>(begin, begin + static_cast<std::ptrdiff_t>(slice)),
                            {rows, cols}));
    opt.step();
    const std::vector<float> w = params[0].weight.to_vector();
    trajectory.insert(trajectory.end(), w.begin(), w.end());
  }
  return Tensor::from_vector(std::move(trajectory), {steps, rows, cols});
}

json jobs_of(const modnorm::SafetensorsFile& in) {
  const auto it = in.metadata.find("jobs");
  if (it == in.metadata.end())
    throw modnorm::Error("[bench_peers_ours] the input has no 'jobs' metadata");
  return json::parse(it->second);
}

int agree(const std::string& input, const std::string& output) {
  const modnorm::SafetensorsFile in = modnorm::load_safetensors(input);
  std::vector<std::pair<std::string, Tensor>> out;
  for (const json& job : jobs_of(in)) {
    const std::string op = name_of(job, "op");
    if (op == "orthogonalize") {
      const Tensor g = in.at(name_of(job, "input"));
      out.emplace_back(name_of(job, "output"),
                       modnorm::orthogonalize(g, orthogonalize_options(job)));
    } else if (op == "optimizer") {
      out.emplace_back(name_of(job, "output"),
                       run_optimizer(in.at(name_of(job, "w0")), in.at(name_of(job, "grads")),
                                     optimizer_options(job.at("options"))));
    } else if (op == "mlp_grad") {
      Module net = mlp_for(in, job.at("weights"));
      net.zero_grad();
      const modnorm::CrossEntropy ce =
          modnorm::softmax_cross_entropy(net.forward(in.at(name_of(job, "x"))),
                                         in.at(name_of(job, "labels")).to(modnorm::DType::i32));
      net.backward(ce.grad);
      const std::string prefix = name_of(job, "output");
      out.emplace_back(prefix + "loss", Tensor::from_vector_f64({ce.loss}, {}));
      for (const modnorm::Parameter& p : net.parameters())
        out.emplace_back(prefix + p.name, p.grad);
    } else {
      throw modnorm::Error("[bench_peers_ours] unknown job op '" + op + "'");
    }
  }
  modnorm::save_safetensors(output, out, {{"modnorm_version", modnorm::version()}});
  return 0;
}

int speed(const std::string& input, const std::string& output) {
  const modnorm::SafetensorsFile in = modnorm::load_safetensors(input);
  json results = json::array();
  for (const json& job : jobs_of(in)) {
    const std::string op = name_of(job, "op");
    const int warmup = job.value("warmup", 2), repeats = job.value("repeats", 10);
    Timing t{};
    if (op == "orthogonalize") {
      const Tensor g = in.at(name_of(job, "input"));
      const modnorm::OrthogonalizeOptions o = orthogonalize_options(job);
      t = time_calls([&] { modnorm::orthogonalize(g, o); }, warmup, repeats);
    } else if (op == "train_step" || op == "cnn_step") {
      Module net = op == "train_step" ? mlp_for(in, job.at("weights")) : cnn_for(job.at("widths"));
      const Tensor x = in.at(name_of(job, "x"));
      // Labels stored as an F32 or F64 tensor of class indices (to() refuses a non-integer).
      const Tensor y = in.at(name_of(job, "labels")).to(modnorm::DType::i32);
      modnorm::OptimizerOptions o;  // modular defaults, as `modnorm train`: Nesterov on
      o.lr = job.value("lr", 0.1);
      o.nesterov = true;
      modnorm::Optimizer opt(net, o);
      t = time_calls(
          [&] {
            net.zero_grad();
            const modnorm::CrossEntropy ce = modnorm::softmax_cross_entropy(net.forward(x), y);
            net.backward(ce.grad, false);  // as autograd: no dL/dx for data
            opt.step();
          },
          warmup, repeats);
    } else {
      throw modnorm::Error("[bench_peers_ours] unknown speed job op '" + op + "'");
    }
    results.push_back({{"id", job.at("id")},
                       {"median_s", t.median_s},
                       {"min_s", t.min_s},
                       {"times_s", t.times_s}});
  }
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const json doc = {{"modnorm_version", modnorm::version()},
                    {"cpu_gemm", modnorm::cpu_gemm()},
                    {"cpu_gemm_kernels", modnorm::cpu_gemm_kernels()},
                    {"cpu_conv", modnorm::cpu_conv()},
                    {"OMP_NUM_THREADS", omp ? omp : ""},
                    {"hardware_threads", std::thread::hardware_concurrency()},
                    {"results", results}};
  std::ofstream(output) << doc.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: bench_peers_ours agree INPUT.safetensors OUTPUT.safetensors\n"
      "       bench_peers_ours speed INPUT.safetensors OUTPUT.json\n";
  if (argc != 4) {
    std::cerr << usage;
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "agree") return agree(argv[2], argv[3]);
    if (mode == "speed") return speed(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::cerr << "bench_peers_ours: " << e.what() << "\n";
    return 1;
  }
  std::cerr << usage;
  return 2;
}
