// NorMuon's neuron-wise (row-wise) normalisation of the dualized update; the formulas and the
// choice between the paper's and the released code's final scaling are in optim.hpp
// (NorMuonOptions). Li, Liu, Liang, Chen, Zhao 2025, arXiv:2510.05491, Algorithm 1.
#include <cmath>

#include "modnorm/ops.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm::detail {

Tensor normuon(const Tensor& O, AtomState& atom, const NorMuonOptions& options,
               const StepPlan& plan, std::size_t i) {
  Tensor& row_second_moment = atom.row_second_moment;
  const std::int64_t rows = O.dim(0);
  // v <- beta2 * v + (1 - beta2) * mean_j O_ij^2, one entry per row (neuron), into a new tensor
  // (as the momentum: the step keeps it only once it is checked).
  const Tensor row_mean = mean(mul(O, O), -1).reshape({rows, 1});
  row_second_moment = row_second_moment.clone();
  axpy(1.0 - options.beta2, row_mean, row_second_moment, options.beta2);
  // O' = O / (sqrt(v) + eps), broadcast [rows x cols] / [rows x 1].
  Tensor normalized =
      div(O, add(sqrt(row_second_moment), scalar_like(options.eps, row_second_moment)));
  // Rescale so that ||O'||_F = ||O||_F (normuon.py); a zero O stays zero. O may be this rank's
  // rows of a split atom: the norms are over every owner's.
  const double before = plan.norm_over_rows(i, frobenius_norm(O));
  const double after = plan.norm_over_rows(i, frobenius_norm(normalized));
  if (after == 0.0) return normalized;
  return scale(normalized, before / after);
}

}  // namespace modnorm::detail
