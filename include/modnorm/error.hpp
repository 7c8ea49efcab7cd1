#pragma once
/// @file error.hpp
/// The one exception type of modnorm.

#include <stdexcept>
#include <string>

#include "modnorm/export.hpp"

namespace modnorm {

/// Thrown for every bad input and every failed backend call. The message starts with the
/// operation in brackets and quotes what was received, e.g.
/// `[matmul] inner dimensions differ: [3x4] x [5x2]`.
///
/// Example:
///   try { matmul(a, b); } catch (const modnorm::Error& e) { std::cerr << e.what(); }
class MODNORM_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws Error("[op] what"): the one way modnorm, and a module written outside it, raises an
/// input error (the operation first, then what was received).
///
/// Example: modnorm::fail("Square", "size must be >= 1, got " + std::to_string(n));
[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw Error(std::string("[") + op + "] " + what);
}

}  // namespace modnorm
