#pragma once
/// @file ops.hpp
/// The tensor operation set. Every function checks its inputs once (shapes, dtypes, devices)
/// and throws modnorm::Error naming the operation and what it received; then it runs on the
/// backend of the inputs' device. Inputs of one call must share device and dtype. Reductions
/// and inner products accumulate in double on the CPU.

#include <cstdint>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

// ---- products -------------------------------------------------------------------------------

/// The one GEMM entry point: out = alpha * op(a) * op(b) + beta * out, where op(x) is x or
/// x^T. All three are rank-2 on one device with one dtype; `out` must already have the result
/// shape. With beta == 0 the previous content of `out` is ignored (NaN included).
/// Throws on mismatched inner dimensions: `[gemm] inner dimensions differ: [3x4] x [5x2]`.
///
/// Example: gemm(1.0, x, false, w, true, 0.0, y);   // y = x w^T
MODNORM_API void gemm(double alpha, const Tensor& a, bool transpose_a, const Tensor& b,
                      bool transpose_b, double beta, Tensor& out);

/// op(a) * op(b) as a new tensor (see gemm).
///
/// Example: auto y = matmul(x, w, false, true);   // [batch x d_in] x [d_out x d_in]^T
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
MODNORM_API Tensor gelu(const Tensor& x);
/// |x|.
MODNORM_API Tensor abs(const Tensor& x);
/// sign(x) in {-1, 0, +1} (sign(0) = 0).
MODNORM_API Tensor sign(const Tensor& x);
/// sqrt(x), elementwise. IEEE semantics, no check: a negative entry gives NaN (sqrt(-0) = -0).
///
/// Example: auto rms = sqrt(mean(mul(x, x), -1));   // [batch x n] -> [batch]
MODNORM_API Tensor sqrt(const Tensor& x);
/// Vector-Jacobian products: dy * relu'(x) (relu'(0) = 0), dy * gelu'(x) with
/// gelu'(x) = Phi(x) + x phi(x), dy * sign(x).
MODNORM_API Tensor relu_backward(const Tensor& x, const Tensor& dy);
MODNORM_API Tensor gelu_backward(const Tensor& x, const Tensor& dy);
MODNORM_API Tensor abs_backward(const Tensor& x, const Tensor& dy);

/// True when no element is NaN or +-Inf.
MODNORM_API bool all_finite(const Tensor& x);

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
/// Rows `ids` of table [n x d] -> [ids.size() x d]. Throws on an id outside [0, n).
MODNORM_API Tensor gather_rows(const Tensor& table, const std::vector<std::int64_t>& ids);
/// Columns `ids` of table [d x n] -> [d x ids.size()] (Embed: one column per token).
MODNORM_API Tensor gather_cols(const Tensor& table, const std::vector<std::int64_t>& ids);
/// In place: dst[ids[k], :] += src[k, :] for dst [n x d], src [ids.size() x d]; repeated ids add
/// up.
MODNORM_API void scatter_add_rows(Tensor& dst, const std::vector<std::int64_t>& ids,
                                  const Tensor& src);
/// In place: dst[:, ids[k]] += src[:, k] for dst [d x n], src [d x ids.size()].
MODNORM_API void scatter_add_cols(Tensor& dst, const std::vector<std::int64_t>& ids,
                                  const Tensor& src);

// ---- loss
// ----------------------------------------------------------------------------------------

/// Result of softmax_cross_entropy.
struct CrossEntropy {
  double loss;  ///< mean over the batch of -log softmax(logits)[label]
  Tensor
      grad;  ///< d loss / d logits = (softmax(logits) - onehot(labels)) / batch, [batch x classes]
};

/// Softmax cross-entropy of logits [batch x classes] (one row per example) against integer
/// labels in [0, classes), averaged over the batch; numerically stable (max-shifted).
///
/// Example: auto ce = softmax_cross_entropy(logits, {3, 1});  ce.loss, ce.grad
MODNORM_API CrossEntropy softmax_cross_entropy(const Tensor& logits,
                                               const std::vector<std::int64_t>& labels);

}  // namespace modnorm
