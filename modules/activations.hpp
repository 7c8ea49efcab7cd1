#pragma once
/// @file activations.hpp
/// Elementwise bonds (mass 0, no weights). Sensitivities follow modula-systems/modula
/// (bond.py, current JAX version): each is 1-Lipschitz, hence sensitivity 1.

#include "modnorm/module.hpp"

namespace modnorm {

/// max(x, 0); sensitivity 1 (modula's current ReLU; the 2024 paper code used 1/sqrt 2 with a
/// different scaling of the forward map; we keep the plain map).
///
/// Example: auto net = modnorm::Linear(784, 512) >> modnorm::ReLU() >> modnorm::Linear(512, 10);
class MODNORM_API ReLU : public Module {
 public:
  ReLU();
};

/// gelu(x) / g with g = max_x gelu'(x) = Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = erfc(-1)/2 +
/// 1/(e sqrt pi) = 1.128904..., so that the map is exactly 1-Lipschitz: sensitivity 1. (modula
/// divides by the rounded 1.1289, which leaves a slope of 1.0000035.) gelu is the exact
/// erfc form of ops.hpp.
///
/// Example: auto block = modnorm::Linear(64, 64) >> modnorm::GELU();
class MODNORM_API GELU : public Module {
 public:
  GELU();
};

/// |x|; sensitivity 1.
///
/// Example: auto net = modnorm::Linear(8, 8) >> modnorm::Abs();
class MODNORM_API Abs : public Module {
 public:
  Abs();
};

}  // namespace modnorm
