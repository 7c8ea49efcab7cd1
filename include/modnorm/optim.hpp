#pragma once
/// @file optim.hpp
/// The optimizer (docs/theory.md, "The optimizer"): modular steepest descent over a module tree
/// (each atom's momentum dualized in the atom's own norm and divided by its coefficient c_l in the
/// tree's modular norm; Large et al. 2024, "Scalable Optimization in the Modular Norm"), with
/// the options the Muon family added (Nesterov, NorMuon, dual norm correction, decoupled and
/// cautious weight decay), learning-rate schedules, and SGD / AdamW / "adaptive Adam" baselines
/// behind the same interface.
///
/// Conventions: W_l is atom l's weight, g_l its gradient (Parameter::grad), Delta W_l the
/// change one step adds to W_l (W_l <- W_l + Delta W_l), lr the scheduled learning rate times
/// the atom's lr multiplier, and <A, B> the Frobenius inner product.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/distributed.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/export.hpp"
#include "modnorm/module.hpp"
#include "modnorm/report.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// Which update rule Optimizer::step applies to every atom (m is the momentum of
/// OptimizerOptions::beta, u the momentum or its Nesterov form):
///
/// - `modular`: Delta W_l = -lr * k * dualize(u_l, norm_l) / c_l, the tree's duality map
///   (Module::dualize; docs/modules.md), k the dual norm correction (1 when off); NorMuon and
///   the correction are options of this algorithm.
/// - `sgd`: Delta W_l = -lr * u_l. The momentum is the EMA m = beta m + (1 - beta) g, so this
///   equals PyTorch's SGD(momentum=beta, dampening=0) run with lr * (1 - beta).
/// - `adamw`: Delta W_l = -lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta^t),
///   v_hat = v / (1 - beta2^t), v = beta2 v + (1 - beta2) g*g, t the 1-based step (Loshchilov
///   & Hutter 2019, Algorithm 2; beta plays Adam's beta1).
/// - `adaptive_adam`: the seed's "adaptive Adam": AdamW's u = m_hat / (sqrt(v_hat) + eps)
///   scaled per atom by clamp(<m_hat, u>, -1, 1), so that the step shrinks with the gradient.
///
/// Atoms of zero mass (c_l = inf) are frozen under every algorithm: no update, no decay.
///
/// Example: options.algorithm = modnorm::Algorithm::adamw;
enum class Algorithm : std::uint8_t { modular, sgd, adamw, adaptive_adam };

/// "modular", "sgd", "adamw", "adaptive_adam".
MODNORM_API const char* to_string(Algorithm algorithm);

/// Learning-rate schedule shapes (see scheduled_lr for the exact formulas).
enum class Schedule : std::uint8_t {
  constant,       ///< lr at every step
  linear_warmup,  ///< a linear ramp over warmup_steps, then lr
  cosine,         ///< optional ramp, then a half cosine from lr down to final_fraction * lr
  linear_decay,   ///< optional ramp, then a straight line from lr down to final_fraction * lr
  /// optional ramp, then lr, then a cooldown over the last cooldown_fraction of total_steps
  /// down to final_fraction * lr (modded-nanogpt's schedule)
  warmup_stable_decay,
};

/// The shape of warmup_stable_decay's cooldown (p in [0, 1] its progress).
enum class Cooldown : std::uint8_t {
  linear,          ///< w = 1 - p (modded-nanogpt)
  one_minus_sqrt,  ///< w = 1 - sqrt(p) (Hägele et al. 2024, "Scaling Laws and Compute-Optimal
                   ///< Training Beyond Fixed Training Durations")
};

/// "linear", "one_minus_sqrt".
MODNORM_API const char* to_string(Cooldown cooldown);

/// "constant", "linear_warmup", "cosine", "linear_decay", "warmup_stable_decay".
MODNORM_API const char* to_string(Schedule schedule);

/// A learning-rate schedule: a multiplier of OptimizerOptions::lr that depends on the step
/// index t = 0, 1, 2, ... (the number of steps taken before the step it applies to).
///
/// Example:
///   modnorm::ScheduleOptions s;
///   s.kind = modnorm::Schedule::cosine;
///   s.warmup_steps = 100;     // ramp over steps 0..99
///   s.total_steps = 10000;    // reaches final_fraction * lr at step 10000, stays there
struct ScheduleOptions {
  /// The shape; constant by default.
  Schedule kind = Schedule::constant;
  /// Length W of the linear ramp lr * (t + 1) / W over steps t < W (so step W - 1 already
  /// uses the full lr). Must be >= 1 for linear_warmup, >= 0 for cosine and linear_decay, and
  /// 0 for constant (use linear_warmup for a ramp without decay).
  std::int64_t warmup_steps = 0;
  /// cosine, linear_decay and warmup_stable_decay: the step T at which the decay ends (counted
  /// from step 0, the ramp included); must exceed warmup_steps. Ignored by constant and
  /// linear_warmup.
  std::int64_t total_steps = 0;
  /// cosine, linear_decay and warmup_stable_decay: the multiplier reached at step T and kept
  /// after it, in [0, 1]. Ignored by constant and linear_warmup.
  double final_fraction = 0.0;
  /// warmup_stable_decay: the cooldown covers steps from (1 - cooldown_fraction) T to T, in
  /// (0, 1], and must start after the ramp ((1 - cooldown_fraction) T >= warmup_steps).
  /// Ignored by the other kinds.
  double cooldown_fraction = 0.5;
  /// warmup_stable_decay: the cooldown's shape. Ignored by the other kinds.
  Cooldown cooldown = Cooldown::linear;
};

/// The learning rate of step t (0-based) under `schedule`: lr * f(t) with, for W =
/// warmup_steps, T = total_steps, f_end = final_fraction and p = min(1, (t - W) / (T - W)):
///
/// - t < W (a ramp):        f = (t + 1) / W
/// - constant, linear_warmup: f = 1
/// - cosine:                f = f_end + (1 - f_end) * (1 + cos(pi p)) / 2
/// - linear_decay:          f = f_end + (1 - f_end) * (1 - p)
/// - warmup_stable_decay:   with S = (1 - cooldown_fraction) T and q = min(1, (t - S) / (T - S)),
///                          f = 1 for t < S, else f_end + (1 - f_end) * w(q), w(q) = 1 - q
///                          (linear) or 1 - sqrt(q) (one_minus_sqrt)
///
/// Throws modnorm::Error if lr is not a finite number > 0, t < 0, or the schedule is invalid
/// (see ScheduleOptions).
///
/// Example: modnorm::scheduled_lr(0.1, s, 0) == 0.1 / s.warmup_steps
MODNORM_API double scheduled_lr(double lr, const ScheduleOptions& schedule, std::int64_t step);

/// Momentum warmup (modded-nanogpt: Muon's beta ramps linearly from 0.85 to 0.95 over the first
/// 300 steps): a group's beta at step t is start + (beta - start) * min(1, t / steps). It applies
/// to the `modular` and `sgd` groups (the Adam algorithms keep their beta1, as modded-nanogpt's
/// AdamW does).
///
/// Example:
///   options.momentum_warmup.steps = 300;
///   options.momentum_warmup.start = 0.85;   // with beta 0.95
struct MomentumWarmup {
  std::int64_t steps = 0;  ///< length of the ramp, >= 0; 0: off
  double start = 0.85;     ///< beta at step 0, in [0, 1)
};

/// The momentum of step t (0-based) under `warmup`: beta itself when warmup.steps is 0, else
/// start + (beta - start) * min(1, t / warmup.steps). Throws modnorm::Error if beta or start is
/// outside [0, 1), warmup.steps < 0 or t < 0.
///
/// Example: modnorm::scheduled_beta(0.95, {300, 0.85}, 150) == 0.9
MODNORM_API double scheduled_beta(double beta, const MomentumWarmup& warmup, std::int64_t step);

/// Dual norm correction of the modular step (docs/theory.md, "Dual norm correction").
enum class CorrectionMode : std::uint8_t {
  /// No correction: every atom's dualized update has norm 1 in its own norm (before 1/c_l).
  off,
  /// Atom l's dualized update is multiplied by clamp(<u_l, dualize(u_l)>, lo, hi): its own
  /// dual norm, so each layer's step shrinks with its own momentum.
  per_layer,
  /// Every atom's update is multiplied by the one factor clamp(sum_l <u_l, dualize(u_l)> / c_l,
  /// lo, hi): the modular dual norm of the momenta (docs/modules.md), i.e. steepest descent in
  /// the modular norm with step size proportional to the clamped dual norm.
  global,
};

/// "off", "per_layer", "global".
MODNORM_API const char* to_string(CorrectionMode mode);

/// The dual norm correction of the `modular` algorithm. The pairing <u_l, dualize(u_l)> is
/// taken with the plain duality map in use (before NorMuon; dual_pairing()). Being >= 0, both
/// ranges give the same factor; the range is kept for parity with DualNormCorrection.
/// `pairing = CorrectionPairing::orthogonalized` pairs a spectral atom's u_l with the unscaled
/// O instead (<u_l, dualize(u_l)> / sqrt(d_out/d_in)), as the published dual-norm-corrected
/// Muon code does; the direction keeps its sqrt(d_out/d_in).
///
/// Example: options.correction.mode = modnorm::CorrectionMode::global;
struct CorrectionOptions {
  CorrectionMode mode = CorrectionMode::off;                ///< off by default
  CorrectionRange range = CorrectionRange::symmetric;       ///< [lo, hi] = [-1, 1] unless set
  CorrectionPairing pairing = CorrectionPairing::dualized;  ///< <u, dualize(u)> unless set
};

/// NorMuon's neuron-wise normalisation of the dualized update O (a d_out x d_in matrix; one
/// row per output neuron), for the `modular` algorithm. This is Algorithm 1 of Li, Liu, Liang,
/// Chen, Zhao 2025, "NorMuon: Making Muon more efficient and scalable" (arXiv:2510.05491):
///
///   v <- beta2 * v + (1 - beta2) * mean_over_columns(O * O)     (one entry per row, no bias
///                                                                correction, as published)
///   O' = O / (sqrt(v) + eps)                                     (row-wise)
///
/// followed by the rescaling of the authors' released code (normuon.py, `normuon_update`),
/// O'' = O' * ||O||_F / ||O'||_F, instead of the paper's Adam-matching step size
/// 0.2 * sqrt(d_out d_in) / ||O'||_F: keeping ||O''||_F = ||O||_F keeps the scale that the
/// duality map gave the update, so the 1/c_l modular shares and the learning rate keep their
/// meaning (the paper's variant would retune lr to AdamW's RMS). Applied to every rank-2
/// atom, whatever its norm; vectors (Bias) are left as dualized.
///
/// Example: options.normuon.enabled = true;
struct NorMuonOptions {
  bool enabled = false;  ///< off by default
  double beta2 = 0.95;   ///< decay of the row second moment, in [0, 1) (NorMuon's default)
  double eps = 1e-10;    ///< added to sqrt(v) before dividing, > 0 (normuon.py's value)
};

/// Whose conventions the `modular` algorithm follows where Muon implementations differ
/// (docs/theory.md, "Conventions of other implementations"). Everything else (EMA momentum,
/// Nesterov, the orthogonalize options, NorMuon, weight decay, 1 / c_l, schedules) is shared.
///
/// Example: options.convention = modnorm::Convention::optax;
enum class Convention : std::uint8_t {
  /// This library's (docs/modules.md, docs/theory.md): u is the raw momentum m or (1 - beta) g +
  /// beta m; a
  /// spectral atom's direction is dualize(u) = sqrt(d_out/d_in) O with O = orthogonalize(u);
  /// the correction is clamp(<u, dualize(u)>, lo, 1).
  modular,
  /// optax.contrib.muon's (optax 0.2.x, contrib/_muon.py `scale_by_muon` + `scale_by_shape`),
  /// so that a run reproduces it step for step. Three things change (t = steps() + 1):
  ///
  /// - u is bias-corrected like Adam's first moment: m / (1 - beta^t), or with Nesterov
  ///   beta m / (1 - beta^(t+1)) + (1 - beta) g / (1 - beta^t). (It changes the direction
  ///   only with Nesterov: O is invariant under scaling u; it changes the correction's size.)
  /// - a spectral atom's direction is sqrt(max(1, d_out/d_in)) O (Jordan's width scaling)
  ///   instead of sqrt(d_out/d_in) O: the same for d_out >= d_in, larger when d_out < d_in.
  /// - `CorrectionMode::per_layer` multiplies by <u, O> for spectral atoms (<u, dualize(u)>
  ///   for the other norms), unclamped: optax's `adaptive=True`. `range` is ignored, and
  ///   `global` is rejected (optax has no counterpart).
  ///
  /// For an exact match also set orthogonalize.epsilon = 1e-8 (optax's `eps`). optax's
  /// weight W is this library's W^T (optax's `x W = y`: the first axis is d_in), and optax
  /// applies one lr to every matrix where the modular step divides atom l's by c_l (1 for a
  /// single atom). optax sends non-matrix parameters to AdamW; here they keep their norm.
  optax,
};

/// "modular", "optax".
MODNORM_API const char* to_string(Convention convention);

/// Weight decay modes.
enum class WeightDecay : std::uint8_t {
  off,        ///< no decay
  decoupled,  ///< Delta W += -lr * coefficient * W (Loshchilov & Hutter 2019)
  cautious,   ///< decoupled, but only where the step already moves W towards zero (below)
};

/// "off", "decoupled", "cautious".
MODNORM_API const char* to_string(WeightDecay mode);

/// Weight decay, applied after the step is formed (docs/theory.md), under every algorithm, with
/// the atom's lr (scheduled lr times its lr multiplier; not divided by c_l).
///
/// `cautious` (Chen et al. 2025, "Cautious Weight Decay", arXiv:2510.12402; the
/// modded-nanogpt record code's `mask = (update * W) >= 0`) decays entry ij only where
/// mask_ij = (update_ij * W_ij >= 0), and "update" is the quantity the optimizer SUBTRACTS:
/// update = -Delta W (before decay), the convention W <- W - lr * update of PyTorch, optax and
/// the paper (x_{t+1} = x_t - eta (u_t + lambda 1[u_t * x_t >= 0] x_t)). So the mask is
/// Delta W_ij * W_ij <= 0: the entries the step moves towards zero (or leaves alone), where
/// decay agrees with it; where the step grows |W_ij| the decay would fight it and is skipped.
/// (With update = +Delta W the mask would select exactly the entries where decay fights the
/// optimizer, the opposite of the method's intent.)
///
/// Example:
///   options.weight_decay.mode = modnorm::WeightDecay::cautious;
///   options.weight_decay.coefficient = 0.1;
struct WeightDecayOptions {
  WeightDecay mode = WeightDecay::off;  ///< off by default
  double coefficient = 0.01;            ///< lambda, finite and >= 0 (PyTorch AdamW's default)
};

/// The second-moment settings of `adamw` and `adaptive_adam` (beta1 is OptimizerOptions::beta).
struct AdamOptions {
  double beta2 = 0.999;  ///< decay of the second moment, in [0, 1)
  double eps = 1e-8;     ///< added to sqrt(v_hat), > 0
};

/// A per-atom learning-rate multiplier, selected by the parameter's exact dotted name
/// (Parameter::name, e.g. "2.weight"). Every override must name a parameter of the tree, once.
/// (An atom's norm is chosen where the atom is built, AtomOptions::norm, so that the tree's
/// modular norm, its duality map, the report and the optimizer all see the same one.)
///
/// Example: options.overrides.push_back({"0.weight", 0.5});
struct ParameterOverride {
  std::string name;            ///< the dotted parameter name
  double lr_multiplier = 1.0;  ///< the atom's lr is the scheduled lr times this (finite, >= 0)
};

/// How a matrix group's update is sized (`modular` algorithm; docs/theory.md, "Learning-rate
/// rules"). O = orthogonalize(u) for a d_out x d_in atom of norm `spectral`:
///
/// - `modular`: Delta W = -lr * dualize(u) / c_l = -lr * sqrt(d_out/d_in) * O / c_l, the step of
///   size lr / c_l in the atom's own norm (Large et al. 2024); every norm.
/// - `muon`: Delta W = -lr * sqrt(max(1, d_out/d_in)) * O (Jordan's Muon and modded-nanogpt's
///   shape factor); no 1 / c_l. Spectral atoms only.
/// - `rms_match`: Delta W = -lr * 0.2 * sqrt(max(d_out, d_in)) * O (Liu et al. 2025, "Muon is
///   Scalable for LLM Training"), so that the update's RMS is about 0.2 * lr, AdamW's, and
///   AdamW's lr and weight decay carry over; no 1 / c_l. Spectral atoms only.
///
/// Example: group.rule.lr_rule = modnorm::LrRule::muon;
enum class LrRule : std::uint8_t { modular, muon, rms_match };

/// "modular", "muon", "rms_match".
MODNORM_API const char* to_string(LrRule rule);

/// The update rule of a set of atoms: what a parameter group sets (ParameterGroup::rule), and
/// what OptimizerOptions sets for the whole tree when it has no groups.
///
/// Example:
///   modnorm::StepRule adam;
///   adam.algorithm = modnorm::Algorithm::adamw;
///   adam.lr = 8e-3;
struct MODNORM_API StepRule {
  /// The update rule (Algorithm).
  Algorithm algorithm = Algorithm::modular;
  /// How a matrix's update is sized (LrRule; `modular` algorithm only).
  LrRule lr_rule = LrRule::modular;
  /// Base learning rate, finite and > 0. For `modular` it is the modular norm of the step
  /// (with the correction off): each atom moves by lr / c_l in its own norm. Adam-type runs
  /// usually want ~1e-3.
  double lr = 0.1;
  /// Momentum in EMA form, m <- beta * m + (1 - beta) * g, in [0, 1) (0: no momentum); it is
  /// beta1 for the Adam algorithms.
  double beta = 0.95;
  /// Nesterov: the step uses u = (1 - beta) * g + beta * m (m already updated) instead of m.
  /// `modular` and `sgd` only.
  bool nesterov = false;
  /// How `spectral` atoms compute U V^T (`modular` only); OrthogonalizeMethod::svd is exact.
  OrthogonalizeOptions orthogonalize;
  /// Dual norm correction (`modular` only).
  CorrectionOptions correction;
  /// NorMuon row normalisation (`modular` only).
  NorMuonOptions normuon;
  /// Decoupled or cautious weight decay (every algorithm).
  WeightDecayOptions weight_decay;
  /// Second moment of `adamw` and `adaptive_adam` (validated whatever the algorithm).
  AdamOptions adam;
  /// This library's conventions, or optax's (Convention; `modular` algorithm only).
  Convention convention = Convention::modular;
};

/// Which parameters a role names (ParameterGroup::roles; parameter_roles()). Roles are read
/// from the tree's parameters() list, whose order is the order of application:
///
/// - `embedding`: the weight of an `Embed` atom (token vectors, d x vocab);
/// - `output`: the last parameter of rank >= 2 in parameters() that is not an embedding (the
///   layer that produces the network's output: a classifier's last Linear, a GPT's head);
/// - `hidden`: every other parameter of rank >= 2 (hidden Linear and Conv2D weights);
/// - `vector`: every parameter of rank <= 1 (biases, gains).
enum class Role : std::uint8_t { embedding, output, hidden, vector };

/// "embedding", "output", "hidden", "vector".
MODNORM_API const char* to_string(Role role);

/// The role of every parameter of `params` (a Module::parameters() list), in the same order.
///
/// Example: auto roles = modnorm::parameter_roles(net.parameters());
MODNORM_API std::vector<Role> parameter_roles(const std::vector<Parameter>& params);

/// A set of atoms and the rule they follow (how every Muon user trains a transformer: the
/// orthogonalized step on the hidden matrices, AdamW on the embedding, the head and the
/// vectors). A group takes every parameter that matches one of its `patterns` (when it has
/// any) and has one of its `roles` (when it has any); a group with neither (at most one) takes
/// every parameter that no other group takes, possibly none (the rest). A pattern is matched
/// against the dotted name, whole: `*` matches any run of characters (dots included), `?` one
/// character; a pattern also matches every parameter under the module it names (`embed` matches
/// `embed.weight`, `blocks.*.mlp` everything under each block's `mlp`).
///
/// Example:
///   modnorm::ParameterGroup adam{"adam", {}, {modnorm::Role::embedding, modnorm::Role::output,
///                                modnorm::Role::vector}, {}};
///   adam.rule.algorithm = modnorm::Algorithm::adamw;
///   adam.rule.lr = 8e-3;
struct ParameterGroup {
  std::string name;                   ///< shown in errors and reports; unique, not empty
  std::vector<std::string> patterns;  ///< dotted-name patterns (any of them)
  std::vector<Role> roles;            ///< roles (any of them)
  StepRule rule;                      ///< the group's algorithm, lr, betas, decay, ...
};

/// Everything an Optimizer does: a StepRule for the whole tree, or parameter groups each with
/// its own, plus the schedule every group follows. Defaults: modular steepest descent with lr
/// 0.1, EMA momentum 0.95 without Nesterov, Muon's 5-step quintic, no correction, no NorMuon,
/// no weight decay, no groups.
///
/// Example:
///   modnorm::OptimizerOptions options;
///   options.lr = 0.05;
///   options.nesterov = true;
///   options.schedule.kind = modnorm::Schedule::linear_decay;
///   options.schedule.total_steps = 1000;
struct MODNORM_API OptimizerOptions : StepRule {
  /// How every group's lr varies with the step (scheduled_lr of the group's own lr).
  ScheduleOptions schedule;
  /// Momentum warmup of the `modular` and `sgd` groups (MomentumWarmup).
  MomentumWarmup momentum_warmup;
  /// Per-atom lr multipliers, by parameter name.
  std::vector<ParameterOverride> overrides;
  /// Parameter groups. Empty: one group of every parameter with the rule above (the StepRule
  /// fields of these options). Otherwise every parameter must belong to exactly one group, and
  /// the StepRule fields of these options must keep their defaults (each group has its own).
  std::vector<ParameterGroup> groups;

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~OptimizerOptions();
};

// ---- The step plan over a process group (docs/distributed.md, "What is sharded") -------------
// Which rank orthogonalizes and updates which atom, or which rows of a large one: the optimizer's
// algorithms, built on the collectives of distributed.hpp.

/// One parameter as the shard planner sees it.
struct PlanItem {
  Shape shape;  ///< the weight's shape
  /// Its norm, whose rule gives the cost of its duality map (NormRule::cost; spectral:
  /// Newton-Schulz flops); unset for a parameter stepped elementwise (SGD, Adam), cost 0.
  std::optional<Norm> norm;
  bool frozen = false;  ///< zero mass: neither updated nor communicated
};

/// Rows [begin, begin + rows) of one parameter and the rank that keeps their optimizer state
/// and forms their update. A parameter owned whole is one block of all its rows (axis 0).
struct RowBlock {
  int rank = 0;            ///< the owner of these rows
  std::int64_t begin = 0;  ///< first row
  std::int64_t rows = 0;   ///< number of rows
};

/// Who updates what (plan_shards): per parameter its owners, and per rank the work of its
/// duality maps (NormRule::cost: Newton-Schulz flops for spectral) and the elements it owns.
struct ShardPlan {
  /// Per item, its row blocks in row order, on distinct ranks in increasing rank order: one block
  /// for an item owned whole, several for a split one, none for a frozen one.
  std::vector<std::vector<RowBlock>> owners;
  std::vector<double> flops;           ///< per rank: duality-map flops of one step
  std::vector<std::int64_t> elements;  ///< per rank: elements of the rows it owns
};

/// Gives every parameter its owner ranks among `world_size`, which alone keep its optimizer state
/// and compute its update (docs/distributed.md, "What is sharded"), balancing the work of the
/// duality maps. An item costs what its norm's rule says (NormRule::cost, where the rule measures
/// the shape; 0 without a norm). For `spectral`, orthogonalizing an m x n matrix (m <= n; a batch
/// [b, m, n] costs b times as much) costs T (4 m^2 n + 2 m^3) flops for T steps (2 m^2 n fewer
/// per step for a cubic, c = 0), the method's default steps unless `orthogonalize.steps` is set;
/// svd counts as 5 quintic steps; the other built-in norms cost 0 (elementwise).
///
/// With several ranks, a matrix of a norm that orthogonalizes (NormRule::orthogonalizes:
/// `spectral`) with at least as many rows as columns (and at least 128
/// rows) whose cost exceeds the mean work per rank is split by rows, when the method is a
/// Newton-Schulz one with f32 or f64 iterates: it becomes ceil(cost / mean) chunks of equal
/// height (each at least 64 rows), and a rank holding r of its rows costs T (4 r n^2 + 2 n^3), n
/// its width (orthogonalize_rows). Then longest processing time first: the items of cost > 0 and
/// chunks, largest first, each to the rank whose work would be least after it (ties: fewest
/// elements, then lowest rank); then the other parameters, largest first, each to the rank with
/// the fewest elements. A split matrix's rows go to its ranks in rank order, each rank one
/// contiguous block. Deterministic: every rank computes the same plan. Throws modnorm::Error for
/// world_size < 1.
///
/// Example:
///   auto plan = modnorm::plan_shards({{{768, 768}, Norm::spectral}}, 8, {});
///   int rank = plan.owners[0][0].rank;   // the rank that orthogonalizes this matrix
MODNORM_API ShardPlan plan_shards(const std::vector<PlanItem>& items, int world_size,
                                  const OrthogonalizeOptions& orthogonalize);

/// orthogonalize() of the tall matrix X (rows >= cols) whose rows are every rank's `pieces` laid
/// end to end (rank 0's first, each rank's in list order), as the ranks' row blocks of the
/// result: this rank's pieces of orthogonalize(X, options), equal up to the order of the sums.
/// Each Newton-Schulz step is one all_sum of the cols x cols Gram matrix X^T X (the sum of every
/// block's X_k^T X_k); the normalisation needs two scalar sums. Every rank of the group must call
/// it, with at least one piece (a [0, cols] piece for none); pieces are matrices of one width,
/// dtype and device (the group's), finite. Throws modnorm::Error, on every rank alike where the
/// cause is global, for a wide X, for method svd or bf16 iterates (use orthogonalize()), and as
/// orthogonalize() for invalid options.
///
/// Example: auto mine = modnorm::orthogonalize_rows({my_rows}, world, {})[0];   // my rows of U V^T
MODNORM_API std::vector<Tensor> orthogonalize_rows(const std::vector<Tensor>& pieces,
                                                   const distributed::Group& group,
                                                   const OrthogonalizeOptions& options);

/// Steepest descent over a module tree (docs/theory.md, "The optimizer"). One pipeline per
/// parameter group (OptimizerOptions::groups; one group of every atom without them), per step
/// and atom l, in this order: momentum (EMA, optional Nesterov) -> dualize with the atom's norm
/// -> optional NorMuon -> optional dual norm correction -> scale by lr / c_l (or the group's
/// LrRule) -> optional decoupled or cautious weight decay -> W_l += Delta W_l in place, once
/// every group's updates are formed. (`sgd` and the Adam algorithms replace the middle part by
/// their own rule; see Algorithm.) Each group's lr follows the one schedule from its own base
/// rate.
///
/// The optimizer holds the tree (a Module handle) and re-reads its parameters() at each step,
/// so Module::initialize() may replace the weights; but the parameter list (count, names,
/// shapes, dtypes, devices) must stay what it was at construction. State: one momentum
/// buffer per atom, plus a [d_out x 1] row second moment per matrix atom with NorMuon, plus a
/// second moment per atom for the Adam algorithms, and the last update per atom; all are
/// allocated at construction with the weight's shape, dtype and device (bf16 weights keep
/// bf16 state). A step forms each new state buffer as a new tensor and keeps it only once the
/// step is checked (the last updates are written in place); otherwise it allocates only the
/// temporaries of the tensor ops (dualize's included). Not copyable (the state would be
/// shared); movable.
///
/// Data parallelism (docs/distributed.md): built over a distributed::Group of W ranks, each
/// rank holding the same tree and its own part of the batch, a step uses the sum over the ranks
/// of their Parameter::grad (so each rank's gradient must be its share of the global mean loss;
/// distributed::share). Every atom has one owner rank (plan_shards, balancing the
/// Newton-Schulz work; a tall matrix with more than a rank's share of that work has several,
/// each owning a block of its rows, which orthogonalize it together with
/// orthogonalize_rows), which alone keeps the atom's (or rows') state and forms its
/// update: the gradients are reduce-scattered to the owners, the updates all-gathered, and every
/// rank applies all of them. The weights after any number of steps are those of one process
/// training on the whole batch, up to floating-point summation order, whatever W. Every method is
/// then a collective (all ranks call it together); state() returns the whole state on every rank,
/// and load_state() takes a whole state, so a checkpoint written with one W resumes with any other.
///
/// Example:
///   auto net = modnorm::Linear(784, 512) >> modnorm::ReLU() >> modnorm::Linear(512, 10);
///   modnorm::Generator gen(0);
///   net.initialize(gen);
///   modnorm::Optimizer opt(net);                          // modular, lr 0.1
///   for (...) {
///     net.zero_grad();
///     auto ce = modnorm::softmax_cross_entropy(net.forward(x), labels);   // labels [B] i32
///     net.backward(ce.grad);
///     opt.step();
///   }
class MODNORM_API Optimizer {
 public:
  /// Builds the optimizer for `module`'s current parameters() with `options`.
  ///
  /// Throws modnorm::Error naming the field and the value received when: lr is not finite and
  /// > 0; beta, adam.beta2 or normuon.beta2 is outside [0, 1); adam.eps or normuon.eps is not
  /// finite and > 0; the weight decay coefficient is negative or not finite; the schedule is
  /// invalid (ScheduleOptions); the orthogonalize options are invalid; an option is set that
  /// the algorithm does not use (nesterov with an Adam algorithm; correction or NorMuon with a
  /// non-modular algorithm); an override names no parameter, names one twice, or has a
  /// negative or non-finite lr multiplier; convention optax is set with a non-modular
  /// algorithm, with the global correction or with correction.pairing orthogonalized; (modular)
  /// an atom of positive mass has coefficient 0; the momentum warmup is invalid or no group
  /// uses momentum. With groups, each group's rule is checked as above (`[Optimizer] group 'x':
  /// ...`), and it throws when the options' own rule fields are not at their defaults, a group
  /// has no name or shares one, a pattern matches no parameter, a group selects none, a
  /// parameter is in two groups or in none (naming them), two groups take the rest, or a group
  /// with an lr rule holds a parameter that is not a spectral matrix.
  ///
  /// With a `group` of several ranks (a collective): every rank gets rank 0's weights, and it
  /// throws unless every parameter has one dtype and lives on the group's device.
  ///
  /// Example:
  ///   modnorm::Optimizer opt(net, options);
  ///   modnorm::Optimizer sharded(net, options, modnorm::distributed::init());
  explicit Optimizer(const Module& module, const OptimizerOptions& options = {},
                     const distributed::Group& group = {});
  ~Optimizer();
  Optimizer(Optimizer&&) noexcept;
  Optimizer& operator=(Optimizer&&) noexcept;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One step with the gradients currently in the tree (Parameter::grad; the optimizer does
  /// not zero them). Checks the whole tree before it changes anything: throws modnorm::Error,
  /// leaving every weight, all state and steps() untouched, if the parameter list differs from
  /// the one the optimizer was built for (count, names, shapes, dtypes or devices) or any
  /// weight or gradient holds NaN or Inf:
  /// `[Optimizer.step] parameter '0.weight': gradient [3x4] f32 cpu contains NaN at [1, 2] ...`.
  /// A step never writes a non-finite weight: every Delta W and the new state are formed first,
  /// then every weight, gradient and Delta W is checked in one fused all_finite() (one host
  /// synchronisation per step), and only then is the state kept and every Delta W applied; if
  /// one overflows (e.g. lr 1e300) it throws naming the parameter and the learning rate, with
  /// every weight and all state unchanged (last_updates() holds the rejected updates), so the
  /// next step is the one a run that never saw this one takes. Every method of a moved-from
  /// Optimizer throws modnorm::Error.
  ///
  /// Example: opt.step();
  void step();

  /// The scheduled learning rate of the next step, scheduled_lr(options.lr, options.schedule,
  /// steps()) (before per-atom multipliers); with groups, each group's is in atom_steps().
  double lr() const;
  /// Number of steps taken (restored by load_state).
  std::int64_t steps() const;
  /// Delta W_l of the last step, one tensor per parameters() entry (same order, shape, dtype
  /// and device as the weights), weight decay included: W_after = W_before + Delta W_l. Zeros
  /// before the first step and for frozen atoms. The tensors are overwritten by each step.
  ///
  /// Example: double ratio = modnorm::norm(opt.last_updates()[0], Norm::spectral) / ...;
  const std::vector<Tensor>& last_updates() const;
  /// The options the optimizer was built with.
  const OptimizerOptions& options() const;
  /// How the next step treats each parameter, in parameters() order: its group, algorithm and
  /// effective rate (AtomStep), for report()'s group columns.
  ///
  /// Example: options.steps = opt.atom_steps(); std::cout << modnorm::report(net, options);
  std::vector<AtomStep> atom_steps() const;

  /// A snapshot of everything a resumed run needs, as (name, tensor) pairs ready for a
  /// safetensors file: "step" (a rank-0 f64 tensor holding steps()), then per parameter, in
  /// parameters() order, "<name>.momentum", with NorMuon "<name>.row_second_moment"
  /// ([d_out x 1]; matrix atoms only), with an Adam algorithm "<name>.second_moment". The
  /// tensors are copies (later steps do not change them), in the state's dtype and device.
  ///
  /// Example: auto entries = opt.state();   // entries[0].first == "step"
  std::vector<std::pair<std::string, Tensor>> state() const;
  /// Restores a state() snapshot taken from an optimizer with the same options over a tree
  /// with the same parameters: training then continues bit for bit. Entries are converted to
  /// the state's dtype and device and copied into the existing buffers. All entries are
  /// checked before anything changes. Throws modnorm::Error naming the entry when one is
  /// missing, unexpected, given twice, of another shape, non-finite, or when "step" is not a
  /// single non-negative integer:
  /// `[Optimizer.load_state] entry '0.weight.momentum' has shape [3x4], expected [4x3]`.
  ///
  /// Example: fresh.load_state(saved);
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 private:
  struct Impl;  // src/optim/optimizer_impl.hpp
  /// The state; throws modnorm::Error on a moved-from optimizer.
  Impl& impl() const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modnorm
