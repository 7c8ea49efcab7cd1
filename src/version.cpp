#include "modnorm/version.hpp"

namespace modnorm {

const char* version() {
  return MODNORM_VERSION_STRING;
}

const char* cpu_gemm() {
  return MODNORM_CPU_GEMM;
}

const char* cpu_conv() {
  return MODNORM_WITH_DNNL ? "oneDNN" : "im2col";
}

}  // namespace modnorm
