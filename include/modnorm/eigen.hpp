#pragma once
/// @file eigen.hpp
/// Opt-in bridge to Eigen (needs Eigen 3.4 headers on the include path): zero-copy maps over
/// CPU tensors and copies from Eigen matrices.

#include <Eigen/Core>

#include "modnorm/tensor.hpp"

namespace modnorm {

/// A row-major Eigen matrix type over T (float for f32 tensors, double for f64).
template <class T>
using EigenRowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Views a CPU matrix tensor as an Eigen matrix without copying; writes go to the tensor.
/// Throws modnorm::Error if t is not rank 2, not on the CPU, or T does not match its dtype.
///
/// Example:
///   auto w = modnorm::Tensor::zeros({3, 4});
///   modnorm::as_eigen<float>(w)(0, 1) = 2.0f;   // w now holds 2 at row 0, column 1
template <class T = float>
Eigen::Map<EigenRowMajor<T>> as_eigen(Tensor& t) {
  if (t.rank() != 2) throw Error("[as_eigen] expects a matrix (rank 2), got " + t.describe());
  return Eigen::Map<EigenRowMajor<T>>(t.data<T>(), t.dim(0), t.dim(1));
}

/// Read-only view of a CPU matrix tensor (see the non-const overload).
template <class T = float>
Eigen::Map<const EigenRowMajor<T>> as_eigen(const Tensor& t) {
  if (t.rank() != 2) throw Error("[as_eigen] expects a matrix (rank 2), got " + t.describe());
  return Eigen::Map<const EigenRowMajor<T>>(t.data<T>(), t.dim(0), t.dim(1));
}

/// Copies an Eigen matrix (any storage order) into a new CPU tensor: f32 for float scalars,
/// f64 for double.
///
/// Example: auto t = modnorm::from_eigen(Eigen::MatrixXf::Identity(3, 3));
template <class Derived>
Tensor from_eigen(const Eigen::MatrixBase<Derived>& m) {
  using T = typename Derived::Scalar;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "from_eigen: scalar type must be float or double");
  const EigenRowMajor<T> row_major = m;
  std::vector<T> values(row_major.data(), row_major.data() + row_major.size());
  const Shape shape{row_major.rows(), row_major.cols()};
  if constexpr (std::is_same_v<T, float>)
    return Tensor::from_vector(std::move(values), shape);
  else
    return Tensor::from_vector_f64(values, shape);
}

}  // namespace modnorm
