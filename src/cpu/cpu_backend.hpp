#pragma once
// The host backend: Eigen maps over the storage, OpenMP threads through Eigen's GEMM.
// bf16 tensors are computed in f32: see WideOut in cpu_compute.hpp.

#include "backend.hpp"

namespace modnorm::detail {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu; }
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr) noexcept override;
  void copy_from_host(const void* host, void* dst, std::size_t nbytes) override;
  void copy_to_host(const void* src, void* host, std::size_t nbytes) override;
  void copy(const void* src, void* dst, std::size_t nbytes) override;
  void fill(Tensor& out, double value) override;
  void convert(const Tensor& in, Tensor& out) override;
  std::int64_t first_non_i32(const Tensor& x) override;

  void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b,
            double beta, Tensor& out) override;
  double dot(const Tensor& a, const Tensor& b) override;
  void unary(Unary op, const Tensor& x, Tensor& out) override;
  void unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& out) override;
  void tanh(const Tensor& x, Tensor& out) override;
  void tanh_backward(const Tensor& x, const Tensor& dy, Tensor& out) override;
  void binary(Binary op, const Tensor& a, const Tensor& b, Tensor& out) override;
  void axpy(double alpha, const Tensor& x, double beta, Tensor& y) override;
  bool all_finite(const std::vector<Tensor>& xs) override;
  void reduce(Reduce op, const Tensor& x, int axis, Tensor& out) override;
  void transpose(const Tensor& x, Tensor& out) override;
  void permute(const Tensor& x, const std::vector<int>& axes, Tensor& out) override;
  void softmax(const Tensor& x, Tensor& out) override;
  void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& out) override;
  void tril(const Tensor& x, double fill, Tensor& out) override;
  void im2col(const Tensor& x, const WindowGeometry& g, Tensor& out) override;
  void col2im(const Tensor& cols, const WindowGeometry& g, Tensor& out) override;
#if MODNORM_WITH_DNNL
  // The convolutions on oneDNN (dnnl.cpp); without it, Backend's (none: the conv2d ops run
  // im2col and gemm).
  bool has_conv2d(DType dtype) const override;
  void conv2d(double alpha, const Tensor& x, const Tensor& w, const ConvWeightStrides& layout,
              const WindowGeometry& g, Tensor& y) override;
  void conv2d_backward_data(double alpha, const Tensor& dy, const Tensor& w,
                            const ConvWeightStrides& layout, const WindowGeometry& g,
                            Tensor& dx) override;
  void conv2d_backward_weights(double alpha, const Tensor& x, const Tensor& dy,
                               const ConvWeightStrides& layout, const WindowGeometry& g,
                               Tensor& dw) override;
#endif
  std::int64_t gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& out) override;
  std::int64_t scatter_add(Tensor& dst, const Tensor& ids, bool rows, const Tensor& src) override;
  std::int64_t cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                             double& loss) override;
  void newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                     bool bf16_iterates) override;
};

}  // namespace modnorm::detail
