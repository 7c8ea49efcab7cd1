// Compiled instead of dnnl.cpp when oneDNN is not built (MODNORM_DNNL=OFF or not found), like
// src/cuda_stub.cpp: the CPU backend has no convolution of its own, so Conv2D runs im2col and gemm.
#include "cpu/cpu_backend.hpp"

namespace modnorm::detail {

bool CpuBackend::has_conv2d(DType) const {
  return false;
}
void CpuBackend::conv2d(double, const Tensor&, const Tensor&, const ConvWeightStrides&,
                        const WindowGeometry&, Tensor&) {
  not_implemented("conv2d");
}
void CpuBackend::conv2d_backward_data(double, const Tensor&, const Tensor&,
                                      const ConvWeightStrides&, const WindowGeometry&, Tensor&) {
  not_implemented("conv2d_backward_data");
}
void CpuBackend::conv2d_backward_weights(double, const Tensor&, const Tensor&,
                                         const ConvWeightStrides&, const WindowGeometry&, Tensor&) {
  not_implemented("conv2d_backward_weights");
}

}  // namespace modnorm::detail
