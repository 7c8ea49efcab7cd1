// Validation of OptimizerOptions at the public boundary (check once at the boundary, then trust),
// and the names of the option enums.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "dualize_detail.hpp"
#include "modnorm/error.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace detail {
namespace {

std::string show(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

void require(const char* op, bool ok, const std::string& field, const std::string& rule,
             double value) {
  if (!ok) fail(op, field + " must be " + rule + ", got " + show(value));
}

// [0, 1): an EMA decay (NaN fails every comparison).
void require_decay(const char* op, const std::string& field, double value) {
  require(op, value >= 0.0 && value < 1.0, field, "in [0, 1)", value);
}

void require_positive(const char* op, const std::string& field, double value) {
  require(op, value > 0.0 && std::isfinite(value), field, "a finite number > 0", value);
}

void require_nonnegative(const char* op, const std::string& field, double value) {
  require(op, value >= 0.0 && std::isfinite(value), field, "a finite number >= 0", value);
}

// An option that only `modular` reads must be left at its default by the other algorithms
// (a silently ignored option is a silent fallback).
void require_modular(const char* op, const StepRule& o, bool set, const std::string& what) {
  if (set && o.algorithm != Algorithm::modular)
    fail(op, what + " applies to the modular algorithm only, not to " + to_string(o.algorithm));
}

// With groups, the options' own rule is not used: it must keep its defaults.
void require_default_rule(const char* op, const StepRule& o) {
  const StepRule d;
  const std::pair<bool, const char*> fields[] = {
      {o.algorithm != d.algorithm, "algorithm"},
      {o.lr_rule != d.lr_rule, "lr_rule"},
      {o.lr != d.lr, "lr"},
      {o.beta != d.beta, "beta"},
      {o.nesterov != d.nesterov, "nesterov"},
      {o.orthogonalize.method != d.orthogonalize.method, "orthogonalize.method"},
      {o.correction.mode != d.correction.mode, "correction.mode"},
      {o.normuon.enabled != d.normuon.enabled, "normuon.enabled"},
      {o.weight_decay.mode != d.weight_decay.mode, "weight_decay.mode"},
      {o.weight_decay.coefficient != d.weight_decay.coefficient, "weight_decay.coefficient"},
      {o.adam.beta2 != d.adam.beta2, "adam.beta2"},
      {o.adam.eps != d.adam.eps, "adam.eps"},
      {o.convention != d.convention, "convention"},
  };
  for (const auto& [changed, field] : fields)
    if (changed)
      fail(op, std::string(field) +
                   " is set on the options, which have groups: with groups, set it on each "
                   "group's rule (ParameterGroup::rule)");
}

}  // namespace

void validate_schedule(const char* op, const ScheduleOptions& s) {
  const std::string kind = std::string("schedule (") + to_string(s.kind) + ")";
  switch (s.kind) {
    case Schedule::constant:
      if (s.warmup_steps != 0)
        fail(op, kind + ": warmup_steps must be 0, got " + std::to_string(s.warmup_steps) +
                     " (use Schedule::linear_warmup for a ramp)");
      return;
    case Schedule::linear_warmup:
      if (s.warmup_steps < 1)
        fail(op, kind + ": warmup_steps must be >= 1, got " + std::to_string(s.warmup_steps));
      return;
    case Schedule::cosine:
    case Schedule::linear_decay:
    case Schedule::warmup_stable_decay:
      if (s.warmup_steps < 0)
        fail(op, kind + ": warmup_steps must be >= 0, got " + std::to_string(s.warmup_steps));
      if (s.total_steps <= s.warmup_steps)
        fail(op, kind + ": total_steps must exceed warmup_steps (" +
                     std::to_string(s.warmup_steps) + "), got " + std::to_string(s.total_steps));
      require(op, s.final_fraction >= 0.0 && s.final_fraction <= 1.0, kind + ": final_fraction",
              "in [0, 1]", s.final_fraction);
      if (s.kind != Schedule::warmup_stable_decay) return;
      require(op, s.cooldown_fraction > 0.0 && s.cooldown_fraction <= 1.0,
              kind + ": cooldown_fraction", "in (0, 1]", s.cooldown_fraction);
      if ((1.0 - s.cooldown_fraction) * static_cast<double>(s.total_steps) <
          static_cast<double>(s.warmup_steps))
        fail(op, kind + ": the cooldown (the last " + show(s.cooldown_fraction) + " of " +
                     std::to_string(s.total_steps) + " steps) must start after the " +
                     std::to_string(s.warmup_steps) + " warmup steps");
      if (s.cooldown != Cooldown::linear && s.cooldown != Cooldown::one_minus_sqrt)
        fail(op, kind + ": unknown cooldown " + std::to_string(static_cast<int>(s.cooldown)));
      return;
  }
  fail(op, "unknown schedule kind " + std::to_string(static_cast<int>(s.kind)));
}

void validate_momentum_warmup(const char* op, double beta, const MomentumWarmup& warmup) {
  require_decay(op, "beta", beta);
  require_decay(op, "momentum_warmup.start", warmup.start);
  if (warmup.steps < 0)
    fail(op, "momentum_warmup.steps must be >= 0, got " + std::to_string(warmup.steps));
}

void validate_rule(const char* op, const StepRule& o) {
  require_positive(op, "lr", o.lr);
  require_decay(op, "beta", o.beta);
  require_decay(op, "adam.beta2", o.adam.beta2);
  require_positive(op, "adam.eps", o.adam.eps);
  require_decay(op, "normuon.beta2", o.normuon.beta2);
  require_positive(op, "normuon.eps", o.normuon.eps);
  require_nonnegative(op, "weight_decay.coefficient", o.weight_decay.coefficient);
  check_options(op, o.orthogonalize);

  require_modular(op, o, o.correction.mode != CorrectionMode::off, "correction");
  require_modular(op, o, o.normuon.enabled, "normuon");
  require_modular(op, o, o.convention != Convention::modular, "convention optax");
  require_modular(op, o, o.lr_rule != LrRule::modular,
                  std::string("lr_rule ") + to_string(o.lr_rule));
  if (o.convention == Convention::optax && o.correction.mode == CorrectionMode::global)
    fail(op,
         "correction.mode global has no optax counterpart (optax's adaptive=True is "
         "per_layer); use CorrectionMode::per_layer with convention optax");
  if (o.nesterov && (o.algorithm == Algorithm::adamw || o.algorithm == Algorithm::adaptive_adam))
    fail(op, std::string("nesterov applies to the modular and sgd algorithms, not to ") +
                 to_string(o.algorithm));
  if (o.convention == Convention::optax && o.correction.pairing != CorrectionPairing::dualized)
    fail(op,
         "correction.pairing orthogonalized is what convention optax already does (it pairs "
         "with the unscaled O); leave correction.pairing at its default with convention optax");
}

void validate(const char* op, const OptimizerOptions& o) {
  validate_rule(op, o);
  validate_schedule(op, o.schedule);
  validate_momentum_warmup(op, o.beta, o.momentum_warmup);
  for (const ParameterOverride& ov : o.overrides)
    require_nonnegative(op, "override '" + ov.name + "': lr_multiplier", ov.lr_multiplier);
  const auto steps_momentum = [](const StepRule& r) {
    return r.algorithm == Algorithm::modular || r.algorithm == Algorithm::sgd;
  };
  const bool ramped =
      o.groups.empty()
          ? steps_momentum(o)
          : std::any_of(o.groups.begin(), o.groups.end(),
                        [&](const ParameterGroup& g) { return steps_momentum(g.rule); });
  if (o.momentum_warmup.steps > 0 && !ramped)
    fail(op, "momentum_warmup applies to the modular and sgd algorithms, and no group uses either");
  if (o.groups.empty()) return;
  require_default_rule(op, o);
  for (std::size_t g = 0; g < o.groups.size(); ++g) {
    const ParameterGroup& group = o.groups[g];
    if (group.name.empty()) fail(op, "group " + std::to_string(g) + " has no name");
    for (std::size_t h = 0; h < g; ++h)
      if (o.groups[h].name == group.name) fail(op, "two groups are named '" + group.name + "'");
    const std::string prefix = "[" + std::string(op) + "] group '" + group.name + "': ";
    try {
      validate_rule(op, group.rule);
    } catch (const Error& e) {
      // "[op] group 'x': <the rule's message without its [op]>"
      const std::string what = e.what();
      throw Error(prefix + what.substr(what.find("] ") + 2));
    }
  }
}

bool uses_adam(Algorithm algorithm) {
  return algorithm == Algorithm::adamw || algorithm == Algorithm::adaptive_adam;
}

bool uses_row_second_moment(const StepRule& options, const Shape& shape) {
  return options.algorithm == Algorithm::modular && options.normuon.enabled && shape.size() == 2;
}

}  // namespace detail

// Out of line: exported for interpreters (optim.hpp).
OptimizerOptions::~OptimizerOptions() = default;

const char* to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::modular:
      return "modular";
    case Algorithm::sgd:
      return "sgd";
    case Algorithm::adamw:
      return "adamw";
    case Algorithm::adaptive_adam:
      return "adaptive_adam";
  }
  return "unknown";
}

const char* to_string(LrRule rule) {
  switch (rule) {
    case LrRule::modular:
      return "modular";
    case LrRule::muon:
      return "muon";
    case LrRule::rms_match:
      return "rms_match";
  }
  return "unknown";
}

const char* to_string(Schedule schedule) {
  switch (schedule) {
    case Schedule::constant:
      return "constant";
    case Schedule::linear_warmup:
      return "linear_warmup";
    case Schedule::cosine:
      return "cosine";
    case Schedule::linear_decay:
      return "linear_decay";
    case Schedule::warmup_stable_decay:
      return "warmup_stable_decay";
  }
  return "unknown";
}

const char* to_string(Cooldown cooldown) {
  switch (cooldown) {
    case Cooldown::linear:
      return "linear";
    case Cooldown::one_minus_sqrt:
      return "one_minus_sqrt";
  }
  return "unknown";
}

const char* to_string(CorrectionMode mode) {
  switch (mode) {
    case CorrectionMode::off:
      return "off";
    case CorrectionMode::per_layer:
      return "per_layer";
    case CorrectionMode::global:
      return "global";
  }
  return "unknown";
}

const char* to_string(Convention convention) {
  switch (convention) {
    case Convention::modular:
      return "modular";
    case Convention::optax:
      return "optax";
  }
  return "unknown";
}

const char* to_string(WeightDecay mode) {
  switch (mode) {
    case WeightDecay::off:
      return "off";
    case WeightDecay::decoupled:
      return "decoupled";
    case WeightDecay::cautious:
      return "cautious";
  }
  return "unknown";
}

}  // namespace modnorm
