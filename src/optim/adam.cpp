// The Adam baselines: AdamW (Kingma & Ba 2015, bias-corrected moments; Loshchilov & Hutter
// 2019, decoupled decay, applied in apply.cpp) and the seed's "adaptive Adam", which scales
// Adam's direction by clamp(<m_hat, u>, -1, 1) per atom.
#include <algorithm>
#include <cmath>

#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Direction adam_direction(AtomState& atom, const Tensor& grad, std::int64_t t,
                         const StepRule& options) {
  const double beta1 = options.beta, beta2 = options.adam.beta2;
  momentum_step(atom.momentum, grad, beta1, false);
  // v <- beta2 * v + (1 - beta2) * g * g, into a new tensor (as the momentum)
  atom.second_moment = atom.second_moment.clone();
  axpy(1.0 - beta2, mul(grad, grad), atom.second_moment, beta2);
  // m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), u = m_hat / (sqrt(v_hat) + eps).
  const auto steps = static_cast<double>(t);
  const double bias1 = 1.0 - std::pow(beta1, steps);
  const double bias2 = 1.0 - std::pow(beta2, steps);
  const Tensor m_hat = scale(atom.momentum, 1.0 / bias1);
  const Tensor denominator = add(scale(sqrt(atom.second_moment), 1.0 / std::sqrt(bias2)),
                                 scalar_like(options.adam.eps, atom.second_moment));
  Direction d;
  d.direction = div(m_hat, denominator);
  if (options.algorithm == Algorithm::adaptive_adam)
    d.scale = std::clamp(dot(m_hat, d.direction), -1.0, 1.0);
  return d;
}

}  // namespace modnorm::detail
