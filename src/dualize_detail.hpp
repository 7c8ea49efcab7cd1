#pragma once
// Shared by src/dualize.cpp, the norm rules (src/norms/), src/orthogonalize.cpp, the module core
// and the optimizer: input checks at the public boundary of dualize.hpp, the orthogonalization
// behind them (which trusts its input), and the pieces of the dual norm correction.

#include <array>
#include <string>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/tensor.hpp"
#include "tensor_checks.hpp"

namespace modnorm::detail {

/// "" when every element of t is finite; otherwise where the first non-finite one is:
/// `[3x4] f32 cpu contains NaN at [1, 2] (2 non-finite entries)` (or +Inf, -Inf).
std::string non_finite(const Tensor& t);
/// Throws `[op] input <non_finite(t)>; the input must be finite` unless t is finite.
void check_finite(const char* op, const Tensor& t);
/// Throws unless the options are usable, naming `op`.
void check_options(const char* op, const OrthogonalizeOptions& options);

/// Throws `[op] norm NAME needs <what the rule needs>, got <got>` unless `kind` measures tensors
/// of `shape` (NormRule::shape_requirement).
void check_shape(const char* op, const Norm& kind, const Shape& shape, const std::string& got);

/// Whether a check reads an input's values: `checked` throws on NaN or Inf, as every public
/// function does; `trusted` skips that (the optimizer's step, which checks everything it reads
/// and forms in one fused all_finite() afterwards, so that no rank throws alone between
/// collectives).
enum class InputValues { checked, trusted };

/// Throws unless t is a valid input of norm() or dual_norm() for `kind`: of a shape the rule
/// accepts, non-empty and (unless `values` is trusted) finite (the message names `op` and says
/// what and where).
void check_input(const char* op, const Tensor& t, const Norm& kind,
                 InputValues values = InputValues::checked);

/// check_input(), and for a rule that orthogonalizes check_options(): what dualize() checks;
/// with InputValues::trusted, all but the finiteness.
void check_dualize(const char* op, const Tensor& G, const Norm& kind,
                   const OrthogonalizeOptions& options, InputValues values = InputValues::checked);

/// dualize() after its checks (check_dualize): the rule's duality map, with the dual norm
/// correction when options ask for it.
Tensor dualize_checked(const Tensor& G, const Norm& kind, const DualizeOptions& options);

/// orthogonalize() after its checks: G is a finite non-empty matrix, options are valid.
Tensor orthogonalize_checked(const Tensor& G, const OrthogonalizeOptions& options);

/// The (a, b, c) of every Newton-Schulz step the options ask for (the method's schedule, its
/// last entry repeated up to the step count). Options are valid and the method is not svd.
std::vector<std::array<double, 3>> newton_schulz_coefficients(const OrthogonalizeOptions& options);

/// The s of X_0 = G / (s ||G||_F + epsilon): options.norm_safety, or the method's default.
double norm_safety(const OrthogonalizeOptions& options);

/// m where m > 0, 1 where m == 0 (m >= 0, e.g. a max-abs or a norm), on m's device: what a
/// slice is divided by so that a zero slice stays zero instead of becoming 0 / 0.
Tensor nonzero_or_one(const Tensor& m);

/// The lower end of a correction clamp range (the upper end is 1).
double correction_lo(CorrectionRange range);

/// Matrix b of a batch [batch, rows, cols], as a new tensor on the batch's device.
Tensor matrix_of(const Tensor& batch, std::int64_t b);

/// The dual norm correction's pairing of G with its dualized direction `dualized`
/// (= dualize(G, kind), possibly scaled by a positive factor the caller undoes):
/// <G, dualized>, or for `CorrectionPairing::orthogonalized` <G, dualized> divided by the norm's
/// shape factor (sqrt(d_out/d_in) for spectral).
double correction_pairing(const Tensor& G, const Tensor& dualized, const Norm& kind,
                          CorrectionPairing pairing);
/// The same from the inner product <G, dualized> and G's shape.
double correction_pairing(double inner, const Shape& shape, const Norm& kind,
                          CorrectionPairing pairing);

}  // namespace modnorm::detail
