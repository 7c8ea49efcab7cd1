#pragma once
/// @file report.hpp
/// Per-layer inspection (docs/modules.md): one row per atom of a module tree with its norms,
/// printable as an aligned text table, CSV, JSON and HTML (the HTML is what a notebook shows).

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "modnorm/dualize.hpp"
#include "modnorm/export.hpp"
#include "modnorm/module.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {

/// How an optimizer steps one atom (Optimizer::atom_steps()): the report's group, algorithm and
/// rate columns.
struct AtomStep {
  std::string group;      ///< the parameter group's name ("all" without groups)
  std::string algorithm;  ///< "modular", "sgd", "adamw", "adaptive_adam"
  /// The effective rate of the next step: the factor that multiplies the atom's unit direction
  /// (dualize(u) for the modular lr rule, O for the muon and rms_match rules, Adam's u, SGD's
  /// momentum) before corrections, i.e. the scheduled lr times the atom's lr multiplier, divided
  /// by c_l (modular rule) or times the rule's shape factor (LrRule).
  double rate = 0.0;
};

/// One atom's line of a report. Norms are in the atom's own norm unless named otherwise.
struct ReportRow {
  std::string name;       ///< dotted parameter name, e.g. "0.weight"
  Shape shape;            ///< weight shape
  Norm norm;              ///< the norm kind the atom is measured in
  double mass_share;      ///< m_l / M, the atom's share of the modular step (0 if M = 0)
  double weight_norm;     ///< ||W_l|| in its own norm (1 after initialize())
  double spectral_norm;   ///< sigma_max(W_l) (a vector counts as an n x 1 matrix; a batch of
                          ///< matrices, as a per-tap Conv2D weight, gives the largest)
  double grad_dual_norm;  ///< ||G_l||^dagger, the true dual norm of the gradient (dual_norm)
  std::optional<double> update_norm;   ///< ||dW_l|| of the given update (ReportOptions::updates)
  std::optional<double> update_ratio;  ///< update_norm / weight_norm (unset if weight_norm is 0)
  std::optional<AtomStep> step;        ///< how the optimizer steps it (ReportOptions::steps)
};

/// A per-layer table; print it with operator<< (text) or one of the formats below. When the
/// rows carry AtomStep data, every format has three more columns: group, algorithm, rate.
struct MODNORM_API Report {
  std::vector<ReportRow> rows;  ///< one per parameter, in Module::parameters() order

  /// Aligned plain-text table with a header line; absent values print as "-".
  std::string to_text() const;
  /// Comma-separated values with a header line; absent values are empty fields.
  std::string to_csv() const;
  /// A JSON array of objects, one per row, keys as the CSV header; absent values are null.
  std::string to_json() const;
  /// An HTML <table class="modnorm-report"> (for notebooks).
  std::string to_html() const;
};

/// What report() measures beyond the weights and gradients.
struct MODNORM_API ReportOptions {
  /// The last update of each parameter (e.g. Optimizer::last_updates()), in parameters()
  /// order; empty means no update columns.
  std::vector<Tensor> updates;
  /// How the optimizer steps each parameter (Optimizer::atom_steps()), in parameters() order;
  /// empty means no group, algorithm and rate columns.
  std::vector<AtomStep> steps;
  /// How spectral norms are estimated (orthogonal iteration by default; exact for tests).
  SpectralNormOptions spectral;

  /// Defined in libmodnorm, which exports it: clang-repl-based kernels look it up there for a
  /// defaulted argument of an expression whose value they keep (docs/notebooks.md).
  ~ReportOptions();
};

/// Measures every atom of `net` (weights, gradients and, if given, updates).
/// Throws modnorm::Error if options.updates or options.steps is non-empty but does not match
/// the parameters in count (or the updates in shapes, naming the parameter), or on NaN/Inf
/// weights (as modnorm::norm).
///
/// Example:
///   std::cout << modnorm::report(net);                     // text table
///   std::ofstream("layers.csv") << modnorm::report(net).to_csv();
MODNORM_API Report report(const Module& net, const ReportOptions& options = {});

/// Prints report.to_text().
MODNORM_API std::ostream& operator<<(std::ostream& os, const Report& report);

}  // namespace modnorm
