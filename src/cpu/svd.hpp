#pragma once
// Exact references through Eigen's SVD, on host f64 matrices (dualize.hpp: the `svd`
// orthogonalize method and exact spectral norms). They are host-only on purpose: a reference
// is computed in double on the CPU whatever device the caller's tensors live on.

#include <vector>

#include "modnorm/tensor.hpp"

namespace modnorm::detail::cpu {

/// The polar factor U_r V_r^T of a host f64 matrix G = U S V^T, keeping the r singular values
/// above max(rows, cols) * eps(double) * sigma_max (exact zeros stay zero, as for
/// Newton-Schulz). Returns a new host f64 tensor of G's shape.
Tensor svd_polar_factor(const Tensor& g);

/// Singular values of a host f64 matrix, largest first.
std::vector<double> singular_values(const Tensor& g);

}  // namespace modnorm::detail::cpu
