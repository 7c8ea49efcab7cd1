// CUDA kernels for the remaining primitives: elementwise maps and their derivatives, binary
// ops (NumPy broadcasting), inner products (deterministic: per-block partials summed on the host
// in a fixed order), finiteness (one device flag per list of tensors), axis reductions, transpose,
// permute, softmax and its backward (a warp per row), the lower-triangular mask, the windows
// of NHWC images (im2col and its adjoint col2im, both gathers), gather,
// scatter-add (atomic) and softmax cross-entropy, whose i32 ids are range-checked on the device.
// Arithmetic in fp32 for f32/bf16, fp64 for f64. In fp32, GELU and softmax's exp are math_f32.hpp's
// formulas, the CPU kernels' arithmetic to the bit; in fp64 GELU uses Phi(x) = erfc(-x / sqrt 2) /
// 2 (1 + erf(x / sqrt 2) would cancel for negative x).
#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"
#include "cuda/launch.cuh"
#include "math_f32.hpp"

namespace modnorm::detail::cuda {
namespace {

constexpr int kReduceBlocks = 256;

template <class T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};

template <class T>
__device__ __forceinline__ typename AccOf<T>::type load(const T* p, std::int64_t i) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(p[i]);
  else
    return p[i];
}

template <class T, class A>
__device__ __forceinline__ void store(T* p, std::int64_t i, A v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    p[i] = __float2bfloat16_rn(static_cast<float>(v));
  else
    p[i] = static_cast<T>(v);
}

template <class A>
__device__ __forceinline__ A sign_of(A x) {
  return static_cast<A>((x > A(0)) - (x < A(0)));
}

template <class A>
__device__ A apply(Unary op, A x) {
  switch (op) {
    case Unary::relu:
      return x > A(0) ? x : A(0);
    case Unary::gelu:
      if constexpr (std::is_same_v<A, float>) return gelu_value_f32(x);
      return A(0.5) * x * erfc(-x * A(0.70710678118654752440));
    case Unary::abs:
      return fabs(x);
    case Unary::sign:
      return sign_of(x);
    case Unary::sqrt:
      return sqrt(x);  // IEEE: negative -> NaN
    case Unary::exp:
      return exp(x);
    case Unary::log:
      return log(x);  // IEEE: 0 -> -Inf, negative -> NaN
  }
  return x;
}

template <class A>
__device__ A derivative(Unary op, A x) {
  switch (op) {
    case Unary::relu:
      return x > A(0) ? A(1) : A(0);
    case Unary::gelu:
      if constexpr (std::is_same_v<A, float>) return gelu_slope_f32(x);
      return A(0.5) * erfc(-x * A(0.70710678118654752440)) +
             x * A(0.39894228040143267794) * exp(A(-0.5) * x * x);
    case Unary::abs:
      return sign_of(x);
    case Unary::sign:
      return A(0);
    case Unary::sqrt:
      return A(0.5) / sqrt(x);
    case Unary::exp:
      return exp(x);
    case Unary::log:
      return A(1) / x;
  }
  return A(0);
}

// The one definition of each binary op on the device (IEEE division: x / 0 -> +-Inf or NaN).
template <class A>
__device__ __forceinline__ A combine(Binary op, A x, A y) {
  switch (op) {
    case Binary::add:
      return x + y;
    case Binary::sub:
      return x - y;
    case Binary::mul:
      return x * y;
    case Binary::div:
      return x / y;
  }
  return x;
}

template <class T>
__global__ void unary_kernel(Unary op, const T* x, T* out, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    store(out, i, apply(op, load(x, i)));
  }
}

template <class T>
__global__ void unary_backward_kernel(Unary op, const T* x, const T* dy, T* out, std::int64_t n) {
  MODNORM_GRID_STRIDE(i, n) {
    store(out, i, load(dy, i) * derivative(op, load(x, i)));
  }
}

// out[i] = a op b over out's n elements. Equal shapes read a and b at i; with kBroadcast the
// row-major index i is split along the padded output dims and mapped through the strides
// (0 on broadcast axes).
template <class T, bool kBroadcast>
__global__ void binary_kernel(Binary op, const T* a, const T* b, T* out, std::int64_t n,
                              BroadcastStrides s) {
  MODNORM_GRID_STRIDE(i, n) {
    std::int64_t ia = i, ib = i;
    if constexpr (kBroadcast) {
      ia = 0;
      ib = 0;
      std::int64_t rest = i;
      for (int k = kBroadcastRank - 1; k >= 0; --k) {
        const std::int64_t ik = rest % s.dims[k];
        rest /= s.dims[k];
        ia += ik * s.a_stride[k];
        ib += ik * s.b_stride[k];
      }
    }
    store(out, i, combine(op, load(a, ia), load(b, ib)));
  }
}

// partial[block] = sum over the block's grid-stride share of a*b.
template <class T>
__global__ void partial_sum_kernel(const T* a, const T* b, double* partial, std::int64_t n) {
  __shared__ double shared[kThreads];
  double acc = 0;
  MODNORM_GRID_STRIDE(i, n) {
    acc += static_cast<double>(load(a, i)) * static_cast<double>(load(b, i));
  }
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = shared[0];
}

// Sets *flag to 1 if an entry of a is NaN or +-Inf; a thread writes only when it found one, so
// the usual (finite) case costs one read of a and no atomics.
template <class T>
__global__ void non_finite_kernel(const T* a, std::int64_t n, unsigned int* flag) {
  bool bad = false;
  MODNORM_GRID_STRIDE(i, n) bad |= !isfinite(load(a, i));
  if (bad) atomicOr(flag, 1u);
}

// One thread per output (o, i): accumulates along k in double, like the CPU.
template <class T>
__global__ void reduce_kernel(Reduce op, const T* x, T* out, std::int64_t outer, std::int64_t n,
                              std::int64_t inner) {
  MODNORM_GRID_STRIDE(idx, outer * inner) {
    const std::int64_t o = idx / inner, i = idx % inner;
    double acc = op == Reduce::max ? -INFINITY : 0.0;
    for (std::int64_t k = 0; k < n; ++k) {
      const double v = load(x, (o * n + k) * inner + i);
      switch (op) {
        case Reduce::sum:
        case Reduce::mean:
          acc += v;
          break;
        case Reduce::l2:
          acc += v * v;
          break;
        case Reduce::max:
          acc = (isnan(v) || v > acc) ? v : acc;
          break;
        case Reduce::max_abs:
          acc = (isnan(v) || fabs(v) > acc) ? fabs(v) : acc;
          break;
      }
    }
    if (op == Reduce::mean) acc /= static_cast<double>(n);
    if (op == Reduce::l2) acc = sqrt(acc);
    store(out, idx, acc);
  }
}

template <class T>
__global__ void transpose_kernel(const T* x, T* out, std::int64_t rows, std::int64_t cols) {
  MODNORM_GRID_STRIDE(idx, rows * cols) {
    const std::int64_t r = idx / cols, c = idx % cols;
    out[c * rows + r] = x[idx];
  }
}

// c[i, j] = c[j, i] for j > i on a k x k matrix (Newton-Schulz computes the lower triangle of
// its symmetric products). One 32x32 block per tile (ti, tj) with tj >= ti: it stages the
// mirrored lower tile (tj, ti) in shared memory so that reads and writes are both row-wise
// (coalesced). A diagonal tile reads itself whole before writing only its upper part; no
// other block touches it.
constexpr int kMirrorTile = 32;

template <class T>
__global__ void mirror_lower_kernel(T* c, std::int64_t k) {
  __shared__ T tile[kMirrorTile][kMirrorTile + 1];  // +1: no shared-memory bank conflicts
  const std::int64_t ti = blockIdx.y, tj = blockIdx.x;
  if (tj < ti) return;
  const std::int64_t lower_row = tj * kMirrorTile, lower_col = ti * kMirrorTile;
  for (int dy = threadIdx.y; dy < kMirrorTile; dy += blockDim.y) {
    const std::int64_t r = lower_row + dy, col = lower_col + threadIdx.x;
    if (r < k && col < k) tile[dy][threadIdx.x] = c[r * k + col];
  }
  __syncthreads();
  // Element (lower_col + dy, lower_row + x) of the upper tile is c[lower_row + x][lower_col + dy].
  for (int dy = threadIdx.y; dy < kMirrorTile; dy += blockDim.y) {
    const std::int64_t r = lower_col + dy, col = lower_row + threadIdx.x;
    if (r < k && col < k && col > r) c[r * k + col] = tile[threadIdx.x][dy];
  }
}

// out[idx] = x[sum_k i_k x_stride[k]], where (i0, i1, i2, i3) is idx split along out's padded
// dims; T is an unsigned integer of the element's size, so bits move unchanged.
template <class T>
__global__ void permute_kernel(const T* x, T* out, std::int64_t n, PermuteStrides s) {
  MODNORM_GRID_STRIDE(idx, n) {
    std::int64_t rest = idx, offset = 0;
    for (int k = kBroadcastRank - 1; k >= 0; --k) {
      offset += (rest % s.dims[k]) * s.x_stride[k];
      rest /= s.dims[k];
    }
    out[idx] = x[offset];
  }
}

// Softmax rows: one warp per row, its 32 lanes striding along the row, max and sum reduced with
// butterfly shuffles (every lane ends with the row's value, so branches stay warp-uniform).
// The max lets NaN win, so a NaN anywhere makes the whole row NaN, as on the CPU.
constexpr int kWarp = 32;

template <class A>
__device__ __forceinline__ A nan_max(A a, A b) {
  return (isnan(b) || b > a) ? b : a;
}

template <class A>
__device__ __forceinline__ A warp_max(A v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

template <class A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

#define MODNORM_WARP_PER_ROW(r, rows)                                                              \
  for (std::int64_t r = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / kWarp; r < (rows); \
       r += std::int64_t(gridDim.x) * blockDim.x / kWarp)

template <class T>
__global__ void softmax_kernel(const T* x, T* y, std::int64_t rows, std::int64_t n) {
  using A = typename AccOf<T>::type;
  const int lane = threadIdx.x % kWarp;
  MODNORM_WARP_PER_ROW(r, rows) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    A shift = -INFINITY;
    for (std::int64_t j = lane; j < n; j += kWarp) shift = nan_max(shift, load(xr, j));
    shift = warp_max(shift);
    if (shift == A(-INFINITY)) {  // every entry masked: no mass anywhere, a row of zeros
      for (std::int64_t j = lane; j < n; j += kWarp) store(yr, j, A(0));
      continue;
    }
    A total = 0;
    for (std::int64_t j = lane; j < n; j += kWarp) total += exp_shifted(load(xr, j), shift);
    total = warp_sum(total);
    for (std::int64_t j = lane; j < n; j += kWarp)
      store(yr, j, exp_shifted(load(xr, j), shift) / total);
  }
}

// dx = y * (dy - <dy, y>) per row.
template <class T>
__global__ void softmax_backward_kernel(const T* y, const T* dy, T* dx, std::int64_t rows,
                                        std::int64_t n) {
  using A = typename AccOf<T>::type;
  const int lane = threadIdx.x % kWarp;
  MODNORM_WARP_PER_ROW(r, rows) {
    const std::int64_t base = r * n;
    A inner = 0;
    for (std::int64_t j = lane; j < n; j += kWarp) inner += load(dy, base + j) * load(y, base + j);
    inner = warp_sum(inner);
    for (std::int64_t j = lane; j < n; j += kWarp)
      store(dx, base + j, load(y, base + j) * (load(dy, base + j) - inner));
  }
}

// out[..., i, j] = j <= i ? x[..., i, j] : fill over trailing [t x s] matrices.
template <class T>
__global__ void tril_kernel(const T* x, T* out, std::int64_t n, std::int64_t t, std::int64_t s,
                            double fill) {
  using A = typename AccOf<T>::type;
  MODNORM_GRID_STRIDE(idx, n) {
    const std::int64_t j = idx % s, i = (idx / s) % t;
    store(out, idx, j <= i ? load(x, idx) : static_cast<A>(fill));
  }
}

// im2col over NHWC images, one thread per output element: out[r, (a k + b) c + ch] with window
// r = (n, i, j) reads pixel (i s - p + a, j s - p + b), or writes zero bits in the padding. T is
// an unsigned integer of the element's size, so bits are copied unchanged.
template <class T>
__global__ void im2col_kernel(const T* x, T* out, std::int64_t total, WindowGeometry g) {
  MODNORM_GRID_STRIDE(idx, total) {
    const std::int64_t ch = idx % g.c, tap = (idx / g.c) % (g.kernel * g.kernel);
    const std::int64_t r = idx / (g.c * g.kernel * g.kernel);
    const std::int64_t n = r / (g.ho * g.wo), i = (r / g.wo) % g.ho, j = r % g.wo;
    const std::int64_t y = i * g.stride - g.padding + tap / g.kernel;
    const std::int64_t x_col = j * g.stride - g.padding + tap % g.kernel;
    const bool inside = y >= 0 && y < g.h && x_col >= 0 && x_col < g.w;
    out[idx] = inside ? x[((n * g.h + y) * g.w + x_col) * g.c + ch] : T(0);
  }
}

// col2im as a gather, one thread per pixel channel: the sum over the windows (i, j) that cover
// pixel (y, x), at their tap (y + p - i s, x + p - j s); no atomics.
template <class T>
__global__ void col2im_kernel(const T* cols, T* out, std::int64_t total, WindowGeometry g) {
  using A = typename AccOf<T>::type;
  MODNORM_GRID_STRIDE(idx, total) {
    const std::int64_t ch = idx % g.c, q = idx / g.c;
    const std::int64_t n = q / (g.h * g.w), y = (q / g.w) % g.h, x = q % g.w;
    const std::int64_t top = y + g.padding, left = x + g.padding;
    const std::int64_t i0 = top < g.kernel ? 0 : (top - g.kernel) / g.stride + 1;
    const std::int64_t j0 = left < g.kernel ? 0 : (left - g.kernel) / g.stride + 1;
    const std::int64_t i1 = min(top / g.stride, g.ho - 1), j1 = min(left / g.stride, g.wo - 1);
    A sum = 0;
    for (std::int64_t i = i0; i <= i1; ++i)
      for (std::int64_t j = j0; j <= j1; ++j) {
        const std::int64_t tap = (top - i * g.stride) * g.kernel + (left - j * g.stride);
        sum += load(cols, (((n * g.ho + i) * g.wo + j) * g.kernel * g.kernel + tap) * g.c + ch);
      }
    store(out, idx, sum);
  }
}

// *first = min(*first, k) over the ids outside [0, bound).
__global__ void first_outside_kernel(const std::int32_t* ids, std::int64_t n, std::int64_t bound,
                                     unsigned long long* first) {
  MODNORM_GRID_STRIDE(k, n) {
    if (ids[k] < 0 || ids[k] >= bound) atomicMin(first, static_cast<unsigned long long>(k));
  }
}

// rows: out[k, j] = table[ids[k], j]; cols: out[i, k] = table[i, ids[k]].
template <class T>
__global__ void gather_kernel(const T* table, std::int64_t table_cols, const std::int32_t* ids,
                              bool rows, T* out, std::int64_t out_rows, std::int64_t out_cols) {
  MODNORM_GRID_STRIDE(idx, out_rows * out_cols) {
    const std::int64_t r = idx / out_cols, c = idx % out_cols;
    out[idx] = rows ? table[ids[r] * table_cols + c] : table[r * table_cols + ids[c]];
  }
}

template <class T>
__global__ void scatter_add_kernel(T* dst, std::int64_t dst_cols, const std::int32_t* ids,
                                   bool rows, const T* src, std::int64_t src_rows,
                                   std::int64_t src_cols) {
  MODNORM_GRID_STRIDE(idx, src_rows * src_cols) {
    const std::int64_t r = idx / src_cols, c = idx % src_cols;
    T* target = rows ? dst + ids[r] * dst_cols + c : dst + r * dst_cols + ids[c];
    atomicAdd(target, src[idx]);
  }
}

// One thread per example row; the per-row losses are summed on the host.
template <class T>
__global__ void cross_entropy_kernel(const T* z, const std::int32_t* labels, T* grad,
                                     double* row_loss, std::int64_t batch, std::int64_t classes) {
  MODNORM_GRID_STRIDE(b, batch) {
    const T* row = z + b * classes;
    double shift = -INFINITY;
    for (std::int64_t c = 0; c < classes; ++c) shift = fmax(shift, double(load(row, c)));
    double denom = 0;
    for (std::int64_t c = 0; c < classes; ++c) denom += exp(double(load(row, c)) - shift);
    const double log_denom = log(denom);
    row_loss[b] = log_denom + shift - double(load(row, labels[b]));
    for (std::int64_t c = 0; c < classes; ++c) {
      const double p = exp(double(load(row, c)) - shift - log_denom);
      store(grad, b * classes + c, (p - (c == labels[b] ? 1.0 : 0.0)) / double(batch));
    }
  }
}

// The position of the first id outside [0, bound), or -1: checked on the device, where the ids
// live; the one value read back (a synchronisation) is that position.
std::int64_t first_outside(const Tensor& ids, std::int64_t bound, cudaStream_t stream) {
  const std::int64_t n = ids.numel();
  if (n == 0) return -1;
  const DeviceBuffer<unsigned long long> first(1, stream);
  MODNORM_CUDA_CHECK(cudaMemsetAsync(first.get(), 0xFF, sizeof(unsigned long long), stream));
  first_outside_kernel<<<blocks_for(n), kThreads, 0, stream>>>(in<std::int32_t>(ids), n, bound,
                                                               first.get());
  MODNORM_CUDA_CHECK(cudaGetLastError());
  const unsigned long long found = first.to_host(stream)[0];
  return found == ~0ull ? -1 : static_cast<std::int64_t>(found);
}

// Sums per-block partials of a*b, deterministically.
double reduce_to_host(const Tensor& a, const Tensor& b, cudaStream_t stream) {
  const std::int64_t n = a.numel();
  if (n == 0) return 0.0;
  DeviceBuffer<double> partial(kReduceBlocks, stream);
  visit(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    partial_sum_kernel<T>
        <<<kReduceBlocks, kThreads, 0, stream>>>(in<T>(a), in<T>(b), partial.get(), n);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
  double total = 0;
  for (double p : partial.to_host(stream)) total += p;
  return total;
}

}  // namespace

void launch_unary(Unary op, const Tensor& x, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<T>
        <<<blocks_for(x.numel()), kThreads, 0, stream>>>(op, in<T>(x), out<T>(y), x.numel());
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_unary_backward(Unary op, const Tensor& x, const Tensor& dy, Tensor& y,
                           cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_backward_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream>>>(
        op, in<T>(x), in<T>(dy), out<T>(y), x.numel());
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_binary(Binary op, const Tensor& a, const Tensor& b, Tensor& y, cudaStream_t stream) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  const bool same_shape = a.shape() == b.shape();
  const BroadcastStrides strides =
      same_shape ? BroadcastStrides{} : broadcast_strides(a.shape(), b.shape(), y.shape());
  visit(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (same_shape)
      binary_kernel<T, false>
          <<<blocks_for(n), kThreads, 0, stream>>>(op, in<T>(a), in<T>(b), out<T>(y), n, strides);
    else
      binary_kernel<T, true>
          <<<blocks_for(n), kThreads, 0, stream>>>(op, in<T>(a), in<T>(b), out<T>(y), n, strides);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

double dot_on_device(const Tensor& a, const Tensor& b, cudaStream_t stream) {
  return reduce_to_host(a, b, stream);
}

bool all_finite_on_device(const std::vector<Tensor>& xs, cudaStream_t stream) {
  // One kernel per tensor into one device flag, then one 4-byte copy: one wait for the lot.
  DeviceBuffer<unsigned int> flag(1, stream);
  MODNORM_CUDA_CHECK(cudaMemsetAsync(flag.get(), 0, sizeof(unsigned int), stream));
  for (const Tensor& x : xs) {
    if (x.numel() == 0) continue;
    visit(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      non_finite_kernel<T>
          <<<blocks_for(x.numel()), kThreads, 0, stream>>>(in<T>(x), x.numel(), flag.get());
    });
    MODNORM_CUDA_CHECK(cudaGetLastError());
  }
  return flag.to_host(stream)[0] == 0;
}

void launch_reduce(Reduce op, const Tensor& x, int axis, Tensor& y, cudaStream_t stream) {
  const Shape& shape = x.shape();
  const std::int64_t outer = checked_numel(Shape(shape.begin(), shape.begin() + axis), "reduce");
  const std::int64_t inner = checked_numel(Shape(shape.begin() + axis + 1, shape.end()), "reduce");
  if (y.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    reduce_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream>>>(op, in<T>(x), out<T>(y), outer,
                                                                     x.dim(axis), inner);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_transpose(const Tensor& x, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    transpose_kernel<T>
        <<<blocks_for(x.numel()), kThreads, 0, stream>>>(in<T>(x), out<T>(y), x.dim(0), x.dim(1));
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_permute(const Tensor& x, const std::vector<int>& axes, Tensor& y, cudaStream_t stream) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  const PermuteStrides strides = permute_strides(x.shape(), axes);
  visit_bits(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    permute_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(in<T>(x), out<T>(y), n, strides);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_softmax(const Tensor& x, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  const std::int64_t n = x.dim(-1), rows = x.numel() / n;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T>
        <<<blocks_for(rows * kWarp), kThreads, 0, stream>>>(in<T>(x), out<T>(y), rows, n);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx, cudaStream_t stream) {
  if (y.numel() == 0) return;
  const std::int64_t n = y.dim(-1), rows = y.numel() / n;
  visit(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<T><<<blocks_for(rows * kWarp), kThreads, 0, stream>>>(
        in<T>(y), in<T>(dy), out<T>(dx), rows, n);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_tril(const Tensor& x, double fill, Tensor& y, cudaStream_t stream) {
  if (x.numel() == 0) return;
  visit(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    tril_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream>>>(in<T>(x), out<T>(y), x.numel(),
                                                                   x.dim(-2), x.dim(-1), fill);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_mirror_lower(Tensor& c, cudaStream_t stream) {
  const std::int64_t k = c.dim(0);
  if (k < 2) return;
  const auto tiles = static_cast<unsigned>((k + kMirrorTile - 1) / kMirrorTile);
  visit(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    mirror_lower_kernel<T><<<dim3(tiles, tiles), dim3(kMirrorTile, 8), 0, stream>>>(out<T>(c), k);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_im2col(const Tensor& x, const WindowGeometry& g, Tensor& y, cudaStream_t stream) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  visit_bits(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(in<T>(x), out<T>(y), n, g);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

void launch_col2im(const Tensor& cols, const WindowGeometry& g, Tensor& y, cudaStream_t stream) {
  const std::int64_t n = y.numel();
  if (n == 0) return;
  visit(cols.dtype(), [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(in<T>(cols), out<T>(y), n, g);
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
}

std::int64_t launch_gather(const Tensor& table, const Tensor& ids, bool rows, Tensor& y,
                           cudaStream_t stream) {
  const std::int64_t bad = first_outside(ids, table.dim(rows ? 0 : 1), stream);
  if (bad >= 0 || y.numel() == 0) return bad;
  visit(table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream>>>(
        in<T>(table), table.dim(1), in<std::int32_t>(ids), rows, out<T>(y), y.dim(0), y.dim(1));
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
  return -1;
}

std::int64_t launch_scatter_add(Tensor& dst, const Tensor& ids, bool rows, const Tensor& src,
                                cudaStream_t stream) {
  const std::int64_t bad = first_outside(ids, dst.dim(rows ? 0 : 1), stream);
  if (bad >= 0 || src.numel() == 0) return bad;
  visit(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<T><<<blocks_for(src.numel()), kThreads, 0, stream>>>(
        out<T>(dst), dst.dim(1), in<std::int32_t>(ids), rows, in<T>(src), src.dim(0), src.dim(1));
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
  return -1;
}

std::int64_t launch_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& grad,
                                  double& loss, cudaStream_t stream) {
  const std::int64_t batch = logits.dim(0);
  const std::int64_t bad = first_outside(labels, logits.dim(1), stream);
  if (bad >= 0) return bad;
  DeviceBuffer<double> row_loss(batch, stream);
  visit(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_kernel<T><<<blocks_for(batch), kThreads, 0, stream>>>(
        in<T>(logits), in<std::int32_t>(labels), out<T>(grad), row_loss.get(), batch,
        logits.dim(1));
  });
  MODNORM_CUDA_CHECK(cudaGetLastError());
  double total = 0;
  for (double l : row_loss.to_host(stream)) total += l;
  loss = total / static_cast<double>(batch);
  return -1;
}

}  // namespace modnorm::detail::cuda
