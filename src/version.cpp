#include "modnorm/version.hpp"

namespace modnorm {

const char* version() {
  return MODNORM_VERSION_STRING;
}

}  // namespace modnorm
