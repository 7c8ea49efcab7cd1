// bench_distributed_step: the time of one data-parallel training step of the command line's MLP
// (src/cli/mlp.hpp: Linear layers with ReLU between them, the modular optimizer at its
// defaults), split into forward + backward, the optimizer step and, inside it, the collectives
// (with the wait for the slowest rank);
// and the duality maps this rank computes, timed apart (docs/benchmarks.md, "Data parallelism").
// At W = 2 no matrix of these MLPs is split by rows (plan_shards: for the 1024 x 1024 one, two
// owners would each also pay the n^3 product A A, more than the split saves), but the timing
// follows the plan either way.
// Run it alone (W = 1) or under `mpirun -np W` (scripts/bench-distributed): each rank takes its
// share of a fixed batch of random inputs and labels, as `modnorm train` does.
//
// Usage: bench_distributed_step [--width N] [--batch B] [--warmup N] [--repeats N]
// Rank 0 prints one JSON document: per rank the median over the timed steps of each part.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace {

using json = nlohmann::json;
using modnorm::Shape;
using modnorm::Tensor;
namespace dist = modnorm::distributed;

struct Run {
  std::int64_t width = 512;
  std::int64_t batch = 256;
  std::int64_t warmup = 3;
  std::int64_t repeats = 20;
};

Run parse(int argc, char** argv) {
  Run r;
  const std::map<std::string, std::int64_t*> options = {{"--width", &r.width},
                                                        {"--batch", &r.batch},
                                                        {"--warmup", &r.warmup},
                                                        {"--repeats", &r.repeats}};
  for (int k = 1; k < argc; k += 2) {
    const auto it = options.find(argv[k]);
    if (it == options.end() || k + 1 >= argc)
      throw modnorm::Error("[bench_distributed_step] unknown option or missing value: '" +
                           std::string(argv[k]) + "'");
    *it->second = std::stoll(argv[k + 1]);
  }
  if (r.width < 1 || r.batch < 1 || r.repeats < 1 || r.warmup < 0)
    throw modnorm::Error(
        "[bench_distributed_step] width, batch and repeats must be >= 1, warmup >= 0");
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Run r = parse(argc, argv);
    const dist::Group world = dist::init();
    constexpr std::int64_t inputs = 784, classes = 10;
    modnorm::Module net = modnorm::Linear(inputs, r.width) >> modnorm::ReLU() >>
                          modnorm::Linear(r.width, r.width) >> modnorm::ReLU() >>
                          modnorm::Linear(r.width, classes);
    modnorm::Generator gen(0);
    net.initialize(gen);
    modnorm::OptimizerOptions options;
    modnorm::Optimizer opt(net, options, world);

    // This rank's share of one fixed batch.
    const dist::Share part = dist::share(r.batch, world);
    modnorm::Generator data(1 + static_cast<std::uint64_t>(world.rank()));
    const Tensor x = Tensor::randn({part.count, inputs}, data);
    std::vector<std::int32_t> drawn;
    for (std::int64_t k = 0; k < part.count; ++k)
      drawn.push_back(static_cast<std::int32_t>(data.below(classes)));
    const Tensor labels = Tensor::from_vector_i32(drawn, {part.count});
    const double share = static_cast<double>(part.count) / static_cast<double>(r.batch);

    // The duality maps of the atoms this rank owns, on stand-in momenta of their shapes: what
    // the step computes (the same owners: plan_shards). Whole matrices through
    // Module::dualize, this rank's rows of a split one through orthogonalize_rows with its other
    // owners (its Gram sums included).
    const std::vector<modnorm::Parameter> params = net.parameters();
    std::vector<modnorm::PlanItem> items;
    for (const modnorm::Parameter& p : params) items.push_back({p.weight.shape(), p.norm});
    const modnorm::ShardPlan plan =
        modnorm::plan_shards(items, world.size(), options.orthogonalize);
    std::vector<Tensor> owned(params.size());
    std::vector<std::pair<Tensor, dist::Group>> rows;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Shape& shape = params[i].weight.shape();
      const modnorm::RowBlock* mine = nullptr;
      for (const modnorm::RowBlock& b : plan.owners[i])
        if (b.rank == world.rank()) mine = &b;
      if (plan.owners[i].size() > 1) {
        const dist::Group owners = world.split(mine ? 0 : 1);  // every rank, in atom order
        if (mine) rows.emplace_back(Tensor::randn({mine->rows, shape[1]}, data), owners);
      } else if (mine) {
        owned[i] = Tensor::randn(shape, data);
      }
    }
    modnorm::DualizeOptions dualize;
    dualize.orthogonalize = options.orthogonalize;

    // The steps first, then the duality maps alone: timed in the same loop, a rank with more
    // maps to compute would make the others wait at the next step's first collective.
    std::vector<double> compute, step, comm, orthogonalize;
    const auto one_step = [&] {
      const auto start = std::chrono::steady_clock::now();
      net.zero_grad();
      const modnorm::CrossEntropy ce = modnorm::softmax_cross_entropy(net.forward(x), labels);
      net.backward(modnorm::scale(ce.grad, share), false);
      compute.push_back(seconds_since(start));
      const dist::Stats before = world.stats();
      const auto step_start = std::chrono::steady_clock::now();
      opt.step();
      step.push_back(seconds_since(step_start));
      comm.push_back(world.stats().seconds - before.seconds);
    };
    const auto one_dualize = [&] {
      const auto start = std::chrono::steady_clock::now();
      net.dualize(owned, dualize);
      for (const auto& [block, owners] : rows)
        modnorm::orthogonalize_rows({block}, owners, options.orthogonalize);
      orthogonalize.push_back(seconds_since(start));
    };
    for (std::int64_t k = 0; k < r.warmup; ++k) one_step();
    compute.clear(), step.clear(), comm.clear();
    for (std::int64_t k = 0; k < r.repeats; ++k) one_step();
    for (std::int64_t k = 0; k < r.warmup; ++k) one_dualize();
    orthogonalize.clear();
    for (std::int64_t k = 0; k < r.repeats; ++k) one_dualize();

    // Every rank's medians, gathered on every rank (rank 0 prints them).
    const std::vector<double> mine{median(compute), median(step), median(comm),
                                   median(orthogonalize), plan.flops[world.rank()]};
    const std::vector<double> all =
        dist::all_gather(Tensor::from_vector_f64(mine, {1, 5}), world).to_vector_f64();
    json ranks = json::array();
    for (int k = 0; k < world.size(); ++k) {
      const double* v = all.data() + 5 * k;
      ranks.push_back({{"rank", k},
                       {"forward_backward_s", v[0]},
                       {"optimizer_step_s", v[1]},
                       {"communication_s", v[2]},
                       {"orthogonalize_s", v[3]},
                       {"newton_schulz_flops", v[4]},
                       {"step_s", v[0] + v[1]}});
    }
    if (world.rank() == 0)
      std::cout << json{{"model", "MLP 784-" + std::to_string(r.width) + "-" +
                                      std::to_string(r.width) + "-10"},
                        {"width", r.width},
                        {"batch", r.batch},
                        {"ranks", world.size()},
                        {"transport", dist::to_string(world.transport())},
                        {"cpu_gemm", modnorm::cpu_gemm()},
                        {"cpu_gemm_kernels", modnorm::cpu_gemm_kernels()},
                        {"warmup", r.warmup},
                        {"repeats", r.repeats},
                        {"per_rank", ranks}}
                       .dump(2)
                << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_distributed_step: " << e.what() << "\n";
    return 1;
  }
}
