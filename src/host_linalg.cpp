// Dense linear algebra in double on the host (host_linalg.hpp): Eigen's divide-and-conquer SVD
// (BDCSVD, Jacobi for small blocks) and its symmetric eigensolver.
#include "host_linalg.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <limits>

namespace modnorm::detail {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A host copy of the rows x cols matrix starting at element `offset` of `values`.
Matrix to_matrix(const std::vector<double>& values, std::size_t offset, Eigen::Index rows,
                 Eigen::Index cols) {
  return Eigen::Map<const Matrix>(values.data() + offset, rows, cols);
}

Matrix host_matrix(const Tensor& t) {
  return to_matrix(t.to_vector_f64(), 0, t.dim(0), t.dim(1));
}

Tensor to_tensor(const Matrix& m) {
  return Tensor::from_vector_f64(std::vector<double>(m.data(), m.data() + m.size()),
                                 {m.rows(), m.cols()});
}

}  // namespace

Tensor polar_factors(const Tensor& G) {
  const std::vector<double> values = G.to_vector_f64();
  const std::int64_t rows = G.dim(-2), cols = G.dim(-1);
  const auto size = static_cast<std::size_t>(rows * cols);
  std::vector<double> out(values.size());
  for (std::size_t start = 0; start < values.size(); start += size) {
    Eigen::BDCSVD<Matrix> svd(to_matrix(values, start, rows, cols),
                              Eigen::ComputeThinU | Eigen::ComputeThinV);
    if (svd.info() == Eigen::InvalidInput) {  // a NaN or Inf entry: no U, S, V computed
      std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(start), size,
                  std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const Eigen::VectorXd& s = svd.singularValues();
    // Numerical rank at double precision: singular values below this are rounding of exact
    // zeros, and their singular vectors are arbitrary.
    const double cutoff = static_cast<double>(std::max(rows, cols)) *
                          std::numeric_limits<double>::epsilon() * (s.size() > 0 ? s(0) : 0.0);
    Eigen::Index rank = 0;
    while (rank < s.size() && s(rank) > cutoff) ++rank;
    Eigen::Map<Matrix>(out.data() + start, rows, cols).noalias() =
        svd.matrixU().leftCols(rank) * svd.matrixV().leftCols(rank).transpose();
  }
  return Tensor::from_vector_f64(out, G.shape()).to(G.dtype()).to(G.device());
}

std::vector<double> singular_values(const Tensor& g) {
  Eigen::BDCSVD<Matrix> svd(host_matrix(g));
  const Eigen::VectorXd& s = svd.singularValues();
  return {s.data(), s.data() + s.size()};
}

std::vector<double> symmetric_eigenvalues(const Tensor& a) {
  Eigen::SelfAdjointEigenSolver<Matrix> eigen(host_matrix(a), Eigen::EigenvaluesOnly);
  const Eigen::VectorXd& v = eigen.eigenvalues();
  return {v.data(), v.data() + v.size()};
}

RitzStep rayleigh_ritz(const Tensor& S, const Tensor& B) {
  // S = Q L Q^T; T = Q_r L_r^(-1/2) over the eigenvalues kept makes V T orthonormal, and the
  // pencil's largest eigenvalue is that of T^T B T.
  Eigen::SelfAdjointEigenSolver<Matrix> gram(host_matrix(S));
  const Eigen::VectorXd& l = gram.eigenvalues();  // ascending
  const double largest = l.size() > 0 ? l(l.size() - 1) : 0.0;
  if (!(largest > 0.0)) return {0.0, Tensor()};
  Eigen::Index first = 0;
  while (l(first) <= 1e-12 * largest) ++first;
  const Eigen::Index kept = l.size() - first;
  const Matrix T =
      gram.eigenvectors().rightCols(kept) * l.tail(kept).cwiseSqrt().cwiseInverse().asDiagonal();
  const Matrix projected = T.transpose() * host_matrix(B) * T;
  Eigen::SelfAdjointEigenSolver<Matrix> ritz(projected, Eigen::EigenvaluesOnly);
  return {ritz.eigenvalues()(kept - 1), to_tensor(T)};
}

}  // namespace modnorm::detail
