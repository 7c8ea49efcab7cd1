// Exact references through Eigen's divide-and-conquer SVD (BDCSVD, which switches to Jacobi
// for small blocks), in double.
#include "cpu/svd.hpp"

#include <Eigen/SVD>
#include <limits>

#include "cpu/cpu_compute.hpp"

namespace modnorm::detail::cpu {

Tensor svd_polar_factor(const Tensor& g) {
  const auto G = matrix<double>(g);
  Eigen::BDCSVD<Eigen::MatrixXd> svd(G, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const Eigen::VectorXd& s = svd.singularValues();
  // Numerical rank at double precision: singular values below this are rounding of exact
  // zeros, and their singular vectors are arbitrary.
  const double cutoff = static_cast<double>(std::max(G.rows(), G.cols())) *
                        std::numeric_limits<double>::epsilon() * (s.size() > 0 ? s(0) : 0.0);
  Eigen::Index rank = 0;
  while (rank < s.size() && s(rank) > cutoff) ++rank;

  Tensor out = Tensor::empty(g.shape(), DType::f64);
  matrix<double>(out).noalias() =
      svd.matrixU().leftCols(rank) * svd.matrixV().leftCols(rank).transpose();
  return out;
}

std::vector<double> singular_values(const Tensor& g) {
  Eigen::BDCSVD<Eigen::MatrixXd> svd(matrix<double>(g));
  const Eigen::VectorXd& s = svd.singularValues();
  return {s.data(), s.data() + s.size()};
}

}  // namespace modnorm::detail::cpu
