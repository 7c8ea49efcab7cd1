#pragma once
/// @file ops.hpp
/// The tensor operation set. Every function checks its inputs once (shapes, dtypes, devices)
/// and throws modnorm::Error naming the operation and what it received; then it runs on the
/// backend of the inputs' device. Inputs of one call must share device and dtype, a float one
/// (f32, bf16, f64): an i32 tensor (integer ids) is refused, e.g. `[relu] expects a
/// floating-point tensor (f32, bf16 or f64), got [4] i32 cpu ...`. Reductions
/// and inner products accumulate in double on the CPU.

#include <cstdint>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

// ---- products -------------------------------------------------------------------------------

/// The one GEMM entry point: out = alpha * op(a) * op(b) + beta * out, where op(x) is x or
/// x^T (the transpose of the last two axes). Either three matrices, or three batches of
/// matrices of equal rank (3 or 4) with equal leading dimensions, multiplied matrix by matrix:
/// [B, M, K] x [B, K, N] -> [B, M, N] and [B, H, M, K] x [B, H, K, N] -> [B, H, M, N] (no
/// broadcasting of the batch axes). One device, one dtype; `out` must already have the result
/// shape. With beta == 0 the previous content of `out` is ignored (NaN included).
/// Throws on mismatched inner dimensions: `[gemm] inner dimensions differ: [3x4] x [5x2]`, and
/// likewise when ranks or batch dimensions differ or `out` has another shape.
///
/// Example: gemm(1.0, x, false, w, true, 0.0, y);   // y = x w^T
MODNORM_API void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b,
                      bool transpose_b, double beta, Tensor& out);

/// op(a) * op(b) as a new tensor (see gemm): [M, N] for two matrices, [..., M, N] for two
/// batches of equal leading dimensions. To multiply every row of a [B, T, K] activation by one
/// [K, N] matrix, reshape it to [B*T, K] first.
///
/// Example: auto y = matmul(x, w, false, true);   // [batch x d_in] x [d_out x d_in]^T
///          auto s = matmul(q, k, false, true);   // [B, H, T, d] x [B, H, T, d]^T -> [B, H, T, T]
MODNORM_API Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false,
                          bool transpose_b = false);

/// Frobenius inner product <a, b> = sum_ij a_ij b_ij (same shapes), in double.
MODNORM_API double dot(const Tensor& a, const Tensor& b);

// ---- elementwise ------------------------------------------------------------------------------

/// a + b, a - b, a * b (Hadamard), a / b, elementwise with NumPy broadcasting: the shapes are
/// aligned at their last axis, and on each axis the sizes must agree or one of them must be 1
/// (or missing, for the shorter shape), which stretches to the other. The result has the
/// broadcast shape, e.g. [B x n] + [n] -> [B x n], [B x T x d] * [B x 1 x d] -> [B x T x d],
/// [3x1x5] - [2x3x4x5] -> [2x3x4x5]; a rank-0 or [1] operand acts as a scalar.
/// Throws when the shapes do not broadcast:
/// `[add] shapes differ: [3x4] and [5] do not broadcast (4 vs 5 at axis -1)`.
///
/// Example: auto y = add(x, bias);                    // [batch x n] + [n]: a Bias layer
MODNORM_API Tensor add(const Tensor& a, const Tensor& b);
MODNORM_API Tensor sub(const Tensor& a, const Tensor& b);
MODNORM_API Tensor mul(const Tensor& a, const Tensor& b);
/// a / b with broadcasting as add(). IEEE semantics, no check: x / 0 is +-Inf and 0 / 0 is
/// NaN, so callers guard zeros themselves (e.g. add an epsilon to a norm before dividing).
///
/// Example: auto y = div(x, r);   // [batch x n] / [batch x 1]: RMS normalisation, r > 0
MODNORM_API Tensor div(const Tensor& a, const Tensor& b);
/// s * a.
MODNORM_API Tensor scale(const Tensor& a, double s);
/// In place: y = alpha * x + beta * y (x and y of equal shape). beta defaults to 1 (axpy).
///
/// Example: axpy(1 - beta, grad, momentum, beta);   // EMA momentum
MODNORM_API void axpy(double alpha, const Tensor& x, Tensor& y, double beta = 1.0);
/// In place: every element of x becomes `value` (rounded to x's dtype).
///
/// Example: fill(grad, 0.0);   // what Module::zero_grad does
MODNORM_API void fill(Tensor& x, double value);

/// max(x, 0).
MODNORM_API Tensor relu(const Tensor& x);
/// Exact GELU: x * Phi(x) = 0.5 x erfc(-x / sqrt 2) (the erfc form keeps precision for x < 0).
/// f64 evaluates that formula; f32 and bf16 an f32 one (one exp and one rational function per
/// value, vectorised, the same bits on the CPU and on CUDA) within 7 ulp of the exact value, or
/// within 3 units of the smallest subnormal where the value is subnormal (x in about
/// [-14.2, -13.1]). gelu(+Inf) = +Inf and gelu(-Inf) = -0, the limits; NaN stays NaN.
///
/// Example: auto h = gelu(matmul(x, w1, false, true));
MODNORM_API Tensor gelu(const Tensor& x);
/// |x|.
MODNORM_API Tensor abs(const Tensor& x);
/// sign(x) in {-1, 0, +1} (sign(0) = 0).
MODNORM_API Tensor sign(const Tensor& x);
/// sqrt(x), elementwise. IEEE semantics, no check: a negative entry gives NaN (sqrt(-0) = -0).
///
/// Example: auto rms = sqrt(mean(mul(x, x), -1));   // [batch x n] -> [batch]
MODNORM_API Tensor sqrt(const Tensor& x);
/// e^x, elementwise. Overflows to +Inf above about 88.7 in f32 and bf16 (709.8 in f64);
/// exp(-Inf) = 0.
///
/// Example: auto p = exp(sub(z, max(z, -1).reshape({n, 1})));   // unnormalised probabilities
MODNORM_API Tensor exp(const Tensor& x);
/// Natural logarithm, elementwise, IEEE semantics with no check: log 0 = -Inf, log of a
/// negative entry is NaN, log(+Inf) = +Inf.
///
/// Example: auto nll = scale(log(p), -1.0);   // p > 0
MODNORM_API Tensor log(const Tensor& x);
/// Vector-Jacobian products: dy * relu'(x) (relu'(0) = 0), dy * gelu'(x) with
/// gelu'(x) = Phi(x) + x phi(x), dy * sign(x). In f32 and bf16, gelu'(x) is within 8 ulp of
/// Phi(x) + |x| phi(x) (the size of its two terms, which cancel near x = -0.75); gelu'(+Inf) = 1,
/// gelu'(-Inf) = 0.
MODNORM_API Tensor relu_backward(const Tensor& x, const Tensor& dy);
MODNORM_API Tensor gelu_backward(const Tensor& x, const Tensor& dy);
MODNORM_API Tensor abs_backward(const Tensor& x, const Tensor& dy);
/// dy * exp(x) and dy / x: the vector-Jacobian products of exp and log at the input x (x and dy
/// of equal shape; log_backward is +-Inf where x = 0 and dy != 0).
///
/// Example: auto dx = exp_backward(x, dy);   // the gradient of sum(dy * exp(x)) in x
MODNORM_API Tensor exp_backward(const Tensor& x, const Tensor& dy);
MODNORM_API Tensor log_backward(const Tensor& x, const Tensor& dy);

/// tanh(x), elementwise, in (-1, 1) (tanh(+-Inf) = +-1, NaN stays NaN), computed in double and
/// rounded once to x's dtype.
///
/// Example: auto capped = scale(modnorm::tanh(scale(logits, 1.0 / 15.0)), 15.0);   // soft cap
MODNORM_API Tensor tanh(const Tensor& x);
/// dy * tanh'(x) = dy / cosh(x)^2, the vector-Jacobian product of tanh at the input x (x and dy
/// of equal shape); exact where tanh(x) rounds to +-1 (it is not computed as 1 - tanh(x)^2).
///
/// Example: auto dx = tanh_backward(x, dy);   // the gradient of sum(dy * tanh(x)) in x
MODNORM_API Tensor tanh_backward(const Tensor& x, const Tensor& dy);

/// True when no element is NaN or +-Inf.
MODNORM_API bool all_finite(const Tensor& x);
/// True when no element of any tensor of `xs` is NaN or +-Inf (true for an empty list): one
/// fused check, one pass over each tensor and one wait per device (on a GPU, one kernel per
/// tensor into one device flag and a 4-byte copy back), where all_finite(x) for each tensor
/// waits once per tensor. The tensors may be of any float dtype and of either device. Throws
/// modnorm::Error for an i32 tensor.
///
/// Example: bool ok = modnorm::all_finite({weight, grad, update});   // one host synchronisation
MODNORM_API bool all_finite(const std::vector<Tensor>& xs);

// ---- softmax and the causal mask --------------------------------------------------------------

/// Softmax along the last axis: y[..., j] = exp(x[..., j] - m) / sum_k exp(x[..., k] - m) with
/// m the row's maximum (so nothing overflows), for x of rank 1 to 4; sums in double on the CPU,
/// in the compute type (fp32, fp64 for f64) on the GPU. f32 and bf16 terms take an f32 exp of
/// the exact difference x - m (within 2 ulp, the same on both devices): on the CPU each f32
/// probability that is a normal f32 is within 4 ulp of the exact one. An entry of -Inf gets
/// probability 0 (a masked score, see tril). A row whose entries are all -Inf (no position left)
/// becomes a row of zeros rather than NaN, so its gradient is zero too; a NaN or +Inf entry makes
/// its row NaN. Throws for a rank-0 x: `[softmax] needs an axis to normalise along, got [] f32
/// cpu`.
///
/// Example: auto p = softmax(tril(scores, -INFINITY));   // causal attention weights [B,H,T,T]
MODNORM_API Tensor softmax(const Tensor& x);
/// The vector-Jacobian product of softmax, from its output y: dx = y * (dy - sum(dy * y, -1)),
/// the sum taken along the last axis and broadcast back (y and dy of equal shape, rank >= 1).
///
/// Example: auto p = softmax(s);  ...;  auto ds = softmax_backward(p, dp);
MODNORM_API Tensor softmax_backward(const Tensor& y, const Tensor& dy);

/// Lower-triangular part of each trailing [T x S] matrix of x (rank 2 to 4): entries
/// [..., i, j] with j <= i are kept, the others become `fill` (rounded to x's dtype). The causal
/// mask of attention is tril(scores, -INFINITY) (softmax then gives those entries 0), and its
/// vector-Jacobian product is tril(dy, 0). Throws for rank < 2:
/// `[tril] expects a matrix or a batch of matrices (rank 2 to 4), got [5] f32 cpu`.
///
/// Example: auto masked = tril(scores, -INFINITY);   auto dscores = tril(dmasked, 0.0);
MODNORM_API Tensor tril(const Tensor& x, double fill);

// ---- norms and reductions -----------------------------------------------------------------------

/// sqrt(sum x^2) over all elements.
MODNORM_API double frobenius_norm(const Tensor& x);
/// max |x| over all elements (0 for an empty tensor).
MODNORM_API double max_abs(const Tensor& x);
/// l2 norm of each row of a matrix: [rows x cols] -> [rows].
MODNORM_API Tensor row_norms(const Tensor& x);
/// l2 norm of each column of a matrix: [rows x cols] -> [cols].
MODNORM_API Tensor col_norms(const Tensor& x);

/// Sum, mean and max along `axis` (negative counts from the end); the axis is removed.
/// mean and max of an empty axis throw.
///
/// Example: sum(Tensor::zeros({2, 3}), 0).shape() == Shape{3}
MODNORM_API Tensor sum(const Tensor& x, int axis);
MODNORM_API Tensor mean(const Tensor& x, int axis);
MODNORM_API Tensor max(const Tensor& x, int axis);
/// Sum, mean and max over all elements, as doubles.
MODNORM_API double sum(const Tensor& x);
MODNORM_API double mean(const Tensor& x);
MODNORM_API double max(const Tensor& x);

// ---- layout and indexing ------------------------------------------------------------------------

/// Matrix transpose: [r x c] -> [c x r] (new storage).
MODNORM_API Tensor transpose(const Tensor& x);
/// The axes of x (rank 0 to 4) reordered, as a new contiguous tensor (NumPy's transpose):
/// result.shape()[i] == x.shape()[axes[i]]. `axes` lists every axis once; negative entries
/// count from the end. Element bits are copied unchanged (no rounding). Throws when axes is
/// not a permutation: `[permute] axes [0, 0, 1] name axis 0 twice; they must be a permutation
/// of 0 .. 2`, `[permute] axis 3 in [0, 3, 1] is out of range for [2x3x4] f32 cpu`.
///
/// Example: auto heads = permute(x.reshape({B, T, H, d}), {0, 2, 1, 3});   // [B, H, T, d]
MODNORM_API Tensor permute(const Tensor& x, const std::vector<int>& axes);
/// Rows `ids` of table [n x d] -> [ids.numel() x d]: out[k, :] = table[ids[k], :], ids read in
/// row-major order. `ids` is an i32 tensor of any shape (its element count is the number of
/// rows gathered; none gives [0 x d]) on the table's device; each id is checked where it lives
/// (on the GPU, by the kernel). Throws modnorm::Error for ids of another dtype or device, and
/// for an id outside [0, n), naming the first one and its position:
/// `[gather_rows] id 4 at position 1 is outside [0, 4) (rows of [4x3] f32 cpu)`.
///
/// Example: auto rows = gather_rows(table, Tensor::from_vector_i32({2, 0, 2}, {3}));   // [3 x d]
MODNORM_API Tensor gather_rows(const Tensor& table, const Tensor& ids);
/// Columns `ids` of table [d x n] -> [d x ids.numel()] (Embed: one column per token); ids as in
/// gather_rows, checked against [0, n).
///
/// Example: auto cols = gather_cols(w, tokens.reshape({tokens.numel()}));   // [d x tokens]
MODNORM_API Tensor gather_cols(const Tensor& table, const Tensor& ids);
/// In place: dst[ids[k], :] += src[k, :] for dst [n x d] and src [ids.numel() x d]; repeated
/// ids add up. `ids` is an i32 tensor of any shape on dst's device, read in row-major order.
/// Every id is checked against [0, n) before anything is added, so on error dst is unchanged.
/// Throws as gather_rows, and when src is not [ids.numel() x d] or differs from dst in dtype or
/// device.
///
/// Example: scatter_add_rows(grad, ids, dy);   // grad [n x d], ids [k] i32, dy [k x d]
MODNORM_API void scatter_add_rows(Tensor& dst, const Tensor& ids, const Tensor& src);
/// In place: dst[:, ids[k]] += src[:, k] for dst [d x n] and src [d x ids.numel()]; as
/// scatter_add_rows otherwise (ids checked against [0, n) first; dst unchanged on error).
///
/// Example: scatter_add_cols(dW, tokens, dy_t);   // Embed's backward: dW[:, id] += dy_k
MODNORM_API void scatter_add_cols(Tensor& dst, const Tensor& ids, const Tensor& src);

// ---- windows of images (convolution, pooling) -------------------------------------------------

/// A square window sliding over the two spatial axes of NHWC images [N, H, W, C] (channels
/// last, the layout of Conv2D and AvgPool2D): `kernel` x `kernel` pixels, moved by `stride`,
/// over the image with `padding` zeros added on every side. It fits Ho = (H + 2 padding -
/// kernel) / stride + 1 times down (rounded down) and Wo times across, likewise.
///
/// Example: modnorm::Window2D same3{3, 1, 1};   // 3x3, stride 1, keeps H x W
struct Window2D {
  std::int64_t kernel = 1;   ///< side of the window, >= 1
  std::int64_t stride = 1;   ///< step between windows, >= 1
  std::int64_t padding = 0;  ///< zeros on each side, >= 0
};

/// The windows of NHWC images laid out as rows (im2col): x [N, H, W, C] -> [N, Ho, Wo, k*k*C]
/// with out[n, i, j, (a k + b) C + c] = x[n, i s - p + a, j s - p + b, c] (k, s, p the window's
/// kernel, stride and padding), 0 where that pixel lies in the padding. A convolution is then
/// one product: im2col(x).reshape({N*Ho*Wo, k*k*C}) times a [k*k*C x C_out] matrix. Element bits
/// are copied (no rounding). Throws for an x that is not rank 4, a kernel or stride outside
/// [1, 2^20], a padding outside [0, 2^20], or a window larger than the padded image:
/// `[im2col] window 5 (stride 1, padding 0) does not fit in the 3x4 image of [2x3x4x1] f32 cpu`.
///
/// Example: auto cols = im2col(x, {3, 1, 1});   // [N, 28, 28, 1] -> [N, 28, 28, 9]
MODNORM_API Tensor im2col(const Tensor& x, const Window2D& window);
/// The adjoint of im2col (col2im): cols [N, Ho, Wo, k*k*C] -> [N, H, W, C] for `image` =
/// {N, H, W, C}, each entry added to the pixel im2col took it from (overlapping windows sum,
/// entries in the padding are dropped), so <im2col(x), c> = <x, col2im(c, x.shape(), window)>.
/// It is the backward of im2col. Throws as im2col for `image`, and when cols does not have the
/// shape im2col gives for it.
///
/// Example: auto dx = col2im(dcols, x.shape(), {3, 1, 1});
MODNORM_API Tensor col2im(const Tensor& cols, const Shape& image, const Window2D& window);

/// A 2-D convolution of NHWC images (channels last): x [N, H, W, C_in] -> y [N, Ho, Wo, C_out],
///   y[n, i, j, :] = alpha sum_{a, b < k} W_ab x[n, i s - p + a, j s - p + b, :]
/// (k, s, p the window's kernel, stride and padding; zero outside the image; Ho and Wo as
/// Window2D says), W_ab the [C_out x C_in] matrix of tap (a, b). The weight w holds the taps in
/// one of two layouts, told apart by its rank:
/// - [k*k, C_out, C_in]: one matrix per tap, tap (a, b) at index a k + b (Conv2D's per-tap norm);
/// - [C_out, k*k*C_in]: one matrix whose column (a k + b) C_in + c is tap (a, b)'s input
///   channel c, the column order of im2col's rows (Conv2D's flattened norm).
/// The backend chooses how: oneDNN's convolution for f32 on the CPU where modnorm is built with
/// it (cpu_conv()), else im2col and one GEMM, `alpha im2col(x) Wm^T` with Wm the weight as one
/// [C_out x k*k*C_in] matrix (f64, bf16, CUDA). Throws modnorm::Error for an x that is not
/// floating-point NHWC images, a window that does not fit (as im2col), or a weight of another
/// dtype, device or shape:
/// `[conv2d] weight [9x4x2] f32 cpu does not fit 3 input channels and window 3 (stride 1, padding
/// 1): expected [9, C_out, 3] or [C_out, 27]`.
///
/// Example: auto y = conv2d(x, w, {3, 1, 1});   // x [N, 28, 28, 1], w [9, 32, 1] -> [N, 28, 28,
/// 32]
MODNORM_API Tensor conv2d(const Tensor& x, const Tensor& w, const Window2D& window,
                          double alpha = 1.0);
/// The backward of conv2d in x: dy [N, Ho, Wo, C_out] -> dx [N, H, W, C_in] for `image` =
/// {N, H, W, C_in}, the adjoint of conv2d(., w, window, alpha), so that
/// <conv2d(x, w, window, alpha), dy> = <x, conv2d_backward_data(dy, w, x.shape(), window, alpha)>.
/// Runs where conv2d runs (oneDNN, or one GEMM and col2im). Throws as conv2d for `image` and w,
/// and when dy is not the [N, Ho, Wo, C_out] that conv2d gives, or differs in dtype or device.
///
/// Example: auto dx = conv2d_backward_data(dy, w, x.shape(), {3, 1, 1});
MODNORM_API Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& image,
                                        const Window2D& window, double alpha = 1.0);
/// The backward of conv2d in the weight, accumulated: dw += the adjoint of
/// conv2d(x, ., window, alpha) applied to dy, so that <conv2d(x, v, window, alpha), dy> =
/// <v, the increment of dw> for every v shaped like dw. dw has either of conv2d's weight layouts
/// (its rank tells which). Runs where conv2d runs (oneDNN, or im2col and one GEMM). Throws as
/// conv2d for x and dw, and when dy is not the [N, Ho, Wo, C_out] that conv2d gives, or differs
/// in dtype or device.
///
/// Example: conv2d_backward_weights(x, dy, {3, 1, 1}, dw);   // dw [9, C_out, C_in] += dL/dw
MODNORM_API void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Window2D& window,
                                         Tensor& dw, double alpha = 1.0);

// ---- loss
// ----------------------------------------------------------------------------------------

/// Result of softmax_cross_entropy.
struct CrossEntropy {
  double loss;  ///< mean over the batch of -log softmax(logits)[label]
  Tensor
      grad;  ///< d loss / d logits = (softmax(logits) - onehot(labels)) / batch, [batch x classes]
};

/// Softmax cross-entropy of logits [batch x classes] (one row per example) against integer
/// labels in [0, classes), averaged over the batch; numerically stable (max-shifted). `labels`
/// is an i32 tensor on the logits' device with one element per row, of any shape ([batch], or
/// [B x T] for the [B*T x vocab] logits of a language model), read in row-major order; each
/// label is checked where it lives. Throws modnorm::Error for an empty batch or no classes,
/// labels of another dtype, device or count, and a label outside [0, classes), naming the first
/// one and its position: `[softmax_cross_entropy] id 3 at position 1 is outside [0, 3) (class
/// labels)`.
///
/// Example:
///   auto ce = softmax_cross_entropy(logits, Tensor::from_vector_i32({3, 1}, {2}));
///   // ce.loss, ce.grad [2 x classes]
MODNORM_API CrossEntropy softmax_cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace modnorm
