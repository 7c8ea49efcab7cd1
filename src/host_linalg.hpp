#pragma once
// Dense linear algebra in double on the host, through Eigen: the exact references (the polar
// factor and singular values by SVD) and the small k x k problems of the iterative methods
// (Rayleigh-Ritz for spectral_norm, the Gram eigenvalues of the nuclear norm). The one place
// device-free code computes on the host: whatever the device of a tensor passed in, it is
// copied to the host in double here, and results go back to the caller's device and dtype.

#include <vector>

#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// The polar factor U_r V_r^T of a matrix G = U S V^T, or of each matrix of a batch
/// [batch, rows, cols], keeping the r singular values above max(rows, cols) * eps(double) *
/// sigma_max (exact zeros stay zero, as for Newton-Schulz). Same shape, dtype and device as G.
/// A matrix with a NaN or Inf entry gives all NaN (Eigen refuses it), as Newton-Schulz would.
Tensor polar_factors(const Tensor& G);

/// Singular values of a matrix (any device or dtype), largest first, in double.
std::vector<double> singular_values(const Tensor& g);

/// Eigenvalues of a symmetric matrix (any device or dtype; its lower triangle is read),
/// ascending, in double.
std::vector<double> symmetric_eigenvalues(const Tensor& a);

/// One Rayleigh-Ritz step of orthogonal iteration for W^T W on a block V (n x k): given
/// S = V^T V and B = (W V)^T (W V) (k x k), the largest eigenvalue of the pencil B x = lambda S x
/// (the largest ||W v||^2 / ||v||^2 over v in span(V), so never above sigma_max(W)^2 but for
/// rounding), and a transform T (k x k', f64 on the host) with V T orthonormal, where k' <= k
/// drops directions of S below 1e-12 of its largest eigenvalue (V's columns became parallel).
struct RitzStep {
  double top;    ///< lambda_max of the pencil (0 when V is zero)
  Tensor basis;  ///< T: k x k', k' >= 1 unless V is zero
};
RitzStep rayleigh_ritz(const Tensor& S, const Tensor& B);

}  // namespace modnorm::detail
