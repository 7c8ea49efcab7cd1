// Learning-rate schedules (optim.hpp, scheduled_lr): a linear ramp, then constant, a half
// cosine (Loshchilov & Hutter 2017, SGDR, without restarts), a straight line down to a floor, or
// warmup-stable-decay (modded-nanogpt); and momentum warmup (scheduled_beta).
#include <algorithm>
#include <cmath>
#include <string>

#include "modnorm/error.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double scheduled_lr(double lr, const ScheduleOptions& schedule, std::int64_t step) {
  constexpr const char* op = "scheduled_lr";
  if (!(lr > 0.0) || !std::isfinite(lr))
    fail(op, "lr must be a finite number > 0, got " + std::to_string(lr));
  if (step < 0) fail(op, "step must be >= 0, got " + std::to_string(step));
  detail::validate_schedule(op, schedule);

  const auto t = static_cast<double>(step);
  const auto warmup = static_cast<double>(schedule.warmup_steps);
  if (step < schedule.warmup_steps) return lr * (t + 1.0) / warmup;

  const double floor = schedule.final_fraction;
  const auto progress = [&] {
    const auto span = static_cast<double>(schedule.total_steps) - warmup;
    return std::min(1.0, (t - warmup) / span);
  };
  switch (schedule.kind) {
    case Schedule::constant:
    case Schedule::linear_warmup:
      return lr;
    case Schedule::cosine:
      return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(kPi * progress())));
    case Schedule::linear_decay:
      return lr * (floor + (1.0 - floor) * (1.0 - progress()));
    case Schedule::warmup_stable_decay: {
      const auto total = static_cast<double>(schedule.total_steps);
      const double start = (1.0 - schedule.cooldown_fraction) * total;
      if (t < start) return lr;
      const double q = std::min(1.0, (t - start) / (total - start));
      const double w = schedule.cooldown == Cooldown::linear ? 1.0 - q : 1.0 - std::sqrt(q);
      return lr * (floor + (1.0 - floor) * w);
    }
  }
  return lr;  // unreachable: validate_schedule rejects unknown kinds
}

double scheduled_beta(double beta, const MomentumWarmup& warmup, std::int64_t step) {
  constexpr const char* op = "scheduled_beta";
  if (step < 0) fail(op, "step must be >= 0, got " + std::to_string(step));
  detail::validate_momentum_warmup(op, beta, warmup);
  if (warmup.steps == 0) return beta;
  const double frac = std::min(1.0, static_cast<double>(step) / static_cast<double>(warmup.steps));
  return warmup.start + (beta - warmup.start) * frac;
}

}  // namespace modnorm
