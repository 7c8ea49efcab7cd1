#pragma once
/// @file activations.hpp
/// Elementwise bonds (mass 0, no weights). Sensitivities follow modula-systems/modula
/// (bond.py, current JAX version) where it has the bond: each is 1-Lipschitz, hence sensitivity
/// 1. SquaredReLU and SoftCap, which modula lacks, state and argue theirs.

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

/// relu(x)^2 = max(x, 0)^2, the MLP activation of modded-nanogpt and of So et al. 2021
/// ("Primer": squared ReLU). Sensitivity 2: the Jacobian is diag(2 relu(x)), so at the
/// well-normed inputs of the composition (entries |x_i| <= 1, e.g. a unit-RMS input of a
/// unit-norm Linear) ||J dx|| <= 2 ||dx|| in the RMS norm (and in every l_p norm), with
/// equality where every x_i = 1. Unlike ReLU and GELU the slope is not bounded on the whole
/// line: the map is homogeneous of degree 2, so beyond |x_i| = 1 it amplifies more (the bound
/// is the modular norm's, on its domain). backward: dx = 2 relu(x) dy.
///
/// Example: auto mlp = modnorm::Linear(64, 256) >> modnorm::SquaredReLU() >>
///                     modnorm::Linear(256, 64);
class MODNORM_API SquaredReLU : public Module {
 public:
  SquaredReLU();
};

/// The logit soft cap cap * tanh(x / cap) (Gemma 2; modded-nanogpt's head, cap 15 in its
/// current record, 30 earlier): ~x for |x| << cap, never beyond +-cap. Sensitivity 1 on the
/// whole line: the slope tanh'(x / cap) = 1 / cosh(x / cap)^2 is in (0, 1], 1 at x = 0.
/// backward: dx = dy / cosh(x / cap)^2 (ops.hpp tanh_backward).
///
/// Throws modnorm::Error when cap is not a finite number > 0.
///
/// Example: auto head = modnorm::Linear(128, 65) >> modnorm::SoftCap(15.0);
class MODNORM_API SoftCap : public Module {
 public:
  explicit SoftCap(double cap);
};

/// |x|; sensitivity 1.
///
/// Example: auto net = modnorm::Linear(8, 8) >> modnorm::Abs();
class MODNORM_API Abs : public Module {
 public:
  Abs();
};

}  // namespace modnorm
