#pragma once
// The one way the library raises an input error: `[op] what` (the operation first, as MLX's
// ops.cpp does).

#include <string>

#include "modnorm/error.hpp"

namespace modnorm::detail {

[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw Error(std::string("[") + op + "] " + what);
}

}  // namespace modnorm::detail
