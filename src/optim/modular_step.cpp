// The modular step of one atom (DESIGN.md 4-5; Large et al. 2024): the momentum dualized in
// the atom's own norm, optionally NorMuon-normalised and corrected by its clamped dual norm,
// divided by the atom's coefficient c_l in the tree's modular norm.
#include <algorithm>
#include <cmath>

#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Direction modular_direction(AtomState& atom, const Tensor& u, double coefficient,
                            const OptimizerOptions& options) {
  DualizeOptions dualize_options;
  dualize_options.orthogonalize = options.orthogonalize;
  Direction d;
  d.direction = dualize(u, atom.norm, dualize_options);
  // The pairing with the plain duality map is u's dual norm in the atom's norm (DESIGN.md 3).
  if (options.correction.mode != CorrectionMode::off) d.pairing = dot(u, d.direction);
  if (options.normuon.enabled && d.direction.rank() == 2)
    d.direction = normuon(d.direction, atom.row_second_moment, options.normuon);
  // dualize_M(u)_l = dualize_l(u_l) / c_l (module.hpp); the global correction multiplies
  // every atom's scale later, once all pairings are known.
  double k = 1.0;
  double shape = 1.0;
  if (options.convention == Convention::optax) {
    // optax (Convention::optax): dualize(u) = sqrt(d_out/d_in) O becomes
    // sqrt(max(1, d_out/d_in)) O (scale_by_shape), and adaptive=True multiplies by the
    // unclamped <u, O> = <u, dualize(u)> / sqrt(d_out/d_in).
    if (atom.norm == Norm::spectral) {
      const double ratio = static_cast<double>(u.dim(0)) / static_cast<double>(u.dim(1));
      shape = std::sqrt(std::max(1.0, ratio)) / std::sqrt(ratio);
      d.pairing /= std::sqrt(ratio);
    }
    if (options.correction.mode == CorrectionMode::per_layer) k = d.pairing;
  } else if (options.correction.mode == CorrectionMode::per_layer) {
    k = std::clamp(d.pairing, correction_lo(options.correction.range), 1.0);
  }
  d.scale = k * shape / coefficient;
  return d;
}

}  // namespace modnorm::detail
