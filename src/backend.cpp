// Backend selection and the "not implemented on this device" defaults.
#include "backend.hpp"

#include "cpu/cpu_backend.hpp"

namespace modnorm::detail {

Storage::~Storage() {
  if (ptr != nullptr) backend(device, "free").deallocate(ptr);
}

BroadcastStrides broadcast_strides(const Shape& a, const Shape& b, const Shape& out) {
  BroadcastStrides s{};
  // Walk the axes from the last (trailing alignment); row-major strides of each operand grow
  // with its own dimensions, and an axis of size 1 (or one the operand lacks) gets stride 0.
  std::int64_t a_step = 1, b_step = 1;
  const int a_rank = static_cast<int>(a.size()), b_rank = static_cast<int>(b.size());
  const int out_rank = static_cast<int>(out.size());
  for (int k = 0; k < kBroadcastRank; ++k) {
    const int axis = kBroadcastRank - 1 - k;  // padded axis
    s.dims[axis] = k < out_rank ? out[out_rank - 1 - k] : 1;
    const std::int64_t da = k < a_rank ? a[a_rank - 1 - k] : 1;
    const std::int64_t db = k < b_rank ? b[b_rank - 1 - k] : 1;
    s.a_stride[axis] = da == 1 ? 0 : a_step;
    s.b_stride[axis] = db == 1 ? 0 : b_step;
    a_step *= da;
    b_step *= db;
  }
  return s;
}

PermuteStrides permute_strides(const Shape& x, const std::vector<int>& axes) {
  const int rank = static_cast<int>(x.size());
  std::int64_t x_strides[kBroadcastRank] = {};
  std::int64_t step = 1;
  for (int k = rank - 1; k >= 0; --k) {  // row-major strides of x
    x_strides[k] = step;
    step *= x[k];
  }
  // Output axis i (padded axis kBroadcastRank - rank + i) walks x's axis axes[i].
  PermuteStrides s{};
  for (int k = 0; k < kBroadcastRank; ++k) s.dims[k] = 1;
  for (int i = 0; i < rank; ++i) {
    const int padded = kBroadcastRank - rank + i;
    s.dims[padded] = x[axes[i]];
    s.x_stride[padded] = x_strides[axes[i]];
  }
  return s;
}

WindowGeometry window_geometry(const Shape& image, std::int64_t kernel, std::int64_t stride,
                               std::int64_t padding) {
  return {image[0],
          image[1],
          image[2],
          image[3],
          kernel,
          stride,
          padding,
          (image[1] + 2 * padding - kernel) / stride + 1,
          (image[2] + 2 * padding - kernel) / stride + 1};
}

void Backend::not_implemented(const char* op) const {
  throw Error(std::string("[") + op + "] not implemented on the " + to_string(device()) +
              " backend yet");
}

void Backend::fill(Tensor&, double) {
  not_implemented("fill");
}
void Backend::convert(const Tensor&, Tensor&) {
  not_implemented("convert");
}
std::int64_t Backend::first_non_i32(const Tensor&) {
  not_implemented("first_non_i32");
}
void Backend::gemm(double, const Tensor&, bool, const Tensor&, bool, double, Tensor&) {
  not_implemented("gemm");
}
double Backend::dot(const Tensor&, const Tensor&) {
  not_implemented("dot");
}
void Backend::unary(Unary, const Tensor&, Tensor&) {
  not_implemented("unary");
}
void Backend::unary_backward(Unary, const Tensor&, const Tensor&, Tensor&) {
  not_implemented("unary_backward");
}
void Backend::tanh(const Tensor&, Tensor&) {
  not_implemented("tanh");
}
void Backend::tanh_backward(const Tensor&, const Tensor&, Tensor&) {
  not_implemented("tanh_backward");
}
void Backend::binary(Binary, const Tensor&, const Tensor&, Tensor&) {
  not_implemented("binary");
}
void Backend::axpy(double, const Tensor&, double, Tensor&) {
  not_implemented("axpy");
}
bool Backend::all_finite(const std::vector<Tensor>&) {
  not_implemented("all_finite");
}
void Backend::reduce(Reduce, const Tensor&, int, Tensor&) {
  not_implemented("reduce");
}
void Backend::transpose(const Tensor&, Tensor&) {
  not_implemented("transpose");
}
void Backend::softmax(const Tensor&, Tensor&) {
  not_implemented("softmax");
}
void Backend::softmax_backward(const Tensor&, const Tensor&, Tensor&) {
  not_implemented("softmax_backward");
}
void Backend::tril(const Tensor&, double, Tensor&) {
  not_implemented("tril");
}
void Backend::permute(const Tensor&, const std::vector<int>&, Tensor&) {
  not_implemented("permute");
}
void Backend::im2col(const Tensor&, const WindowGeometry&, Tensor&) {
  not_implemented("im2col");
}
void Backend::col2im(const Tensor&, const WindowGeometry&, Tensor&) {
  not_implemented("col2im");
}
bool Backend::has_conv2d(DType) const {
  return false;
}
void Backend::conv2d(double, const Tensor&, const Tensor&, const ConvWeightStrides&,
                     const WindowGeometry&, Tensor&) {
  not_implemented("conv2d");
}
void Backend::conv2d_backward_data(double, const Tensor&, const Tensor&, const ConvWeightStrides&,
                                   const WindowGeometry&, Tensor&) {
  not_implemented("conv2d_backward_data");
}
void Backend::conv2d_backward_weights(double, const Tensor&, const Tensor&,
                                      const ConvWeightStrides&, const WindowGeometry&, Tensor&) {
  not_implemented("conv2d_backward_weights");
}
std::int64_t Backend::gather(const Tensor&, const Tensor&, bool, Tensor&) {
  not_implemented("gather");
}
std::int64_t Backend::scatter_add(Tensor&, const Tensor&, bool, const Tensor&) {
  not_implemented("scatter_add");
}
std::int64_t Backend::cross_entropy(const Tensor&, const Tensor&, Tensor&, double&) {
  not_implemented("cross_entropy");
}
void Backend::newton_schulz(Tensor&, const std::vector<std::array<double, 3>>&, bool) {
  not_implemented("newton_schulz");
}

Backend& cpu_backend() {
  static CpuBackend instance;
  return instance;
}

Backend& backend(Device device, const char* op) {
  return device == Device::cpu ? cpu_backend() : cuda_backend(op);
}

}  // namespace modnorm::detail
