#pragma once
/// @file shape.hpp
/// Bonds that reshape or reduce (mass 0, sensitivity 1): Flatten, Unflatten and Mean.

#include "modnorm/module.hpp"

namespace modnorm {

/// [B x d1 x ... x dk] -> [B x (d1 * ... * dk)] (a rank-1 input [B] becomes [B x 1]).
/// Sensitivity 1: the entries, hence the RMS norm, are unchanged.
///
/// Example: auto net = modnorm::Embed(100, 8) >> modnorm::Flatten() >> modnorm::Linear(32, 10);
class MODNORM_API Flatten : public Module {
 public:
  Flatten();
};

/// The inverse of Flatten: [B x prod(shape)] -> [B x shape...] (PyTorch's nn.Unflatten(1,
/// shape)), e.g. Fashion-MNIST rows [B x 784] -> NHWC images [B x 28 x 28 x 1]. Sensitivity 1:
/// the entries, hence the RMS norm, are unchanged.
/// Throws modnorm::Error on an empty shape, a shape of rank > 3 or a dimension < 1
/// (constructor), or an input that is not [B x prod(shape)] (forward), naming the module.
///
/// Example: auto net = modnorm::Unflatten({28, 28, 1}) >> modnorm::Conv2D(1, 16, 3, 1, 1);
class MODNORM_API Unflatten : public Module {
 public:
  explicit Unflatten(Shape shape);
};

/// The mean over `axis` (negative counts from the end; the axis is removed).
/// Sensitivity 1: ||mean_t x_t||_RMS <= ||x||_RMS by Jensen's inequality.
/// Throws modnorm::Error in forward if `axis` is out of range for the input, naming the module.
///
/// Example: auto pool = modnorm::Mean(1);   // [B x T x d] -> [B x d]
class MODNORM_API Mean : public Module {
 public:
  explicit Mean(int axis);
};

}  // namespace modnorm
