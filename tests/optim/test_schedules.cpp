// Learning-rate schedules (optim.hpp, scheduled_lr) at a few steps against hand values, the
// optimizer following them step by step, and invalid schedules.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "modnorm/modnorm.hpp"
#include "modnorm/optim.hpp"
#include "support.hpp"

using modnorm::Schedule;
using modnorm::scheduled_lr;
using modnorm::ScheduleOptions;
namespace tt = boost::test_tools;

namespace {

ScheduleOptions schedule(Schedule kind, std::int64_t warmup, std::int64_t total, double floor) {
  ScheduleOptions s;
  s.kind = kind;
  s.warmup_steps = warmup;
  s.total_steps = total;
  s.final_fraction = floor;
  return s;
}

bool message_has(const modnorm::Error& e, const std::string& fragment) {
  const std::string what = e.what();
  BOOST_TEST_INFO("message: " << what);
  return what.find(fragment) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(schedules)

BOOST_AUTO_TEST_CASE(constant_schedule_keeps_lr) {
  const ScheduleOptions s;
  for (const std::int64_t t : {0, 1, 7, 1000000}) BOOST_TEST(scheduled_lr(0.3, s, t) == 0.3);
}

BOOST_AUTO_TEST_CASE(linear_warmup_ramps_then_holds) {
  const auto s = schedule(Schedule::linear_warmup, 4, 0, 0.0);
  const double expected[] = {0.25, 0.5, 0.75, 1.0, 1.0, 1.0};  // (t + 1) / 4, then 1
  for (int t = 0; t < 6; ++t) {
    BOOST_TEST_INFO("step " << t);
    BOOST_TEST(scheduled_lr(2.0, s, t) == 2.0 * expected[t], tt::tolerance(1e-15));
  }
}

BOOST_AUTO_TEST_CASE(cosine_decays_to_its_floor_after_warmup) {
  // W = 2, T = 12, floor 0.1: ramp 1/2, 1; then 0.1 + 0.9 (1 + cos(pi (t - 2) / 10)) / 2.
  const auto s = schedule(Schedule::cosine, 2, 12, 0.1);
  const double lr = 0.5;
  BOOST_TEST(scheduled_lr(lr, s, 0) == 0.25, tt::tolerance(1e-15));
  BOOST_TEST(scheduled_lr(lr, s, 1) == 0.5, tt::tolerance(1e-15));
  BOOST_TEST(scheduled_lr(lr, s, 2) == 0.5, tt::tolerance(1e-15));
  // t = 4: p = 0.2, cos(0.2 pi) = 0.80901699437494742 -> 0.1 + 0.9 * 0.90450849718747371
  BOOST_TEST(scheduled_lr(lr, s, 4) == lr * 0.91405764746872634, tt::tolerance(1e-14));
  BOOST_TEST(scheduled_lr(lr, s, 7) == lr * 0.55, tt::tolerance(1e-14));  // p = 1/2
  BOOST_TEST(scheduled_lr(lr, s, 12) == lr * 0.1, tt::tolerance(1e-14));  // p = 1
  BOOST_TEST(scheduled_lr(lr, s, 500) == lr * 0.1, tt::tolerance(1e-14));
  // Without warmup the first step has the full lr and the floor may be 0.
  const auto plain = schedule(Schedule::cosine, 0, 4, 0.0);
  BOOST_TEST(scheduled_lr(1.0, plain, 0) == 1.0);
  BOOST_TEST(scheduled_lr(1.0, plain, 2) == 0.5, tt::tolerance(1e-15));
  BOOST_TEST(scheduled_lr(1.0, plain, 4) == 0.0);
}

BOOST_AUTO_TEST_CASE(linear_decay_is_a_straight_line_to_its_floor) {
  const auto s = schedule(Schedule::linear_decay, 0, 10, 0.0);
  BOOST_TEST(scheduled_lr(1.0, s, 0) == 1.0);
  BOOST_TEST(scheduled_lr(1.0, s, 5) == 0.5, tt::tolerance(1e-15));
  BOOST_TEST(scheduled_lr(1.0, s, 10) == 0.0);
  BOOST_TEST(scheduled_lr(1.0, s, 11) == 0.0);
  // W = 2, T = 6, floor 0.2: ramp 1/2, 1; then 0.2 + 0.8 (1 - (t - 2) / 4).
  const auto w = schedule(Schedule::linear_decay, 2, 6, 0.2);
  const double expected[] = {0.5, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2};
  for (int t = 0; t < 8; ++t) {
    BOOST_TEST_INFO("step " << t);
    BOOST_TEST(scheduled_lr(0.1, w, t) == 0.1 * expected[t], tt::tolerance(1e-14));
  }
}

BOOST_AUTO_TEST_CASE(optimizer_steps_with_the_scheduled_lr) {
  MODNORM_FRESH_GENERATOR(gen);
  modnorm::Module net = modnorm::Linear(4, 3);
  net.initialize(gen);
  modnorm::OptimizerOptions o;
  o.lr = 0.2;
  o.beta = 0.0;
  o.orthogonalize.method = modnorm::OrthogonalizeMethod::svd;
  o.schedule = schedule(Schedule::linear_decay, 2, 6, 0.5);
  modnorm::Optimizer opt(net, o);
  modnorm::SpectralNormOptions exact;
  exact.exact = true;
  for (std::int64_t t = 0; t < 8; ++t) {
    BOOST_TEST_INFO("step " << t);
    const double expected = scheduled_lr(o.lr, o.schedule, t);
    BOOST_TEST(opt.steps() == t);
    BOOST_TEST(opt.lr() == expected);
    modnorm::Tensor grad = net.parameters()[0].grad;
    modnorm::axpy(1.0, modnorm::Tensor::randn({3, 4}, gen), grad, 0.0);
    opt.step();
    // c = 1: the update has norm lr_t in the atom's (spectral) norm
    BOOST_TEST(modnorm::norm(opt.last_updates()[0], modnorm::Norm::spectral, exact) == expected,
               tt::tolerance(1e-5));
  }
}

BOOST_AUTO_TEST_CASE(warmup_stable_decay_follows_its_closed_form) {
  // W = 3, T = 20, cooldown over the last 0.4 (from S = 12), floor 0.1: ramp (t + 1) / 3, 1 up
  // to S, then 0.1 + 0.9 w(q), q = (t - 12) / 8, w = 1 - q or 1 - sqrt(q); 0.1 from T on.
  for (const modnorm::Cooldown shape :
       {modnorm::Cooldown::linear, modnorm::Cooldown::one_minus_sqrt}) {
    BOOST_TEST_INFO(modnorm::to_string(shape));
    auto s = schedule(Schedule::warmup_stable_decay, 3, 20, 0.1);
    s.cooldown_fraction = 0.4;
    s.cooldown = shape;
    for (int t = 0; t < 25; ++t) {
      BOOST_TEST_INFO("step " << t);
      double f = 1.0;
      if (t < 3) {
        f = (t + 1) / 3.0;
      } else if (t >= 12) {
        const double q = std::min(1.0, (t - 12) / 8.0);
        f = 0.1 + 0.9 * (shape == modnorm::Cooldown::linear ? 1.0 - q : 1.0 - std::sqrt(q));
      }
      BOOST_TEST(scheduled_lr(0.02, s, t) == 0.02 * f, tt::tolerance(1e-14));
    }
  }
  // modded-nanogpt's: no warmup, cooldown over the last half to 0.1 (step 75 of 100: w = 0.5).
  auto m = schedule(Schedule::warmup_stable_decay, 0, 100, 0.1);
  BOOST_TEST(scheduled_lr(1.0, m, 49) == 1.0);
  BOOST_TEST(scheduled_lr(1.0, m, 75) == 0.55, tt::tolerance(1e-14));
  BOOST_TEST(std::string(modnorm::to_string(Schedule::warmup_stable_decay)) ==
             "warmup_stable_decay");
}

BOOST_AUTO_TEST_CASE(warmup_stable_decay_refuses_a_cooldown_inside_the_warmup) {
  auto s = schedule(Schedule::warmup_stable_decay, 60, 100, 0.0);
  BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, s, 0), modnorm::Error, [](const auto& e) {
    return message_has(e, "must start after the 60 warmup steps");
  });
  for (const double fraction : {0.0, 1.5}) {
    s.warmup_steps = 0;
    s.cooldown_fraction = fraction;
    BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, s, 0), modnorm::Error, [](const auto& e) {
      return message_has(e, "cooldown_fraction must be in (0, 1]");
    });
  }
}

BOOST_AUTO_TEST_CASE(momentum_warmup_ramps_beta_linearly) {
  const modnorm::MomentumWarmup ramp{300, 0.85};
  for (const std::int64_t t : {0, 1, 150, 299, 300, 1000}) {
    BOOST_TEST_INFO("step " << t);
    const double frac = std::min(1.0, static_cast<double>(t) / 300.0);
    BOOST_TEST(modnorm::scheduled_beta(0.95, ramp, t) == (1 - frac) * 0.85 + frac * 0.95,
               tt::tolerance(1e-14));
  }
  BOOST_TEST(modnorm::scheduled_beta(0.9, {}, 7) == 0.9);  // off: beta itself
  BOOST_CHECK_EXCEPTION(modnorm::scheduled_beta(0.9, {5, 1.0}, 0), modnorm::Error,
                        [](const auto& e) { return message_has(e, "momentum_warmup.start"); });
  BOOST_CHECK_EXCEPTION(modnorm::scheduled_beta(0.9, {-1, 0.5}, 0), modnorm::Error,
                        [](const auto& e) { return message_has(e, "momentum_warmup.steps"); });
}

BOOST_AUTO_TEST_CASE(every_group_follows_the_schedule_with_its_own_rate_and_ramped_beta) {
  MODNORM_FRESH_GENERATOR(gen);
  // Linear(4 -> 3) >> Linear(3 -> 2): two SGD groups of base rates 0.3 and 0.05, one schedule;
  // the momentum ramps 0.5 -> 0.9 over 4 steps: m_t = b_t m + (1 - b_t) g, Delta W = -lr_t m_t.
  modnorm::Module net = modnorm::Linear(4, 3) >> modnorm::Linear(3, 2);
  net.initialize(gen);
  modnorm::OptimizerOptions o;
  o.schedule = schedule(Schedule::warmup_stable_decay, 2, 8, 0.2);
  o.momentum_warmup = {4, 0.5};
  for (const auto& [name, lr] : {std::pair{"first", 0.3}, std::pair{"second", 0.05}}) {
    modnorm::ParameterGroup g{name, {name == std::string("first") ? "0" : "1"}, {}, {}};
    g.rule.algorithm = modnorm::Algorithm::sgd;
    g.rule.lr = lr;
    g.rule.beta = 0.9;
    o.groups.push_back(g);
  }
  modnorm::Optimizer opt(net, o);
  std::vector<std::vector<double>> m(2);
  for (std::int64_t t = 0; t < 10; ++t) {
    const auto params = net.parameters();
    const double beta = modnorm::scheduled_beta(0.9, o.momentum_warmup, t);
    for (std::size_t l = 0; l < 2; ++l) {
      modnorm::Tensor grad = params[l].grad;
      modnorm::axpy(1.0, modnorm::Tensor::randn(grad.shape(), gen), grad, 0.0);
      const std::vector<double> g = grad.to_vector_f64();
      m[l].resize(g.size(), 0.0);
      for (std::size_t k = 0; k < g.size(); ++k) m[l][k] = beta * m[l][k] + (1 - beta) * g[k];
    }
    opt.step();
    for (std::size_t l = 0; l < 2; ++l) {
      BOOST_TEST_INFO("step " << t << ", group " << o.groups[l].name);
      const double lr = scheduled_lr(o.groups[l].rule.lr, o.schedule, t);
      const std::vector<double> got = opt.last_updates()[l].to_vector_f64();
      for (std::size_t k = 0; k < got.size(); ++k)
        BOOST_TEST(std::abs(got[k] + lr * m[l][k]) <= 1e-6);  // f32 steps
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_schedules_are_rejected) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, schedule(Schedule::constant, 5, 0, 0.0), 0),
                        modnorm::Error, [](const auto& e) {
                          return message_has(e,
                                             "[scheduled_lr] schedule (constant): "
                                             "warmup_steps must be 0, got 5");
                        });
  BOOST_CHECK_EXCEPTION(
      scheduled_lr(0.1, schedule(Schedule::linear_warmup, 0, 0, 0.0), 0), modnorm::Error,
      [](const auto& e) { return message_has(e, "warmup_steps must be >= 1, got 0"); });
  BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, schedule(Schedule::cosine, 10, 10, 0.0), 0),
                        modnorm::Error, [](const auto& e) {
                          return message_has(e,
                                             "total_steps must exceed warmup_steps (10), got 10");
                        });
  BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, schedule(Schedule::linear_decay, -1, 10, 0.0), 0),
                        modnorm::Error,
                        [](const auto& e) { return message_has(e, "warmup_steps must be >= 0"); });
  for (const double floor : {-0.1, 1.5, nan})
    BOOST_CHECK_EXCEPTION(
        scheduled_lr(0.1, schedule(Schedule::cosine, 0, 10, floor), 0), modnorm::Error,
        [](const auto& e) { return message_has(e, "final_fraction must be in [0, 1]"); });
  BOOST_CHECK_EXCEPTION(scheduled_lr(0.1, ScheduleOptions{}, -1), modnorm::Error,
                        [](const auto& e) { return message_has(e, "step must be >= 0, got -1"); });
  for (const double lr : {0.0, -1.0, nan})
    BOOST_CHECK_EXCEPTION(
        scheduled_lr(lr, ScheduleOptions{}, 0), modnorm::Error,
        [](const auto& e) { return message_has(e, "lr must be a finite number > 0"); });
  // The optimizer validates its schedule at construction.
  modnorm::OptimizerOptions o;
  o.schedule = schedule(Schedule::linear_warmup, 0, 0, 0.0);
  BOOST_CHECK_EXCEPTION(
      modnorm::Optimizer(modnorm::Linear(2, 2), o), modnorm::Error,
      [](const auto& e) { return message_has(e, "[Optimizer] schedule (linear_warmup)"); });
}

BOOST_AUTO_TEST_SUITE_END()
