// The last stages of every algorithm: Delta W = -lr * scale * direction, decoupled or cautious
// weight decay (docs/theory.md, "The optimizer"); the step applies W += Delta W once every
// update is known to be finite.
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Tensor scalar_like(double value, const Tensor& like) {
  return Tensor::full({1}, value, like.dtype(), like.device());
}

void form_update(Tensor& update, const Tensor& weight, const Tensor& direction, double step,
                 double decay, WeightDecay mode) {
  axpy(-step, direction, update, 0.0);  // update = -step * direction
  switch (mode) {
    case WeightDecay::off:
      break;
    case WeightDecay::decoupled:
      axpy(-decay, weight, update);  // Loshchilov & Hutter 2019: W -= lr * lambda * W
      break;
    case WeightDecay::cautious: {
      // Chen et al. 2025 (arXiv:2510.12402): decay where u * W >= 0 for the subtracted update
      // u = -Delta W (optim.hpp, WeightDecayOptions), i.e. where sign(Delta W) sign(W) <= 0.
      // Products of signs are exact (no underflow of tiny u * W to 0), and
      // sign(1 - sign(Delta W) sign(W)) is 1 there and 0 where the signs agree.
      const Tensor agree = mul(sign(update), sign(weight));
      const Tensor mask = sign(sub(scalar_like(1.0, weight), agree));
      axpy(-decay, mul(mask, weight), update);
      break;
    }
  }
}

}  // namespace modnorm::detail
