#pragma once
// Helpers of the dualize and orthogonalize suites: double-precision Eigen references, inputs
// with a prescribed spectrum, the fixed hard cases, and the singular-value bands
// that dualize.hpp documents for each Newton-Schulz method.

#include <Eigen/Dense>
#include <cmath>
#include <string>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/ops.hpp"
#include "support.hpp"

namespace modnorm::test {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Any tensor's elements as a rows x cols double matrix (a copy).
inline MatD to_eigen(const Tensor& t) {
  const std::vector<double> v = t.to_vector_f64();
  return Eigen::Map<const MatD>(v.data(), t.dim(0), t.dim(1));
}

/// A new CPU tensor of `dtype` holding m.
inline Tensor from_eigen(const MatD& m, DType dtype = DType::f32) {
  return Tensor::from_vector_f64(std::vector<double>(m.data(), m.data() + m.size()),
                                 {m.rows(), m.cols()})
      .to(dtype);
}

/// n x r with orthonormal columns, from the QR factorisation of a Gaussian matrix.
inline MatD random_orthonormal(Eigen::Index n, Eigen::Index r, Generator& gen) {
  MatD a(n, r);
  for (Eigen::Index k = 0; k < a.size(); ++k) a.data()[k] = gen.normal();
  const Eigen::HouseholderQR<MatD> qr(a);
  return qr.householderQ() * MatD::Identity(n, r);
}

/// Singular values, largest first.
inline Eigen::VectorXd singular_values(const MatD& m) {
  return Eigen::JacobiSVD<MatD>(m).singularValues();
}

/// sqrt(d_out/d_in) U V^T from Eigen's JacobiSVD (the reference for `spectral`).
inline MatD jacobi_dualize_spectral(const MatD& g) {
  Eigen::JacobiSVD<MatD> svd(g, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return std::sqrt(static_cast<double>(g.rows()) / static_cast<double>(g.cols())) *
         (svd.matrixU() * svd.matrixV().transpose());
}

/// A matrix U diag(s) V^T whose singular vectors are kept for projections.
struct Spectral {
  MatD u, v;
  Eigen::VectorXd s;
  MatD matrix() const { return u * s.asDiagonal() * v.transpose(); }
};

inline Spectral with_spectrum(Eigen::Index rows, Eigen::Index cols, const Eigen::VectorXd& s,
                              Generator& gen) {
  return {random_orthonormal(rows, s.size(), gen), random_orthonormal(cols, s.size(), gen), s};
}

/// s_i = 10^(-log10_condition * i / (r - 1)), i = 0..r-1.
inline Eigen::VectorXd log_spaced(Eigen::Index r, double log10_condition) {
  Eigen::VectorXd s(r);
  for (Eigen::Index i = 0; i < r; ++i)
    s(i) = std::pow(10.0, -log10_condition * static_cast<double>(i) /
                              static_cast<double>(std::max<Eigen::Index>(r - 1, 1)));
  return s;
}

inline MatD gaussian(Eigen::Index rows, Eigen::Index cols, Generator& gen) {
  MatD a(rows, cols);
  for (Eigen::Index k = 0; k < a.size(); ++k) a.data()[k] = gen.normal();
  return a;
}

/// The fixed hard inputs (and a plain random one), as double matrices.
struct HardCase {
  std::string name;
  MatD g;
};

inline std::vector<HardCase> hard_cases(Generator& gen) {
  std::vector<HardCase> cases;
  cases.push_back({"random 33x57", gaussian(33, 57, gen)});
  cases.push_back({"random 57x33", gaussian(57, 33, gen)});
  cases.push_back({"rank-deficient 48x40 (rank 5)", gaussian(48, 5, gen) * gaussian(5, 40, gen)});
  cases.push_back({"condition 1e6 40x60", with_spectrum(40, 60, log_spaced(40, 6), gen).matrix()});
  cases.push_back({"tiny values 1e-30 24x36", 1e-30 * gaussian(24, 36, gen)});
  cases.push_back({"1xN 1x37", gaussian(1, 37, gen)});
  cases.push_back({"Nx1 37x1", gaussian(37, 1, gen)});
  cases.push_back({"1x1", gaussian(1, 1, gen)});
  cases.push_back({"very tall 4096x8", gaussian(4096, 8, gen)});
  cases.push_back({"very wide 8x4096", gaussian(8, 4096, gen)});
  return cases;
}

/// The band of dualize.hpp (OrthogonalizeMethod): output singular values of inputs with
/// x = sigma / ||G||_F >= threshold lie in [lo, hi]; every output singular value is <= max.
struct Band {
  double lo, hi, max;
};
constexpr double kBandThreshold = 1e-2;

inline Band documented_band(OrthogonalizeMethod method, DType compute) {
  const bool bf16 = compute == DType::bf16;
  switch (method) {
    case OrthogonalizeMethod::quintic:
      return bf16 ? Band{0.66, 1.16, 1.23} : Band{0.68, 1.14, 1.21};
    case OrthogonalizeMethod::polar_express:
      return bf16 ? Band{0.85, 1.15, 1.15} : Band{0.87, 1.13, 1.13};
    case OrthogonalizeMethod::seed_tuned:
      return bf16 ? Band{0.97, 1.13, 1.13} : Band{0.99, 1.11, 1.11};
    case OrthogonalizeMethod::modula:
      return bf16 ? Band{0.98, 1.02, 1.02} : Band{0.995, 1.0, 1.0};
    case OrthogonalizeMethod::cubic:
      return bf16 ? Band{0.98, 1.02, 1.02} : Band{0.9999, 1.0001, 1.0001};
    default:
      return {1.0, 1.0, 1.0};
  }
}

inline const std::vector<OrthogonalizeMethod>& newton_schulz_methods() {
  static const std::vector<OrthogonalizeMethod> methods = {
      OrthogonalizeMethod::quintic, OrthogonalizeMethod::polar_express,
      OrthogonalizeMethod::seed_tuned, OrthogonalizeMethod::modula, OrthogonalizeMethod::cubic};
  return methods;
}

inline OrthogonalizeOptions with_method(OrthogonalizeMethod method, DType compute = DType::f32) {
  OrthogonalizeOptions o;
  o.method = method;
  o.compute_dtype = compute;
  return o;
}

}  // namespace modnorm::test
