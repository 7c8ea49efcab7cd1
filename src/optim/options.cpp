// Validation of OptimizerOptions at the public boundary (check once at the boundary, then trust),
// and the names of the option enums.
#include <cmath>
#include <sstream>
#include <string>

#include "dualize_detail.hpp"
#include "fail.hpp"
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
void require_modular(const char* op, const OptimizerOptions& o, bool set, const std::string& what) {
  if (set && o.algorithm != Algorithm::modular)
    fail(op, what + " applies to the modular algorithm only, not to " + to_string(o.algorithm));
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
      if (s.warmup_steps < 0)
        fail(op, kind + ": warmup_steps must be >= 0, got " + std::to_string(s.warmup_steps));
      if (s.total_steps <= s.warmup_steps)
        fail(op, kind + ": total_steps must exceed warmup_steps (" +
                     std::to_string(s.warmup_steps) + "), got " + std::to_string(s.total_steps));
      require(op, s.final_fraction >= 0.0 && s.final_fraction <= 1.0, kind + ": final_fraction",
              "in [0, 1]", s.final_fraction);
      return;
  }
  fail(op, "unknown schedule kind " + std::to_string(static_cast<int>(s.kind)));
}

void validate(const char* op, const OptimizerOptions& o) {
  require_positive(op, "lr", o.lr);
  validate_schedule(op, o.schedule);
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
  for (const ParameterOverride& ov : o.overrides)
    require_nonnegative(op, "override '" + ov.name + "': lr_multiplier", ov.lr_multiplier);
}

bool uses_adam(Algorithm algorithm) {
  return algorithm == Algorithm::adamw || algorithm == Algorithm::adaptive_adam;
}

bool uses_row_second_moment(const OptimizerOptions& options, const Shape& shape) {
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
