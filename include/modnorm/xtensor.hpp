#pragma once
/// @file xtensor.hpp
/// Opt-in bridge to xtensor (needs xtensor's headers): copies between Tensor and xt::xarray.
/// Not part of <modnorm/modnorm.hpp>, so notebooks and CPU-only users never parse xtensor.

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "modnorm/tensor.hpp"

namespace modnorm {

/// Copies a tensor (any device, any dtype) into an xt::xarray<T>, T = float or double.
///
/// Example: xt::xarray<float> a = modnorm::to_xarray(t);   // same shape as t
template <class T = float>
xt::xarray<T> to_xarray(const Tensor& t) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "to_xarray: element type must be float or double");
  std::vector<T> values;
  if constexpr (std::is_same_v<T, float>)
    values = t.to_vector();
  else
    values = t.to_vector_f64();
  std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
  xt::xarray<T> out = xt::adapt(values, shape);
  return out;
}

/// Copies an xtensor expression into a new CPU tensor: f32 for float, f64 for double
/// elements. Throws modnorm::Error for rank > 4.
///
/// Example: auto t = modnorm::from_xarray(xt::xarray<float>{{1, 2}, {3, 4}});
template <class E>
Tensor from_xarray(const xt::xexpression<E>& expression) {
  using T = typename E::value_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "from_xarray: element type must be float or double");
  const xt::xarray<T, xt::layout_type::row_major> a = expression.derived_cast();
  std::vector<T> values(a.begin(), a.end());
  Shape shape(a.shape().begin(), a.shape().end());
  if constexpr (std::is_same_v<T, float>)
    return Tensor::from_vector(std::move(values), std::move(shape));
  else
    return Tensor::from_vector_f64(values, std::move(shape));
}

}  // namespace modnorm
