// Compiled instead of src/cuda/ when the CUDA backend is not built (MODNORM_CUDA=OFF or no
// nvcc), like MLX's no_cuda.cpp: every CUDA entry throws a clear modnorm::Error, nothing fails
// to link.
#include "backend.hpp"

namespace modnorm::detail {

Backend& cuda_backend(const char* op) {
  throw Error(std::string("[") + op +
              "] modnorm was built without the CUDA backend (configure with MODNORM_CUDA=ON "
              "and nvcc on PATH)");
}

int cuda_device_count() {
  return 0;
}

}  // namespace modnorm::detail
