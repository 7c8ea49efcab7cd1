#pragma once
// The one way the library raises an input error, `[op] what` (the operation first, as MLX's
// ops.cpp does): modnorm::fail (error.hpp), also under the name detail::fail that the
// library's sources use.

#include "modnorm/error.hpp"

namespace modnorm::detail {

using modnorm::fail;

}  // namespace modnorm::detail
