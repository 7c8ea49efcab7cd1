#pragma once
/// @file version.hpp

#include "modnorm/export.hpp"

namespace modnorm {

/// The library's version, "MAJOR.MINOR.PATCH".
MODNORM_API const char* version();

}  // namespace modnorm
