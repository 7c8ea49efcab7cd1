// The first stage of every algorithm: EMA momentum, optionally in Nesterov form (docs/theory.md,
// "The optimizer").
#include <cmath>

#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Tensor momentum_step(Tensor& momentum, const Tensor& grad, double beta, bool nesterov,
                     std::int64_t bias_step) {
  // m <- beta * m + (1 - beta) * g (the EMA form of Muon and Adam's first moment), into a new
  // tensor: the step keeps it only once it is checked (optimizer.cpp).
  momentum = momentum.clone();
  axpy(1.0 - beta, grad, momentum, beta);
  if (bias_step > 0) {
    // optax contrib/_muon.py scale_by_muon: mu_hat = bias_correction(mu, beta, t), or with
    // Nesterov beta * bias_correction(mu, beta, t + 1) + (1 - beta) * bias_correction(g, beta, t)
    // (bias_correction(x, beta, t) = x / (1 - beta^t)).
    const double t = static_cast<double>(bias_step);
    const double c_t = 1.0 - std::pow(beta, t);
    if (!nesterov) return scale(momentum, 1.0 / c_t);
    Tensor u = scale(momentum, beta / (1.0 - std::pow(beta, t + 1.0)));
    axpy((1.0 - beta) / c_t, grad, u);
    return u;
  }
  if (!nesterov) return momentum;
  // Nesterov, as in Muon's reference code (grad.lerp_(momentum, beta) after the update):
  // u = (1 - beta) * g + beta * m.
  Tensor u = momentum.clone();
  axpy(1.0 - beta, grad, u, beta);
  return u;
}

}  // namespace modnorm::detail
