#pragma once
// Checks on a module tree's parameters shared by the module core (src/module.cpp) and the
// optimizer (src/optim/): errors name the parameter by its dotted path.

#include <cmath>
#include <string>

#include "modnorm/error.hpp"
#include "modnorm/module.hpp"

namespace modnorm::detail {

/// Runs `body`, prefixing any modnorm::Error with the parameter it concerns:
/// `[op] parameter '0.weight': <the inner message>`.
template <typename Body>
auto for_parameter(const char* op, const std::string& name, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error& e) {
    fail(op, "parameter '" + name + "': " + e.what());
  }
}

/// The atom is frozen: zero mass (or under a weightless compound), so it is not in the max of
/// the modular norm (c_l = inf) and its dual step is zero.
inline bool frozen(const Parameter& p) {
  return std::isinf(p.coefficient);
}

/// Throws unless a non-frozen atom has a positive coefficient: c_l = 0 (a module after it has
/// sensitivity 0) makes its dual step dualize_l(g_l) / c_l unbounded.
inline void check_coefficient(const char* op, const Parameter& p) {
  if (!frozen(p) && !(p.coefficient > 0.0))
    fail(op, "parameter '" + p.name + "' has coefficient " + std::to_string(p.coefficient) +
                 " (a module after it has sensitivity 0), so its dual step is unbounded");
}

}  // namespace modnorm::detail
