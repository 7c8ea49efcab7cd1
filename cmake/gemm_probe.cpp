// Configure-time probe of MODNORM_GEMM=AUTO (cmake/gemm.cmake): built with src/cpu/sgemm.cpp for
// OpenBLAS and run on the build machine, it prints 1 when OpenBLAS runs generic kernels on this
// CPU (one it does not know), 0 otherwise.
#include <iostream>

#include "cpu/sgemm.hpp"

int main() {
  std::cout << (modnorm::detail::cpu::gemm_kernels().generic ? 1 : 0) << "\n";
}
