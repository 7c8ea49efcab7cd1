// The optimizer over a process group (optim.hpp, "Data parallelism"), run as one process by
// CTest and as 2 and 3 ranks under mpirun (3: uneven shares of the batch and of the atoms):
// 10 steps with each rank on its share of every global batch give the weights of one process
// on the whole batch, for every algorithm and option family, for the default MLP of
// `modnorm train`, a small GPT and an MLP whose first layer is split by rows between the ranks;
// a checkpoint written by 2 ranks resumes with 1 and with the whole world; and the owner plan
// balances the Newton-Schulz work and the bytes sent.
#include <filesystem>
#include <numeric>

#include "distributed/distributed_support.hpp"
#include "modnorm/modnorm.hpp"

namespace dist = modnorm::distributed;
using namespace modnorm;
using modnorm::test::shared_seed;
using modnorm::test::world;

namespace {

constexpr int kSteps = 10;

// A model and its data: global batch k of the run is input(k) with labels(k), one row (or one
// sequence) per item.
struct Task {
  std::function<Module()> make;
  std::function<Tensor(std::int64_t step, const dist::Share& part)> input;
  std::function<Tensor(std::int64_t step, const dist::Share& part)> labels;  // i32
  std::int64_t batch;  // items per global batch
  bool f64 = false;    // weights in f64 (the builders make f32 atoms)
};

// Rows [begin, begin + count) of a row-major [rows, cols] list.
template <typename T>
std::vector<T> rows_of(const std::vector<T>& all, std::int64_t cols, const dist::Share& part) {
  return std::vector<T>(all.begin() + part.begin * cols,
                        all.begin() + (part.begin + part.count) * cols);
}

// The default MLP of `modnorm train` (784-512-512-10, src/cli/mlp.hpp) on Gaussian inputs,
// or a small one for the sweep over options.
Task mlp_task(std::uint64_t seed, std::int64_t inputs, std::int64_t width, std::int64_t batch,
              bool f64) {
  Task t;
  t.make = [=] {
    return Linear(inputs, width) >> ReLU() >> Linear(width, width) >> ReLU() >> Linear(width, 10);
  };
  t.input = [=](std::int64_t step, const dist::Share& part) {
    Generator gen(seed + 1000 + static_cast<std::uint64_t>(step));
    const std::vector<float> all = Tensor::randn({batch, inputs}, gen).to_vector();
    return Tensor::from_vector(rows_of(all, inputs, part), {part.count, inputs})
        .to(f64 ? DType::f64 : DType::f32);
  };
  t.labels = [=](std::int64_t step, const dist::Share& part) {
    Generator gen(seed + 2000 + static_cast<std::uint64_t>(step));
    std::vector<std::int32_t> all;
    for (std::int64_t k = 0; k < batch; ++k)
      all.push_back(static_cast<std::int32_t>(gen.below(10)));
    return Tensor::from_vector_i32(rows_of(all, 1, part), {part.count});
  };
  t.batch = batch;
  t.f64 = f64;
  return t;
}

// modula's GPT, small: next-token prediction on random sequences.
Task gpt_task(std::uint64_t seed) {
  GPTOptions o;
  o.vocab = 17;
  o.heads = 2;
  o.d_embed = 16;
  o.d_query = 8;
  o.d_value = 8;
  o.blocks = 2;
  constexpr std::int64_t kBatch = 7, kContext = 8;
  Task t;
  t.make = [=] { return GPT(o); };
  const auto tokens = [=](std::int64_t step, std::uint64_t salt) {
    Generator gen(seed + salt + static_cast<std::uint64_t>(step));
    std::vector<std::int32_t> ids;
    for (std::int64_t k = 0; k < kBatch * kContext; ++k)
      ids.push_back(static_cast<std::int32_t>(gen.below(17)));
    return ids;
  };
  t.input = [=](std::int64_t step, const dist::Share& part) {
    return Tensor::from_vector_i32(rows_of(tokens(step, 1000), kContext, part),
                                   {part.count, kContext});
  };
  t.labels = [=](std::int64_t step, const dist::Share& part) {
    return Tensor::from_vector_i32(rows_of(tokens(step, 2000), kContext, part),
                                   {part.count, kContext});
  };
  t.batch = kBatch;
  t.f64 = true;
  return t;
}

// A first layer of [384 x 16] that is most of the Newton-Schulz work: plan_shards splits it by
// rows between both ranks of a world of 2, and between 2 of the 3 of a world of 3.
Task split_task(std::uint64_t seed) {
  Task t = mlp_task(seed, 16, 384, 41, /*f64=*/true);
  t.make = [] { return Linear(16, 384) >> ReLU() >> Linear(384, 10); };
  return t;
}

// Steps [from, to) of the task on `group`: each rank its share of every batch, its gradient
// scaled to its share of the global mean loss.
void train(const Task& t, Module& net, Optimizer& opt, const dist::Group& group, int from, int to) {
  const dist::Share part = dist::share(t.batch, group);
  for (int step = from; step < to; ++step) {
    net.zero_grad();
    const Tensor logits = net.forward(t.input(step, part));
    const std::int64_t classes = logits.dim(-1);
    const CrossEntropy ce = softmax_cross_entropy(
        logits.reshape({logits.numel() / classes, classes}), t.labels(step, part));
    const double share_of_mean = static_cast<double>(part.count) / static_cast<double>(t.batch);
    net.backward(scale(ce.grad, share_of_mean).reshape(logits.shape()), false);
    opt.step();
  }
}

// A fresh model with the run's initial weights.
Module initialized(const Task& t, std::uint64_t seed) {
  Module net = t.make();
  Generator gen(seed);
  net.initialize(gen);
  if (t.f64)
    for (const Parameter& p : net.parameters()) {
      p.atom->weight() = p.weight.to(DType::f64);
      p.atom->grad() = Tensor::zeros(p.weight.shape(), DType::f64);
    }
  return net;
}

std::vector<std::vector<double>> weights(const Module& net) {
  std::vector<std::vector<double>> out;
  for (const Parameter& p : net.parameters()) out.push_back(p.weight.to_vector_f64());
  return out;
}

// Every parameter within `tol` relative (2-norm) of the reference.
void check_same_weights(const Module& net, const std::vector<std::vector<double>>& expected,
                        double tol) {
  const auto got = weights(net);
  BOOST_REQUIRE_EQUAL(got.size(), expected.size());
  const std::vector<Parameter> params = net.parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = modnorm::test::rel_error(got[i], expected[i]);
    BOOST_TEST(err <= tol, "parameter '" << params[i].name << "': relative error " << err);
  }
}

// Rounding differs with the order of the sums over ranks. Where a gradient is rank-deficient (a
// batch narrower than the layer, as the default MLP's 32 rows for 512-wide layers; the GPT's
// attention gradients, sums of larger terms that nearly cancel), orthogonalizing it turns the
// rounding in its null space into percent-level differences on some seeds (measured in f32: up
// to 2e-2), which would make the test flaky without testing anything more; those runs are in
// f64 with f64 Newton-Schulz iterates (measured: 2e-15). The option sweep runs in f32 with
// full-rank gradients (a batch wider than every layer; measured: at most 4e-6).
double tolerance(const Task& t) {
  return t.f64 ? 1e-10 : 1e-4;
}

void check_equivalence(const Task& t, const OptimizerOptions& options, std::uint64_t seed) {
  Module reference = initialized(t, seed);
  Optimizer single(reference, options);
  train(t, reference, single, dist::Group(), 0, kSteps);

  Module net = initialized(t, seed);
  Optimizer sharded(net, options, world());
  train(t, net, sharded, world(), 0, kSteps);
  check_same_weights(net, weights(reference), tolerance(t));
  BOOST_TEST(sharded.steps() == kSteps);
}

std::vector<std::pair<std::string, OptimizerOptions>> variants() {
  std::vector<std::pair<std::string, OptimizerOptions>> out;
  OptimizerOptions o;
  out.emplace_back("modular", o);
  o.nesterov = true;
  o.normuon.enabled = true;
  o.correction.mode = CorrectionMode::per_layer;
  o.weight_decay.mode = WeightDecay::cautious;
  out.emplace_back("modular nesterov normuon per_layer cautious", o);
  o = OptimizerOptions{};
  o.correction.mode = CorrectionMode::global;
  o.orthogonalize.method = OrthogonalizeMethod::polar_express;
  o.weight_decay.mode = WeightDecay::decoupled;
  o.schedule.kind = Schedule::cosine;
  o.schedule.warmup_steps = 3;
  o.schedule.total_steps = kSteps;
  o.overrides.push_back({"0.weight", 0.5});
  out.emplace_back("modular global polar_express decoupled cosine override", o);
  o = OptimizerOptions{};
  o.convention = Convention::optax;
  o.nesterov = true;
  o.correction.mode = CorrectionMode::per_layer;
  out.emplace_back("modular optax", o);
  o = OptimizerOptions{};
  o.algorithm = Algorithm::sgd;
  o.lr = 0.5;
  o.nesterov = true;
  out.emplace_back("sgd", o);
  o = OptimizerOptions{};
  o.algorithm = Algorithm::adamw;
  o.lr = 1e-3;
  o.weight_decay.mode = WeightDecay::decoupled;
  out.emplace_back("adamw", o);
  o.algorithm = Algorithm::adaptive_adam;
  out.emplace_back("adaptive_adam", o);
  return out;
}

// Ranks 0 and 1 train the first half of the run and write a checkpoint, which one process and
// the whole world resume: both end with the weights of one process trained all along.
void check_resume(const Task& t, std::uint64_t seed, const OptimizerOptions& o) {
  Module reference = initialized(t, seed);
  Optimizer single(reference, o);
  train(t, reference, single, dist::Group(), 0, kSteps);

  // Ranks 0 and 1 train half the steps; rank 0 writes the checkpoint as `modnorm train` does.
  const int me = world().rank();
  const dist::Group writers = world().split(me < 2 ? 0 : 1);
  const auto pid =
      dist::broadcast(Tensor::full({1}, static_cast<double>(::getpid()), DType::f64), 0, world());
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("modnorm_sharded_" + std::to_string(static_cast<long>(pid.item())) + ".safetensors"))
          .string();
  if (me < 2) {
    Module net = initialized(t, seed);
    Optimizer opt(net, o, writers);
    train(t, net, opt, writers, 0, kSteps / 2);
    std::vector<std::pair<std::string, Tensor>> entries;
    for (const Parameter& p : net.parameters()) entries.emplace_back(p.name, p.weight);
    for (const auto& [name, tensor] : opt.state()) entries.emplace_back("optim." + name, tensor);
    if (me == 0) save_safetensors(path, entries);
  }
  dist::all_sum(Tensor::zeros({1}), world());  // the file is written

  // Resume with one process and with the whole world.
  const SafetensorsFile file = load_safetensors(path);
  for (const dist::Group& group : {dist::Group(), world()}) {
    BOOST_TEST_INFO("resumed with " << group.size() << " ranks");
    Module net = initialized(t, seed + 1);  // other weights: the checkpoint's must win
    Optimizer opt(net, o, group);
    std::vector<std::pair<std::string, Tensor>> state;
    for (const Parameter& p : net.parameters()) {
      Tensor w = p.weight;
      axpy(1.0, file.at(p.name), w, 0.0);
    }
    for (const auto& [name, tensor] : file.tensors)
      if (name.rfind("optim.", 0) == 0) state.emplace_back(name.substr(6), tensor);
    opt.load_state(state);
    BOOST_TEST(opt.steps() == kSteps / 2);
    train(t, net, opt, group, kSteps / 2, kSteps);
    check_same_weights(net, weights(reference), tolerance(t));
  }
  dist::all_sum(Tensor::zeros({1}), world());  // everyone has read it
  if (me == 0) std::filesystem::remove(path);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sharded_step)

BOOST_AUTO_TEST_CASE(default_mlp_trains_as_one_process_on_the_whole_batch) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks");
  OptimizerOptions o;
  o.nesterov = true;  // `modnorm train`'s default
  o.orthogonalize.compute_dtype = DType::f64;
  check_equivalence(mlp_task(seed, 784, 512, 32, /*f64=*/true), o, seed);
}

BOOST_AUTO_TEST_CASE(every_algorithm_and_option_is_shardable) {
  const std::uint64_t seed = shared_seed();
  for (const auto& [name, options] : variants()) {
    BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, " << name);
    check_equivalence(mlp_task(seed, 24, 16, 41, /*f64=*/false), options, seed);
  }
}

BOOST_AUTO_TEST_CASE(gpt_trains_as_one_process_on_the_whole_batch) {
  const std::uint64_t seed = shared_seed();
  BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks");
  OptimizerOptions o;
  o.normuon.enabled = true;
  o.orthogonalize.compute_dtype = DType::f64;
  check_equivalence(gpt_task(seed), o, seed);
}

BOOST_AUTO_TEST_CASE(a_matrix_split_by_rows_trains_as_one_process) {
  const std::uint64_t seed = shared_seed();
  const Task t = split_task(seed);
  std::vector<modnorm::PlanItem> items;
  for (const Parameter& p : t.make().parameters()) items.push_back({p.weight.shape(), p.norm});
  const std::size_t owners = modnorm::plan_shards(items, world().size(), {}).owners[0].size();
  BOOST_TEST((world().size() == 1 ? owners == 1 : owners >= 2));
  for (auto [name, options] : variants()) {
    BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, " << name);
    options.orthogonalize.compute_dtype = DType::f64;
    check_equivalence(t, options, seed);
  }
}

BOOST_AUTO_TEST_CASE(parameter_groups_train_as_one_process_on_the_whole_batch) {
  // Each group has its own step plan: the hybrid on the GPT (Muon with NorMuon on the hidden
  // matrices, AdamW on the rest), and a split first layer alone in its modular group.
  const std::uint64_t seed = shared_seed();
  OptimizerOptions hybrid;
  ParameterGroup muon{"muon", {}, {Role::hidden}, {}};
  muon.rule.lr_rule = LrRule::muon;
  muon.rule.lr = 0.02;
  muon.rule.nesterov = true;
  muon.rule.normuon.enabled = true;
  muon.rule.orthogonalize.compute_dtype = DType::f64;
  ParameterGroup adam{"adam", {}, {}, {}};  // the rest
  adam.rule.algorithm = Algorithm::adamw;
  adam.rule.lr = 3e-3;
  adam.rule.weight_decay.mode = WeightDecay::decoupled;
  hybrid.groups = {muon, adam};
  hybrid.schedule.kind = Schedule::warmup_stable_decay;
  hybrid.schedule.total_steps = kSteps;
  hybrid.momentum_warmup = {kSteps / 2, 0.85};
  BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, GPT hybrid");
  check_equivalence(gpt_task(seed), hybrid, seed);

  OptimizerOptions split;
  ParameterGroup first{"first", {"0"}, {}, {}};
  first.rule.nesterov = true;
  first.rule.correction.mode = CorrectionMode::global;
  first.rule.orthogonalize.compute_dtype = DType::f64;
  ParameterGroup rest{"rest", {}, {}, {}};
  rest.rule.algorithm = Algorithm::sgd;
  rest.rule.lr = 0.5;
  split.groups = {first, rest};
  BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, split layer in a group");
  check_equivalence(split_task(seed), split, seed);
}

BOOST_AUTO_TEST_CASE(checkpoint_of_two_ranks_resumes_with_any_world) {
  const std::uint64_t seed = shared_seed();
  const std::vector<std::pair<std::string, Task>> tasks = {{"gpt", gpt_task(seed)},
                                                           {"split", split_task(seed)}};
  OptimizerOptions o;
  o.nesterov = true;
  o.normuon.enabled = true;
  o.orthogonalize.compute_dtype = DType::f64;
  // Each group's state too: the first layer (split in the split task) alone in a modular group
  // with NorMuon, AdamW on the rest.
  OptimizerOptions grouped;
  ParameterGroup first{"first", {}, {Role::hidden, Role::embedding}, {}};
  first.rule = o;
  ParameterGroup rest{"rest", {}, {}, {}};
  rest.rule.algorithm = Algorithm::adamw;
  rest.rule.lr = 1e-3;
  grouped.groups = {first, rest};
  for (const auto& [name, t] : tasks)
    for (const OptimizerOptions& options : {o, grouped}) {
      BOOST_TEST_INFO("seed " << seed << ", " << world().size() << " ranks, " << name << ", "
                              << options.groups.size() << " groups");
      check_resume(t, seed, options);
    }
}

BOOST_AUTO_TEST_CASE(a_rank_with_bad_gradients_stops_every_rank,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  Module net = Linear(3, 2);
  Generator gen(1);
  net.initialize(gen);
  Optimizer opt(net, {}, world());
  net.zero_grad();
  Tensor g = net.parameters()[0].grad;
  if (world().rank() == 1) fill(g, std::nan(""));
  const std::vector<double> before = net.parameters()[0].weight.to_vector_f64();
  try {
    opt.step();
    BOOST_FAIL("the step went through");
  } catch (const Error& e) {
    const std::string expected = world().rank() == 1
                                     ? "contains NaN"
                                     : "rank 1 of " + std::to_string(world().size()) + " refused";
    BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
  }
  BOOST_TEST(net.parameters()[0].weight.to_vector_f64() == before);
  BOOST_TEST(opt.steps() == 0);
}

// One rank's NaN in its gradient of a matrix split by rows between the ranks reaches the owners'
// shared Newton-Schulz iteration (where no owner may throw alone: the others would wait in its
// collectives) and then the step's one check: every rank throws, nothing changes on any rank,
// and the next step is the one of a run that never saw the bad one. Likewise an update that
// overflows (lr 1e300): every rank throws the same message.
BOOST_AUTO_TEST_CASE(a_failed_step_changes_nothing_on_any_rank,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  const std::uint64_t seed = shared_seed();
  const auto grads = [&](const Module& net, std::uint64_t salt) {
    Generator gen(seed + salt + 100 * static_cast<std::uint64_t>(world().rank()));
    for (const Parameter& p : net.parameters()) {
      Tensor g = p.grad;
      axpy(1.0, Tensor::randn(g.shape(), gen), g, 0.0);
    }
  };
  const auto weights = [](const Module& net) {
    std::vector<std::vector<double>> out;
    for (const Parameter& p : net.parameters()) out.push_back(p.weight.to_vector_f64());
    return out;
  };
  const auto state = [](const Optimizer& opt) {
    std::vector<std::vector<double>> out;
    for (const auto& entry : opt.state()) out.push_back(entry.second.to_vector_f64());
    return out;
  };
  for (const Algorithm algorithm : {Algorithm::modular, Algorithm::sgd, Algorithm::adamw}) {
    BOOST_TEST_INFO_SCOPE("seed " << seed << ", " << world().size() << " ranks, "
                                  << to_string(algorithm));
    OptimizerOptions o;
    o.algorithm = algorithm;
    o.normuon.enabled = algorithm == Algorithm::modular;
    Module net = split_task(seed).make();
    Generator init(seed);
    net.initialize(init);
    Module fresh = net.clone();
    Optimizer opt(net, o, world()), never(fresh, o, world());
    grads(net, 1);
    opt.step();
    grads(net, 2);
    const auto before = weights(net);
    const auto state_before = state(opt);
    Tensor g = net.parameters()[0].grad;  // [384 x 16], split by rows
    if (world().rank() == 1) fill(g, std::nan(""));
    try {
      opt.step();
      BOOST_FAIL("the step went through");
    } catch (const Error& e) {
      const std::string expected = world().rank() == 1
                                       ? "gradient [384x16] f32 cpu contains NaN at [0, 0]"
                                       : "rank 1 of " + std::to_string(world().size()) + " refused";
      BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
    }
    BOOST_TEST((weights(net) == before));
    BOOST_TEST((state(opt) == state_before));
    BOOST_TEST(opt.steps() == 1);
    grads(net, 2);
    opt.step();
    grads(fresh, 1);
    never.step();
    grads(fresh, 2);
    never.step();
    BOOST_TEST((weights(net) == weights(fresh)));
    BOOST_TEST((state(opt) == state(never)));

    OptimizerOptions huge = o;
    huge.lr = 1e300;
    Optimizer overflowing(net, huge, world());
    const auto now = weights(net);
    try {
      overflowing.step();
      BOOST_FAIL("the step went through");
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find("at learning rate 1e+300") != std::string::npos,
                 e.what());
    }
    BOOST_TEST((weights(net) == now));
  }
}

BOOST_AUTO_TEST_CASE(parameters_of_mixed_dtypes_cannot_be_sharded,
                     *boost::unit_test::precondition(modnorm::test::several_ranks)) {
  AtomOptions bf16;
  bf16.dtype = DType::bf16;
  BOOST_CHECK_EXCEPTION(
      Optimizer(Linear(3, 2) >> Linear(2, 2, bf16), {}, world()), Error, [](const Error& e) {
        return std::string(e.what()).find("one dtype and on one device") != std::string::npos;
      });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shard_plan)

namespace {

// A GPT-2-small-shaped list (12 blocks of d 768, vocab 50257) and a frozen vector.
std::vector<modnorm::PlanItem> gpt2_small() {
  std::vector<modnorm::PlanItem> items{{{768, 50257}, Norm::column}};
  for (int b = 0; b < 12; ++b) {
    for (int k = 0; k < 4; ++k) items.push_back({{768, 768}, Norm::spectral});
    items.push_back({{3072, 768}, Norm::spectral});
    items.push_back({{768, 3072}, Norm::spectral});
  }
  items.push_back({{50257, 768}, Norm::spectral});
  items.push_back({{10}, Norm::euclidean, /*frozen=*/true});
  return items;
}

// Quintic, 5 steps, for r rows of a rows x cols item: 5 (4 m^2 n + 2 m^3) whole, m = min, n =
// max; a block of r rows of a split (tall) one: 5 (4 r cols^2 + 2 cols^3).
double cost(const modnorm::PlanItem& item, std::int64_t r, bool split) {
  if (item.norm != Norm::spectral) return 0.0;
  const Shape& s = item.shape;
  const double m = static_cast<double>(std::min(s[0], s[1]));
  const double n = static_cast<double>(std::max(s[0], s[1]));
  const double c = static_cast<double>(s[1]);
  return split ? 5 * (4 * static_cast<double>(r) * c * c + 2 * c * c * c)
               : 5 * (4 * m * m * n + 2 * m * m * m);
}

}  // namespace

// Every item's blocks cover its rows once, in rank order on distinct ranks; the per-rank flops
// and elements are those of the blocks; the plan is the same on every call; at W = 8 (the
// target) no rank does more than 1.25x the mean work and the bytes sent (ring model, with the
// split matrix's Gram sums) stay within 1.05x of the all-reduce bound.
BOOST_AUTO_TEST_CASE(owners_balance_newton_schulz_work) {
  const std::vector<modnorm::PlanItem> items = gpt2_small();
  std::int64_t parameters = 0;
  for (std::size_t i = 0; i + 1 < items.size(); ++i)
    parameters += items[i].shape[0] * items[i].shape[1];
  for (const int w : {1, 2, 3, 8, 64, 512}) {
    BOOST_TEST_INFO(w << " ranks");
    const modnorm::ShardPlan plan = modnorm::plan_shards(items, w, {});
    const modnorm::ShardPlan again = modnorm::plan_shards(items, w, {});
    BOOST_TEST(plan.flops == again.flops, boost::test_tools::per_element());
    BOOST_TEST(plan.owners.back().empty());
    std::vector<double> flops(static_cast<std::size_t>(w), 0.0), gram(flops);
    std::vector<std::int64_t> elements(static_cast<std::size_t>(w), 0);
    for (std::size_t i = 0; i + 1 < items.size(); ++i) {
      const std::vector<modnorm::RowBlock>& blocks = plan.owners[i];
      BOOST_REQUIRE(!blocks.empty());
      const bool split = blocks.size() > 1;
      std::int64_t next_row = 0;
      int last_rank = -1;
      for (const modnorm::RowBlock& b : blocks) {
        BOOST_TEST(b.rank == again.owners[i][&b - blocks.data()].rank);
        BOOST_TEST((b.rank > last_rank && b.rank < w));
        BOOST_TEST(b.begin == next_row);
        BOOST_TEST(b.rows > 0);
        last_rank = b.rank;
        next_row += b.rows;
        flops[static_cast<std::size_t>(b.rank)] += cost(items[i], b.rows, split);
        elements[static_cast<std::size_t>(b.rank)] += b.rows * items[i].shape[1];
        const auto k = static_cast<double>(blocks.size()), n = double(items[i].shape[1]);
        if (split) gram[static_cast<std::size_t>(b.rank)] += 4.0 * 5 * n * n * 2 * (k - 1) / k;
      }
      BOOST_TEST(next_row == items[i].shape[0]);
      if (split) BOOST_TEST((items[i].shape[0] >= items[i].shape[1] && w > 1));
    }
    for (int r = 0; r < w; ++r)
      BOOST_TEST(plan.flops[r] == flops[r], boost::test_tools::tolerance(1e-9));
    BOOST_TEST(plan.elements == elements, boost::test_tools::per_element());
    if (w == 8) {
      const double mean = std::accumulate(flops.begin(), flops.end(), 0.0) / w;
      BOOST_TEST(*std::max_element(flops.begin(), flops.end()) <= 1.25 * mean);
      const double bound = 4.0 * 2.0 * static_cast<double>(parameters) * (w - 1) / w;
      for (int r = 0; r < w; ++r) {
        const auto mine = static_cast<double>(elements[r]);
        const auto next = static_cast<double>(elements[(r + 1) % w]);
        const double sent = 4.0 * (2.0 * static_cast<double>(parameters) - mine - next) + gram[r];
        BOOST_TEST(sent <= 1.05 * bound, "rank " << r << ": " << sent / bound << "x the bound");
      }
    }
  }
  BOOST_CHECK_THROW(modnorm::plan_shards(items, 0, {}), Error);
}

// Small matrices, wide ones, svd and bf16 iterates are never split; one process splits nothing.
BOOST_AUTO_TEST_CASE(only_large_tall_matrices_are_split) {
  const std::vector<modnorm::PlanItem> small{{{100, 16}, Norm::spectral}, {{8, 8}, Norm::spectral}};
  const std::vector<modnorm::PlanItem> wide{{{16, 4096}, Norm::spectral}, {{8, 8}, Norm::spectral}};
  const std::vector<modnorm::PlanItem> tall{{{4096, 16}, Norm::spectral}, {{8, 8}, Norm::spectral}};
  OrthogonalizeOptions svd, bf16;
  svd.method = OrthogonalizeMethod::svd;
  bf16.compute_dtype = DType::bf16;
  for (const int w : {2, 3, 8}) {
    BOOST_TEST_INFO(w << " ranks");
    BOOST_TEST(modnorm::plan_shards(small, w, {}).owners[0].size() == 1U);  // under 128 rows
    BOOST_TEST(modnorm::plan_shards(wide, w, {}).owners[0].size() == 1U);
    BOOST_TEST(modnorm::plan_shards(tall, w, svd).owners[0].size() == 1U);
    BOOST_TEST(modnorm::plan_shards(tall, w, bf16).owners[0].size() == 1U);
    BOOST_TEST(modnorm::plan_shards(tall, w, {}).owners[0].size() == static_cast<std::size_t>(w));
  }
  BOOST_TEST(modnorm::plan_shards(tall, 1, {}).owners[0].size() == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
