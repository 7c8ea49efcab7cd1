// The first stage of every algorithm: EMA momentum, optionally in Nesterov form (DESIGN.md 5).
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Tensor momentum_step(Tensor& momentum, const Tensor& grad, double beta, bool nesterov) {
  // m <- beta * m + (1 - beta) * g (the EMA form of Muon and Adam's first moment).
  axpy(1.0 - beta, grad, momentum, beta);
  if (!nesterov) return momentum;
  // Nesterov, as in Muon's reference code (grad.lerp_(momentum, beta) after the update):
  // u = (1 - beta) * g + beta * m.
  Tensor u = momentum.clone();
  axpy(1.0 - beta, grad, u, beta);
  return u;
}

}  // namespace modnorm::detail
