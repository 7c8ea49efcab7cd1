// Bridges to Eigen (zero-copy maps) and xtensor (copies), both directions.
#include <boost/test/unit_test.hpp>
#include <xtensor/xrandom.hpp>

#include "modnorm/eigen.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/xtensor.hpp"
#include "support.hpp"

using namespace modnorm;

BOOST_AUTO_TEST_SUITE(bridges)

BOOST_AUTO_TEST_CASE(eigen_map_is_zero_copy_and_row_major) {
  auto t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  auto m = as_eigen<float>(t);
  BOOST_TEST(m.rows() == 2);
  BOOST_TEST(m.cols() == 3);
  BOOST_TEST(m(1, 0) == 4.0f);
  m(0, 2) = 42;
  BOOST_TEST(t.to_vector()[2] == 42.0f);
  const Tensor& ct = t;
  BOOST_TEST(as_eigen<float>(ct).sum() == 1 + 2 + 42 + 4 + 5 + 6);
  BOOST_CHECK_THROW(as_eigen<double>(t), Error);
  BOOST_CHECK_THROW(as_eigen<float>(Tensor::zeros({3})), Error);
}

BOOST_AUTO_TEST_CASE(from_eigen_copies_any_storage_order) {
  MODNORM_FRESH_GENERATOR(gen);
  Eigen::MatrixXd col_major = Eigen::MatrixXd::Zero(4, 3);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) col_major(i, j) = gen.normal();
  auto t = from_eigen(col_major);
  BOOST_TEST(t.dtype() == DType::f64);
  BOOST_TEST((t.shape() == Shape{4, 3}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) BOOST_TEST(as_eigen<double>(t)(i, j) == col_major(i, j));
  // A product through modnorm equals Eigen's.
  Eigen::MatrixXd other = Eigen::MatrixXd::Random(3, 5);
  auto prod = matmul(t, from_eigen(other));
  BOOST_TEST((as_eigen<double>(prod) - col_major * other).cwiseAbs().maxCoeff() < 1e-13);
}

BOOST_AUTO_TEST_CASE(xtensor_round_trip_keeps_shape_and_values) {
  MODNORM_FRESH_GENERATOR(gen);
  for (const auto& shape : std::vector<Shape>{{}, {5}, {2, 3}, {2, 3, 4}, {1, 2, 2, 3}}) {
    auto t = Tensor::randn(shape, gen);
    xt::xarray<float> a = to_xarray(t);
    BOOST_TEST(a.dimension() == shape.size());
    for (std::size_t d = 0; d < shape.size(); ++d)
      BOOST_TEST(a.shape()[d] == static_cast<std::size_t>(shape[d]));
    auto back = from_xarray(a);
    BOOST_TEST((back.shape() == shape));
    BOOST_TEST((back.to_vector() == t.to_vector()));
  }
  xt::xarray<double> m = {{1.0, 2.0}, {3.0, 4.0}};
  auto t = from_xarray(m);
  BOOST_TEST(t.dtype() == DType::f64);
  BOOST_TEST(t.to_vector_f64()[2] == 3.0);
  // An expression (transposed view) is evaluated in row-major order.
  auto tt = from_xarray(xt::transpose(m));
  BOOST_TEST((tt.to_vector_f64() == std::vector<double>{1, 3, 2, 4}));
  xt::xarray<double> back = to_xarray<double>(t);
  BOOST_TEST(back(1, 0) == 3.0);
  BOOST_CHECK_THROW(from_xarray(xt::xarray<float>::from_shape({1, 1, 1, 1, 2})), Error);
}

BOOST_AUTO_TEST_SUITE_END()
