#include "modnorm/version.hpp"

#include "cpu/sgemm.hpp"

namespace modnorm {

const char* version() {
  return MODNORM_VERSION_STRING;
}

const char* cpu_gemm() {
  return detail::cpu::gemm_kernels().provider.c_str();
}

const char* cpu_gemm_kernels() {
  return detail::cpu::gemm_kernels().kernels.c_str();
}

const char* cpu_conv() {
  return MODNORM_WITH_DNNL ? "oneDNN" : "im2col";
}

}  // namespace modnorm
