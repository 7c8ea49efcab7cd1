// orthogonalize() of a tall matrix whose row blocks are spread over the ranks of a group
// (optim.hpp): the sharded optimizer's way to split one large matrix's Newton-Schulz
// iteration between several ranks (docs/distributed.md, "What is sharded").
//
// For X = [X_1; X_2; ...] (row blocks) the small Gram matrix is a sum over the blocks,
// A = X^T X = sum_k X_k^T X_k, and a step X <- X (a I + b A + c A A) acts on each block alone.
// So every step is one all_sum of the n x n matrix A; the normalisation X_0 = G / (s ||G||_F +
// epsilon), after dividing by the max-abs as orthogonalize() does, needs the max and the sum of
// squares over all blocks. The result equals orthogonalize(X) up to the order of the sums.
#include <algorithm>
#include <cmath>

#include "dualize_detail.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/optim.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {

std::vector<Tensor> orthogonalize_rows(const std::vector<Tensor>& pieces,
                                       const distributed::Group& group,
                                       const OrthogonalizeOptions& options) {
  constexpr const char* op = "orthogonalize_rows";
  detail::check_options(op, options);
  if (options.method == OrthogonalizeMethod::svd || options.compute_dtype == DType::bf16)
    fail(op, std::string("needs a Newton-Schulz method with f32 or f64 iterates, got method ") +
                 to_string(options.method) + " with " + to_string(options.compute_dtype) +
                 " iterates");
  if (pieces.empty()) fail(op, "needs at least one piece (a [0, cols] one for no rows)");
  const Tensor& first = pieces[0];
  for (const Tensor& p : pieces) {
    if (p.rank() != 2 || p.dim(1) != first.dim(-1) || p.dtype() != first.dtype() ||
        p.device() != first.device())
      fail(op, "pieces must be matrices of one width, dtype and device, got " + first.describe() +
                   " and " + p.describe());
    detail::check_finite(op, p);
  }
  return detail::orthogonalize_rows_checked(pieces, group, options);
}

namespace detail {

std::vector<Tensor> orthogonalize_rows_checked(const std::vector<Tensor>& pieces,
                                               const distributed::Group& group,
                                               const OrthogonalizeOptions& options) {
  constexpr const char* op = "orthogonalize_rows";
  const Tensor& first = pieces[0];
  const std::int64_t cols = first.dim(1);
  const int ranks = group.size();
  const DType work = options.compute_dtype == DType::f64 ? DType::f64 : DType::f32;

  // Every rank's max-abs (its own slot) and row count, summed: the global max and the height.
  double local_max = 0.0;
  std::int64_t local_rows = 0;
  for (const Tensor& p : pieces) {
    if (p.numel() > 0) local_max = std::max(local_max, max_abs(p));
    local_rows += p.dim(0);
  }
  std::vector<double> slots(static_cast<std::size_t>(ranks) + 1, 0.0);
  slots[static_cast<std::size_t>(group.rank())] = local_max;
  slots.back() = static_cast<double>(local_rows);
  const Tensor local = Tensor::from_vector_f64(slots, {ranks + 1}).to(first.device());
  const std::vector<double> summed = distributed::all_sum(local, group).to_vector_f64();
  const double rows = summed.back();
  if (rows < static_cast<double>(cols) || cols == 0)
    fail(op, "the matrix must be tall (rows >= cols >= 1); its pieces have " +
                 std::to_string(static_cast<std::int64_t>(rows)) + " rows in all and " +
                 std::to_string(cols) + " columns");
  const double largest = *std::max_element(summed.begin(), summed.end() - 1);

  // X_0 = (G / m) / (s ||G / m||_F + epsilon / m), as orthogonalize() (a zero G stays zero).
  const double m = largest > 0.0 ? largest : 1.0;
  std::vector<Tensor> x;
  double squares = 0.0;
  for (const Tensor& p : pieces) {
    x.push_back(scale(p.to(work), 1.0 / m));
    const double norm = x.back().numel() > 0 ? frobenius_norm(x.back()) : 0.0;
    squares += norm * norm;
  }
  const double norm = std::sqrt(
      distributed::all_sum(Tensor::from_vector_f64({squares}, {1}).to(first.device()), group)
          .item());
  const double factor =
      norm == 0.0 ? 1.0 : 1.0 / (detail::norm_safety(options) * norm + options.epsilon / m);
  for (Tensor& piece : x) piece = scale(piece, factor);

  // X_k <- X_k (a I + b A + c A A), A = sum over every rank's blocks of X_k^T X_k.
  for (const auto& [a, b, c] : detail::newton_schulz_coefficients(options)) {
    Tensor gram = Tensor::zeros({cols, cols}, work, first.device());
    for (const Tensor& piece : x)
      if (piece.numel() > 0) gemm(1.0, piece, true, piece, false, 1.0, gram);
    const Tensor A = distributed::all_sum(gram, group);
    Tensor B = scale(Tensor::eye(cols, work, first.device()), a);
    axpy(b, A, B);
    if (c != 0.0) gemm(c, A, false, A, false, 1.0, B);
    for (Tensor& piece : x)
      if (piece.numel() > 0) piece = matmul(piece, B);
  }
  for (Tensor& piece : x) piece = piece.to(first.dtype());
  return x;
}

}  // namespace detail
}  // namespace modnorm
