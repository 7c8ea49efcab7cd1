#pragma once
/// @file dualize.hpp
/// Norms, dual norms and duality maps of any norm rule (norm.hpp: `Norm::spectral`, ...), with
/// the input checks and the dual norm correction around them, and the Newton-Schulz family that
/// computes the spectral duality map U V^T. The theory, with sources, is in docs/theory.md.
///
/// Conventions: a weight W (and its gradient G) is a `d_out x d_in` matrix (y = W x); the
/// inner product is the Frobenius one, <A, B> = sum_ij A_ij B_ij; the duality map of a norm is
/// dualize(G) = argmax_{||T|| = 1} <G, T> and the dual norm is <G, dualize(G)> for the exact
/// map (dual_norm() computes it exactly; dual_pairing() is the pairing with an approximate map).

#include <cstdint>
#include <optional>
#include <vector>

#include "modnorm/export.hpp"
#include "modnorm/norm.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// One step of an odd polynomial iteration X <- a X + b (X X^T) X + c (X X^T)^2 X, i.e. the
/// scalar map p(x) = a x + b x^3 + c x^5 applied to every singular value of X. c = 0 gives a
/// cubic step (one matrix product fewer).
///
/// Example: modnorm::QuinticCoefficients jordan{3.4445, -4.7750, 2.0315};
struct QuinticCoefficients {
  double a = 0.0;  ///< coefficient of x
  double b = 0.0;  ///< coefficient of x^3
  double c = 0.0;  ///< coefficient of x^5
};

/// How orthogonalize() approximates the polar factor U V^T. Each Newton-Schulz method divides
/// G by its Frobenius norm (times a safety factor) so that every singular value x = sigma /
/// ||G||_F lies in [0, 1], then applies its polynomial schedule; the result is U f(S) V^T with
/// f the composed scalar map (docs/theory.md). The band is the range of the output singular
/// values f(x) for inputs with x >= 1e-2, measured against Eigen's SVD on random,
/// ill-conditioned and degenerate matrices (docs/theory.md, "Bands") and rounded outward; the
/// bf16 bands add 0.02 on each side (rounding every product to bf16 moves output singular values
/// by up to about 1% on small matrices).
/// Inputs with x < 1e-2 map somewhere in [0, max] (zero stays zero; note x >= 1 / sqrt(rank)
/// for the largest one, so sigma_max(G) is in the band for any matrix of rank <= 10^4).
///
/// | method          | steps | band, f32        | max f32 | band, bf16   | max bf16 |
/// |-----------------|-------|------------------|---------|--------------|----------|
/// | `quintic`       | 5     | [0.68, 1.14]     | 1.21    | [0.66, 1.16] | 1.23     |
/// | `polar_express` | 5     | [0.87, 1.13]     | 1.13    | [0.85, 1.15] | 1.15     |
/// | `seed_tuned`    | 5     | [0.99, 1.11]     | 1.11    | [0.97, 1.13] | 1.13     |
/// | `modula`        | 6     | [0.995, 1.0]     | 1.0     | [0.98, 1.02] | 1.02     |
/// | `cubic`         | 15    | [0.9999, 1.0001] | 1.0001  | [0.98, 1.02] | 1.02     |
/// | `custom`        | list  | that of the list |         |              |          |
/// | `svd`           | exact | exactly 1        | 1       | (in double)  |          |
enum class OrthogonalizeMethod : std::uint8_t {
  /// Fixed quintic (3.4445, -4.7750, 2.0315) every step: Jordan et al. 2024 (Muon), as in
  /// optax contrib/_muon.py. Input divided by ||G||_F.
  quintic,
  /// Polar Express (Amsel, Persson, Musco, Gower 2025, arXiv:2505.16932, Algorithm 1): the
  /// published per-step degree-5 list with safety factor 1.01 (a/1.01, b/1.01^3, c/1.01^5 on
  /// all but the last entry), input divided by 1.01 * ||G||_F.
  polar_express,
  /// A per-step tuned set of five quintics, (2.9145, -4.3663, 2.4515), (2.9131, -4.3582,
  /// 2.4446), (2.9030, -4.3145, 2.4106), (2.8317, -4.0251, 2.1928), (2.8392, -3.3535, 1.5149),
  /// from the dual-norm-corrected Muon variant of docs/theory.md ("Dual norm correction").
  seed_tuned,
  /// modula's six-step set (modula-systems/modula atom.py; found by @YouJiacheng).
  modula,
  /// The classical Newton-Schulz cubic X <- 1.5 X - 0.5 X X^T X (Higham 2008, ch. 8).
  cubic,
  /// The user's list in OrthogonalizeOptions::coefficients.
  custom,
  /// The exact polar factor U V^T from Eigen's SVD, computed on the host in double whatever
  /// the tensor's device and compute_dtype (a reference: slow for large matrices).
  svd,
};

/// "quintic", "polar_express", "seed_tuned", "modula", "cubic", "custom", "svd".
MODNORM_API const char* to_string(OrthogonalizeMethod method);

/// The coefficient schedule a method uses (one entry per step; a run with more steps than
/// entries repeats the last one). Empty for `custom` and `svd`.
///
/// Example: auto pe = modnorm::orthogonalize_schedule(OrthogonalizeMethod::polar_express);
MODNORM_API std::vector<QuinticCoefficients> orthogonalize_schedule(OrthogonalizeMethod method);

/// Options of orthogonalize(). Defaults give Muon's 5-step quintic in f32.
struct MODNORM_API OrthogonalizeOptions {
  /// Which approximation of U V^T (see OrthogonalizeMethod).
  OrthogonalizeMethod method = OrthogonalizeMethod::quintic;
  /// Number of iteration steps; unset means the method's default (table above; for `custom`
  /// the length of `coefficients`). Step k (0-based) uses schedule entry min(k, size - 1): a
  /// schedule shorter than `steps` repeats its last entry, a longer one is cut after `steps`.
  /// Must be >= 1 when set. Ignored by `svd`.
  std::optional<int> steps;
  /// The schedule for `method == custom` (must be non-empty then, and empty otherwise).
  std::vector<QuinticCoefficients> coefficients;
  /// The iteration starts from X_0 = G / (norm_safety * ||G||_F). Unset means the method's
  /// value: 1.01 for `polar_express`, 1 otherwise. Must be >= 1 (so that X_0 has singular
  /// values in [0, 1]).
  std::optional<double> norm_safety;
  /// Added to the scaled norm before dividing: X_0 = G / (norm_safety * ||G||_F + epsilon).
  /// 0 (default) keeps the map invariant under scaling G (a zero G gives zeros either way).
  /// Other implementations add a constant: 1e-8 reproduces optax's
  /// `orthogonalize_via_newton_schulz` (its `eps`), 1e-7 the reference PyTorch Muon code
  /// (docs/theory.md, "Conventions of other implementations"). Must be finite and >= 0.
  /// Ignored by `svd`.
  ///
  /// Example: OrthogonalizeOptions optax_like; optax_like.epsilon = 1e-8;
  double epsilon = 0.0;
  /// Arithmetic of the iterates: `f32` (default); `bf16` rounds every iterate to bf16 after
  /// each product, as GPU implementations do (products still accumulate in f32); `f64` for
  /// references. Ignored by `svd`.
  DType compute_dtype = DType::f32;

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~OrthogonalizeOptions();
};

/// The polar factor U V^T of a matrix G = U S V^T (reduced SVD), approximately for the
/// Newton-Schulz methods (see OrthogonalizeMethod for the singular-value bands). Same shape,
/// dtype and device as G. Tall inputs (rows > cols) are transposed internally so the Gram
/// matrix X X^T is the small one. A zero matrix gives a zero matrix. The result is invariant
/// under scaling G by any positive factor (tiny gradients, e.g. 1e-30, orthogonalize like any
/// other) unless OrthogonalizeOptions::epsilon is set (the reference PyTorch code adds 1e-7 to
/// ||G||_F, optax 1e-8).
///
/// A rank-3 G is a batch [batch, rows, cols] of same-shaped matrices: each is orthogonalized on
/// its own (its own ||G||_F), and the result has G's shape. On the GPU a batch runs as one
/// strided-batched product per step instead of `batch` small ones.
///
/// Throws modnorm::Error if G is not a non-empty matrix or batch of matrices, holds NaN or Inf
/// (the message says which and where), or the options are invalid (steps < 1, an empty or
/// misplaced coefficient list, norm_safety < 1, a negative or non-finite epsilon, an
/// unsupported compute_dtype).
///
/// Example:
///   modnorm::Generator gen(0);
///   auto g = modnorm::Tensor::randn({256, 512}, gen);
///   auto o = modnorm::orthogonalize(g);                                   // quintic, 5 steps
///   modnorm::OrthogonalizeOptions exact;
///   exact.method = modnorm::OrthogonalizeMethod::svd;
///   auto uv = modnorm::orthogonalize(g, exact);                           // U V^T
MODNORM_API Tensor orthogonalize(const Tensor& G, const OrthogonalizeOptions& options = {});

/// Clamp range of the dual norm correction.
enum class CorrectionRange : std::uint8_t {
  symmetric,    ///< [-1, 1]
  nonnegative,  ///< [0, 1]
};

/// What the dual norm correction pairs G with (docs/theory.md, "Dual norm correction"). The two
/// differ by the norm's shape factor (NormRule::shape_factor: sqrt(d_out/d_in) for `spectral`, 1
/// for the other built-in norms).
enum class CorrectionPairing : std::uint8_t {
  /// <G, dualize(G)>: for `spectral` sqrt(d_out/d_in) <G, O> with O = orthogonalize(G), the
  /// dual norm of G in the atom's own norm (this library's default).
  dualized,
  /// <G, dualize(G)> / shape factor, the shape factor applied to the direction only: the form of
  /// the published
  /// dual-norm-corrected Muon code, which pairs the gradient with the unscaled orthogonalized
  /// matrix and scales afterwards. Use it to reproduce that code on every shape.
  orthogonalized,
};

/// The dual norm correction: scale the dualized tensor by clamp(<G, dualize(G)>, lo, hi), so
/// that the step shrinks when the gradient does (docs/theory.md, "Dual norm correction"). For
/// `spectral` the factor is the clamped scaled nuclear norm (with the map in use), for `sign`
/// the clamped ||G||_1. (<G, dualize(G)> is >= 0, so both ranges agree here; they differ where
/// an optimizer pairs the dualized momentum with the raw gradient.)
///
/// Example: DualizeOptions o; o.dual_norm_correction.enabled = true;
struct DualNormCorrection {
  bool enabled = false;                                     ///< off by default
  CorrectionRange range = CorrectionRange::symmetric;       ///< [-1, 1] unless set
  CorrectionPairing pairing = CorrectionPairing::dualized;  ///< <G, dualize(G)> unless set
};

/// Options of dualize() and dual_pairing().
struct MODNORM_API DualizeOptions {
  /// How a norm that orthogonalizes (`spectral`) computes U V^T.
  OrthogonalizeOptions orthogonalize;
  /// Optional scaling by the clamped pairing (dualize() only).
  DualNormCorrection dual_norm_correction;

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~DualizeOptions();
};

/// The duality map of `kind` (table at Norm): the unit-norm direction T maximising <G, T>.
/// Same shape, dtype and device as G. A zero G (or a zero column, for `column`) gives zeros,
/// never NaN. With `options.dual_norm_correction.enabled` the result is further scaled by
/// clamp(<G, dualize(G)>, lo, hi).
///
/// Throws modnorm::Error if G is empty, has a shape the norm does not measure
/// (NormRule::shape_requirement: a matrix for `column`, a matrix or batch of matrices for
/// `spectral`), holds NaN or Inf (the message says which and where), or the orthogonalize options
/// of a norm that orthogonalizes are invalid.
///
/// Example:
///   auto step = modnorm::dualize(grad, modnorm::Norm::spectral);   // sqrt(d_out/d_in) U V^T
///   auto s = modnorm::dualize(grad, modnorm::Norm::sign);          // sign(grad)
MODNORM_API Tensor dualize(const Tensor& G, const Norm& kind, const DualizeOptions& options = {});

/// The dual norm of G in `kind` (table at Norm), in G's units: the true dual norm, whatever
/// Newton-Schulz variant a step uses. `spectral`: sqrt(d_out/d_in) ||G||_*, with ||G||_* the sum
/// of the square roots of the eigenvalues of the smaller Gram matrix (G G^T or G^T G, k x k
/// with k = min(d_out, d_in)), formed in f64 on G's device after dividing G by its max-abs;
/// the eigenvalues are computed on the host (Eigen, double). Accuracy: each singular value to
/// about 1e-8 sigma_max, so within 1e-6 relative for k <= 10^2 and 1e-4 for k <= 10^4, on any
/// conditioning or rank (tests check 1e-6 against the SVD). Cost: one f64 product of
/// 2 d_out d_in k flops plus a k x k symmetric eigenproblem on the host (~4 k^3 flops), about
/// one 5-step quintic on the CPU (docs/theory.md, "Dual norms"). A `spectral` batch gives the
/// sum over its matrices. The other kinds use their closed forms (in f64).
///
/// Throws modnorm::Error if G is empty, has a shape the norm does not measure, or holds NaN or
/// Inf.
///
/// Example: double d = modnorm::dual_norm(grad, modnorm::Norm::spectral);  // sqrt(m/n) ||G||_*
MODNORM_API double dual_norm(const Tensor& G, const Norm& kind);

/// The pairing <G, dualize(G, kind, options)> of G with the duality map in use (the dual norm
/// correction's quantity, without the correction itself). With the exact polar factor
/// (OrthogonalizeMethod::svd) it is dual_norm(G, kind); with a Newton-Schulz method the
/// nuclear norm is weighted by the method's band (the default quintic gives 13-30% less on
/// Gaussian matrices, up to 7% more on tall thin ones). Non-spectral kinds: dual_norm's value.
///
/// Throws as dualize().
///
/// Example: double p = modnorm::dual_pairing(grad, modnorm::Norm::spectral);
MODNORM_API double dual_pairing(const Tensor& G, const Norm& kind,
                                const DualizeOptions& options = {});

/// Options of spectral_norm(): orthogonal (block power) iteration on W^T W, or the exact SVD.
struct SpectralNormOptions {
  /// Stop when the estimate changes by less than this, relative, between two iterations.
  double tolerance = 1e-5;
  /// Give up after this many iterations (the estimate is still a lower bound).
  int max_iterations = 100;
  /// Seed of the random start vectors (the result is deterministic for a given seed).
  std::uint64_t seed = 0;
  /// Use the exact largest singular value from Eigen's SVD (on the host, in double).
  bool exact = false;
};

/// The largest singular value sigma_max(W) of a matrix, by orthogonal iteration with 4 vectors
/// (products in f64 on W's device; the host sees only 4 x 4 matrices, once every two products;
/// docs/theory.md) or exactly by SVD. The iteration converges from below: the estimate never
/// exceeds the true value by more than rounding, and nearly equal top singular values do not
/// slow it. Scale-safe (subnormal or huge entries are fine). A zero matrix gives 0. For a batch
/// of matrices [B, rows, cols], the largest sigma_max over the batch.
///
/// Throws modnorm::Error if W is not a non-empty matrix or batch of matrices, holds NaN or Inf,
/// or tolerance <= 0 or max_iterations < 1.
///
/// Example: double s = modnorm::spectral_norm(w);   // ~ sqrt(d_out) + sqrt(d_in) for randn
MODNORM_API double spectral_norm(const Tensor& W, const SpectralNormOptions& options = {});

/// The norm of a weight W in `kind` (table at Norm), in W's units; `spectral` uses
/// spectral_norm(W, options) (`options` is ignored by the other kinds). A well-normed weight
/// has norm 1, and so does dualize(G, kind) for any non-zero G.
///
/// Throws modnorm::Error as dualize() (and spectral_norm() for `spectral`).
///
/// Example: double n = modnorm::norm(w, modnorm::Norm::spectral);
MODNORM_API double norm(const Tensor& W, const Norm& kind, const SpectralNormOptions& options = {});

}  // namespace modnorm
