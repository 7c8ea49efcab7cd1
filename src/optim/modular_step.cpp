// The modular step of one atom (docs/theory.md, "The optimizer"; Large et al. 2024): the
// tree's duality map of the momentum (Module::dualize: dualize_l(u) / c_l), optionally
// NorMuon-normalised, with the dual norm correction and optax's shape factor as its scale.
#include <algorithm>
#include <cmath>

#include "dualize_detail.hpp"
#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

double lr_rule_factor(LrRule rule, const Shape& shape) {
  const auto d_out = static_cast<double>(shape[0]), d_in = static_cast<double>(shape[1]);
  switch (rule) {
    case LrRule::muon:  // Jordan's Muon, modded-nanogpt's shape factor
      return std::sqrt(std::max(1.0, d_out / d_in));
    case LrRule::rms_match:  // Liu et al. 2025: update RMS about 0.2, AdamW's
      return 0.2 * std::sqrt(std::max(d_out, d_in));
    case LrRule::modular:
      break;
  }
  return 1.0;
}

Direction modular_direction(AtomState& atom, const Parameter& p, const Tensor& u,
                            const Tensor& dualized, const StepRule& options, const StepPlan& plan,
                            std::size_t i) {
  const bool optax = options.convention == Convention::optax;
  Direction d;
  d.direction = dualized;
  if (options.correction.mode != CorrectionMode::off) {
    // <u, dualize_l(u)> = c_l <u, dualized>; optax pairs with the unscaled O.
    const CorrectionPairing pairing =
        optax ? CorrectionPairing::orthogonalized : options.correction.pairing;
    // A split atom's u and dualized are this rank's rows: the inner product sums over its owners.
    d.pairing = p.coefficient * correction_pairing(plan.sum_over_rows(i, dot(u, dualized)),
                                                   p.weight.shape(), p.norm, pairing);
  }
  if (options.normuon.enabled && d.direction.rank() == 2)
    d.direction = normuon(d.direction, atom, options.normuon, plan, i);
  // The global correction multiplies every atom's scale later, once all pairings are known.
  double k = 1.0;
  double shape = 1.0;
  // The norm's shape factor (spectral: sqrt(d_out/d_in); 1 for the other built-in norms).
  const double factor = p.norm.rule().shape_factor(p.weight.shape());
  if (options.lr_rule != LrRule::modular)  // the lr rule's factor replaces factor / c_l
    shape = p.coefficient * lr_rule_factor(options.lr_rule, p.weight.shape()) / factor;
  if (optax) {
    // optax (Convention::optax): dualize(u) = sqrt(d_out/d_in) O becomes
    // sqrt(max(1, d_out/d_in)) O (scale_by_shape), i.e. the factor f becomes max(1, f), and
    // adaptive=True multiplies by the unclamped <u, O>.
    if (options.lr_rule == LrRule::modular) shape = std::max(1.0, factor) / factor;
    if (options.correction.mode == CorrectionMode::per_layer) k = d.pairing;
  } else if (options.correction.mode == CorrectionMode::per_layer) {
    k = std::clamp(d.pairing, correction_lo(options.correction.range), 1.0);
  }
  d.scale = k * shape;
  return d;
}

}  // namespace modnorm::detail
