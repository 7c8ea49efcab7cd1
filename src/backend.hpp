#pragma once
// The primitives every device implements (MLX-style backends). Public functions in ops.cpp
// check their inputs once and then call exactly one of these on backend(device); kernels trust
// their inputs. A primitive a backend does not have yet throws a clear modnorm::Error (never a
// silent fallback to another device).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "modnorm/tensor.hpp"

namespace modnorm::detail {

/// How a broadcasting binary op walks its operands (NumPy rules, checked in ops.cpp): the
/// output shape padded on the left to rank kBroadcastRank, and per padded axis the element
/// stride of a and of b, 0 where that operand is broadcast (size 1 or a missing leading axis).
/// out[i0, i1, i2, i3] = a[sum_k i_k a_stride[k]] op b[sum_k i_k b_stride[k]]. Plain data, so a
/// CUDA kernel takes it by value.
constexpr int kBroadcastRank = 4;
struct BroadcastStrides {
  std::int64_t dims[kBroadcastRank];
  std::int64_t a_stride[kBroadcastRank];
  std::int64_t b_stride[kBroadcastRank];
};
/// The strides for out = a op b, where `out` is the broadcast shape of a and b.
BroadcastStrides broadcast_strides(const Shape& a, const Shape& b, const Shape& out);

/// How permute walks its input: out's shape padded on the left to rank kBroadcastRank, and per
/// padded axis the element stride in x of the axis it is taken from (0 on padding), so that
/// out[i0, i1, i2, i3] = x[sum_k i_k x_stride[k]]. Plain data, so a CUDA kernel takes it by value.
struct PermuteStrides {
  std::int64_t dims[kBroadcastRank];
  std::int64_t x_stride[kBroadcastRank];
};
/// The strides for out = permute(x, axes) (axes a permutation of 0 .. x.size() - 1).
PermuteStrides permute_strides(const Shape& x, const std::vector<int>& axes);

/// A square window sliding over NHWC images (ops.hpp, im2col): the input x [n, h, w, c], the
/// window's side, stride and zero padding, and the output grid ho x wo, where window (i, j)
/// covers rows i * stride - padding + a and columns j * stride - padding + b for a, b in
/// [0, kernel). Plain data, so a CUDA kernel takes it by value.
struct WindowGeometry {
  std::int64_t n, h, w, c;
  std::int64_t kernel, stride, padding;
  std::int64_t ho, wo;
};
/// The geometry of a window of side `kernel` over images of shape `image` [n, h, w, c]
/// (unchecked: callers checked that it fits).
WindowGeometry window_geometry(const Shape& image, std::int64_t kernel, std::int64_t stride,
                               std::int64_t padding);

/// The weight of a 2-D convolution as the element strides of its axes: output channel, input
/// channel, window row a and window column b (Conv2D's per-tap [k*k, c_out, c_in] and flattened
/// [c_out, k*k*c_in] are two such layouts of one dense array). Plain data.
struct ConvWeightStrides {
  std::int64_t out, in, row, col;
};

/// Owned device or host memory; freed by the backend that allocated it.
struct Storage {
  void* ptr = nullptr;
  std::size_t nbytes = 0;
  Device device = Device::cpu;
  ~Storage();
};

/// sqrt and log follow IEEE (sqrt of a negative -> NaN; log 0 -> -Inf, log of a negative ->
/// NaN); the derivatives 1 / (2 sqrt x) and 1 / x are +Inf at 0.
enum class Unary { relu, gelu, abs, sign, sqrt, exp, log };
/// div follows IEEE (x / 0 -> +-Inf, 0 / 0 -> NaN); callers guard zeros.
enum class Binary { add, sub, mul, div };
/// l2 is sqrt(sum x^2) along the axis, max_abs is max |x|.
enum class Reduce { sum, mean, max, l2, max_abs };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- memory (pointers are device pointers for non-host backends) ----
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr) noexcept = 0;
  virtual void copy_from_host(const void* host, void* dst, std::size_t nbytes) = 0;
  virtual void copy_to_host(const void* src, void* host, std::size_t nbytes) = 0;
  /// dst = src, nbytes of this device's memory (not overlapping).
  virtual void copy(const void* src, void* dst, std::size_t nbytes) = 0;
  /// Waits for all work queued on this device (a no-op where calls are synchronous).
  virtual void synchronize() {}
  /// out = value everywhere.
  virtual void fill(Tensor& out, double value);
  /// out = in converted to out's dtype (equal shapes, same device). When out is i32 and in is
  /// not, first_non_i32(in) was -1: every value is an integer in range.
  virtual void convert(const Tensor& in, Tensor& out);
  /// The index of the first element of x (a float dtype) that is not an integer in the range
  /// of i32 (NaN and +-Inf included), or -1 when there is none.
  virtual std::int64_t first_non_i32(const Tensor& x);

  // ---- compute ----
  /// out = alpha op(a) op(b) + beta out (op = transpose of the last two axes where asked) for
  /// matrices, or for each matrix of a batch: a, b and out of equal rank (2 to 4) and equal
  /// leading dimensions, out [..., M, N] (ops.cpp checked it). beta == 0 ignores out's content.
  virtual void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b,
                    bool transpose_b, double beta, Tensor& out);
  virtual double dot(const Tensor& a, const Tensor& b);
  virtual void unary(Unary op, const Tensor& x, Tensor& out);
  /// out = dy * op'(x).
  virtual void unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& out);
  /// out = tanh(x) (tanh.cpp, tanh.cu); computed in double for f32 and bf16.
  virtual void tanh(const Tensor& x, Tensor& out);
  /// out = dy * tanh'(x) = dy / cosh(x)^2, the derivative taken from x rather than from
  /// 1 - tanh(x)^2, which cancels to 0 wherever tanh(x) rounds to +-1.
  virtual void tanh_backward(const Tensor& x, const Tensor& dy, Tensor& out);
  /// out = a op b with NumPy broadcasting: out has the broadcast shape of a and b (ops.cpp
  /// checked it). Equal shapes take a contiguous fast path; others walk broadcast_strides().
  virtual void binary(Binary op, const Tensor& a, const Tensor& b, Tensor& out);
  /// y = alpha * x + beta * y; beta == 0 never reads y (it may be uninitialised, or NaN).
  virtual void axpy(double alpha, const Tensor& x, double beta, Tensor& y);
  /// Whether no element of any tensor of `xs` (float dtypes, all on this device) is NaN or
  /// +-Inf: one pass over each tensor, and on a device one wait for the answer of them all.
  virtual bool all_finite(const std::vector<Tensor>& xs);
  /// x seen as [outer, n, inner] around `axis`; out is [outer, inner].
  virtual void reduce(Reduce op, const Tensor& x, int axis, Tensor& out);
  virtual void transpose(const Tensor& x, Tensor& out);
  /// out = x with its axes reordered: out.shape()[i] = x.shape()[axes[i]], where `axes` is a
  /// permutation of 0 .. rank - 1 (rank <= 4); element bits are copied as they are.
  virtual void permute(const Tensor& x, const std::vector<int>& axes, Tensor& out);
  /// out = softmax of x along its last axis, x and out of equal shape seen as [rows, n]:
  /// out[r, j] = exp(x[r, j] - m_r) / sum_k exp(x[r, k] - m_r) with m_r = max_k x[r, k]. A row
  /// whose entries are all -Inf becomes all zeros; -Inf entries of any other row become 0.
  virtual void softmax(const Tensor& x, Tensor& out);
  /// out = y * (dy - sum(dy * y, last axis)): the vector-Jacobian product of softmax given its
  /// output y (y, dy and out of equal shape).
  virtual void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& out);
  /// out[..., i, j] = x[..., i, j] where j <= i and `fill` (rounded to the dtype) elsewhere, x
  /// and out of equal shape with rank >= 2.
  virtual void tril(const Tensor& x, double fill, Tensor& out);
  /// out [n, ho, wo, kernel^2 c] = the windows of x [n, h, w, c] (ops.hpp, im2col): element
  /// bits copied, zeros where a window reaches into the padding.
  virtual void im2col(const Tensor& x, const WindowGeometry& g, Tensor& out);
  /// out [n, h, w, c] = the adjoint of im2col applied to cols [n, ho, wo, kernel^2 c]: each
  /// pixel the sum of the entries im2col copied from it (out's content is overwritten).
  virtual void col2im(const Tensor& cols, const WindowGeometry& g, Tensor& out);
  /// Whether this backend has the three conv2d primitives below for `dtype`; where it does not,
  /// the conv2d ops (ops.hpp) run im2col and gemm.
  virtual bool has_conv2d(DType dtype) const;
  /// y [n, ho, wo, c_out] = alpha sum_{a, b} W_ab x[n, i stride - padding + a,
  /// j stride - padding + b, :] (zero outside the image): x [n, h, w, c] as in g, W_ab the
  /// [c_out x c] matrix of tap (a, b) in the dense weight w laid out as `layout`.
  virtual void conv2d(double alpha, const Tensor& x, const Tensor& w,
                      const ConvWeightStrides& layout, const WindowGeometry& g, Tensor& y);
  /// dx [n, h, w, c] = the adjoint of conv2d in x applied to dy [n, ho, wo, c_out] (dx's content
  /// is overwritten).
  virtual void conv2d_backward_data(double alpha, const Tensor& dy, const Tensor& w,
                                    const ConvWeightStrides& layout, const WindowGeometry& g,
                                    Tensor& dx);
  /// dw += the adjoint of conv2d in w at the input x applied to dy, into dw laid out as `layout`.
  virtual void conv2d_backward_weights(double alpha, const Tensor& x, const Tensor& dy,
                                       const ConvWeightStrides& layout, const WindowGeometry& g,
                                       Tensor& dw);
  // The indexing primitives take their ids as an i32 tensor on this backend's device (any
  // shape, read in row-major order) and check them where they live: each returns the position
  // of the first id outside its range, or -1 when every id is in it.
  /// rows == true: out[k, :] = table[ids[k], :]; otherwise out[:, k] = table[:, ids[k]], for the
  /// ids.numel() ids, each checked against table's rows (columns). out is incomplete when an id
  /// is outside.
  virtual std::int64_t gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& out);
  /// rows == true: dst[ids[k], :] += src[k, :]; otherwise dst[:, ids[k]] += src[:, k]. Every id
  /// is checked against dst's rows (columns) before anything is added: dst is unchanged when
  /// one is outside.
  virtual std::int64_t scatter_add(Tensor& dst, const Tensor& ids, bool rows, const Tensor& src);
  /// loss = mean over the rows b of -log softmax(logits[b, :])[labels[b]], and grad = d loss /
  /// d logits, for labels checked against logits' columns (loss and grad are unspecified when
  /// one is outside).
  virtual std::int64_t cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                                     double& loss);
  /// In place on a matrix x (f32 or f64), or on each matrix of a batch [batch, rows, cols], one
  /// odd-polynomial step per entry (a, b, c) of `steps` (Newton-Schulz; dualize.hpp):
  /// A = x x^T, x <- (a I + b A + c A A) x when rows <= cols; A = x^T x,
  /// x <- x (a I + b A + c A A) when rows > cols (the Gram matrix is always the small one).
  /// With bf16_iterates (f32 only) x is rounded to bf16 first and every product after it.
  virtual void newton_schulz(Tensor& x, const std::vector<std::array<double, 3>>& steps,
                             bool bf16_iterates);

 protected:
  [[noreturn]] void not_implemented(const char* op) const;
};

/// The tensor itself when f32 or f64; an f32 copy when bf16 (i32 never gets here: ops.cpp
/// refuses it) (bf16 is computed in f32 and, where
/// a result is stored as bf16, rounded back once).
inline Tensor widen(const Tensor& t) {
  return t.dtype() == DType::bf16 ? t.to(DType::f32) : t;
}

/// Calls fn(T{}) with T the unsigned integer of the dtype's element size (std::uint16_t for bf16,
/// std::uint32_t for f32 and i32, std::uint64_t for f64), for the primitives that move element
/// bits unchanged (permute, im2col).
template <class Fn>
void visit_bits(DType dtype, Fn&& fn) {
  switch (itemsize(dtype)) {
    case 2:
      return fn(std::uint16_t{});
    case 4:
      return fn(std::uint32_t{});
    default:
      return fn(std::uint64_t{});
  }
}

/// The backend for `device`. For Device::cuda this throws, naming `op`, when the CUDA backend
/// was not built or no device is visible. Backends live for the whole process: they own
/// process-wide handles (CUDA stream, cuBLAS handle), so they are function-local statics.
Backend& backend(Device device, const char* op);

/// The backend the tensor already lives on (cannot fail: a tensor exists only on a live backend).
inline Backend& backend_of(const Tensor& t) {
  return backend(t.device(), "backend");
}

/// Host backend singleton and the CUDA one (the latter defined in src/cuda/ or src/cuda_stub.cpp).
Backend& cpu_backend();
Backend& cuda_backend(const char* op);
/// Number of visible CUDA devices; 0 on any runtime error or when CUDA is not built.
int cuda_device_count();

}  // namespace modnorm::detail
