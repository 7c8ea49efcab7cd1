// The seed experiment: minimise L(X) = ||I - X^T X||_F^2 over a 2x2 matrix X
// with Muon, Muon with dual norm correction ("adaptive Muon"), Adam and adaptive Adam, in f32
// and bf16, at momentum beta 0.95, 0.5 and 0, from several Gaussian starts. Writes every loss
// curve to a CSV (optimizer,dtype,beta,start,step,loss; plot it with scripts/plot) and prints a
// summary table. Results and discussion: docs/benchmarks.md, "The seed experiment".
//
// Run: ./build/bin/orthogonality_toy [--csv orthogonality_toy.csv] [--steps 300] [--starts 8]
//                                    [--seed 0] [--muon-lr 0.05] [--adam-lr 0.05]
//
// Setup. X is the weight of one Linear(2, 2) atom (AtomOptions::dtype f32 or bf16), so the
// optimizer keeps X, its gradient and its state in that dtype. The loss and its gradient are
// computed in double from the stored values of X; the gradient is rounded once into the
// parameter's grad (so bf16 runs measure bf16 storage of weights and optimizer state, not a
// bf16 evaluation of X^T X - I, which would cancel catastrophically near the optimum).
// Every optimizer starts from the same matrices (start k is the k-th randn draw of a
// Generator seeded with --seed); bf16 runs start from their bf16 rounding.
//
// Optimizers (modnorm::OptimizerOptions; one atom of mass 1 at the root, so c_l = 1):
//   muon           algorithm modular, spectral norm, Muon's 5-step quintic Newton-Schulz,
//                  EMA momentum without Nesterov, constant lr, no correction, no weight decay.
//                  For a 2x2 Linear the step is Delta X = -lr * U V^T (approximately).
//   adaptive_muon  the same with correction.mode = per_layer: the step is multiplied by
//                  clamp(<m, dualize(m)>, -1, 1), the momentum's (approximate) nuclear norm;
//                  with one atom per_layer and global coincide.
//   adam           algorithm adamw with weight decay off (beta1 = beta, beta2 0.999, eps 1e-8).
//   adaptive_adam  the seed's adaptive Adam: Adam's step scaled by clamp(<m_hat, u>, -1, 1).
// Default lr 0.05 for both families (constant, no schedule): Muon moves every singular value of
// X by ~lr per step and Adam every entry by ~lr at first, so the two pairs take steps of the
// same size.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <modnorm/modnorm.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using modnorm::DType;

/// A 2x2 matrix in double, row-major: {x00, x01, x10, x11}.
using Mat2 = std::array<double, 4>;

/// E = X^T X - I (symmetric).
Mat2 gram_minus_identity(const Mat2& x) {
  const double e00 = x[0] * x[0] + x[2] * x[2] - 1.0;
  const double e01 = x[0] * x[1] + x[2] * x[3];
  const double e11 = x[1] * x[1] + x[3] * x[3] - 1.0;
  return {e00, e01, e01, e11};
}

/// L(X) = ||I - X^T X||_F^2 = ||E||_F^2.
double loss(const Mat2& x) {
  const Mat2 e = gram_minus_identity(x);
  return e[0] * e[0] + e[1] * e[1] + e[2] * e[2] + e[3] * e[3];
}

/// dL/dX = 4 X E. Derivation: L = tr(E^T E) = tr(E E) since E is symmetric, and
/// dE = dX^T X + X^T dX, so dL = 2 tr(E dE) = 2 tr(E dX^T X) + 2 tr(E X^T dX). With
/// tr(A B^T) = <A, B>: tr(E dX^T X) = tr(X E dX^T) = <X E, dX> and
/// tr(E X^T dX) = tr((X E)^T dX) = <X E, dX>; hence dL = <4 X E, dX>.
Mat2 gradient(const Mat2& x) {
  const Mat2 e = gram_minus_identity(x);
  return {4.0 * (x[0] * e[0] + x[1] * e[2]), 4.0 * (x[0] * e[1] + x[1] * e[3]),
          4.0 * (x[2] * e[0] + x[3] * e[2]), 4.0 * (x[2] * e[1] + x[3] * e[3])};
}

/// Checks gradient() against central differences of loss() at a few random X; throws on a
/// relative error above 1e-6 (central differences in double with h = 1e-5 reach ~1e-10).
void check_gradient(modnorm::Generator& gen) {
  constexpr double h = 1e-5;
  for (int trial = 0; trial < 4; ++trial) {
    Mat2 x;
    for (double& v : x) v = gen.normal();
    const Mat2 g = gradient(x);
    for (std::size_t i = 0; i < 4; ++i) {
      Mat2 plus = x, minus = x;
      plus[i] += h;
      minus[i] -= h;
      const double fd = (loss(plus) - loss(minus)) / (2.0 * h);
      const double err = std::abs(fd - g[i]) / std::max(1.0, std::abs(g[i]));
      if (!(err <= 1e-6)) {
        std::ostringstream msg;
        msg << "[orthogonality_toy] gradient check failed at entry " << i << ": 4 X E gives "
            << g[i] << ", central difference " << fd << " (relative error " << err << ")";
        throw std::runtime_error(msg.str());
      }
    }
  }
}

struct Variant {
  std::string name;
  modnorm::OptimizerOptions options;
};

/// The four optimizers of the experiment at momentum `beta` (see the header comment).
std::vector<Variant> variants(double beta, double muon_lr, double adam_lr) {
  modnorm::OptimizerOptions muon;
  muon.algorithm = modnorm::Algorithm::modular;
  muon.lr = muon_lr;
  muon.beta = beta;
  modnorm::OptimizerOptions adaptive_muon = muon;
  adaptive_muon.correction.mode = modnorm::CorrectionMode::per_layer;
  modnorm::OptimizerOptions adam;
  adam.algorithm = modnorm::Algorithm::adamw;
  adam.lr = adam_lr;
  adam.beta = beta;
  adam.weight_decay.mode = modnorm::WeightDecay::off;
  modnorm::OptimizerOptions adaptive_adam = adam;
  adaptive_adam.algorithm = modnorm::Algorithm::adaptive_adam;
  return {{"muon", muon},
          {"adaptive_muon", adaptive_muon},
          {"adam", adam},
          {"adaptive_adam", adaptive_adam}};
}

Mat2 to_mat(const modnorm::Tensor& x) {
  const std::vector<double> v = x.to_vector_f64();
  return {v[0], v[1], v[2], v[3]};
}

/// The loss after 0, 1, ..., steps optimizer steps from X = x0 (rounded to dtype).
std::vector<double> run(const modnorm::OptimizerOptions& options, DType dtype,
                        const modnorm::Tensor& x0, int steps) {
  modnorm::AtomOptions atom;
  atom.dtype = dtype;
  const modnorm::Linear net(2, 2, atom);
  modnorm::Parameter p = net.parameters()[0];  // handles to the atom's weight and grad
  modnorm::axpy(1.0, x0.to(dtype), p.weight, 0.0);
  modnorm::Optimizer opt(net, options);

  std::vector<double> curve;
  curve.reserve(static_cast<std::size_t>(steps) + 1);
  for (int t = 0;; ++t) {
    const Mat2 x = to_mat(p.weight);
    curve.push_back(loss(x));
    if (t == steps) break;
    const Mat2 g = gradient(x);
    const modnorm::Tensor g_tensor =
        modnorm::Tensor::from_vector_f64({g[0], g[1], g[2], g[3]}, {2, 2}).to(dtype);
    modnorm::axpy(1.0, g_tensor, p.grad, 0.0);  // overwrite: grad = dL/dX
    opt.step();
  }
  return curve;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Args {
  std::string csv = "orthogonality_toy.csv";
  int steps = 300;
  int starts = 8;
  std::uint64_t seed = 0;
  double muon_lr = 0.05;
  double adam_lr = 0.05;
};

Args parse_args(int argc, char** argv) {
  Args a;
  const auto usage = [] {
    return std::string(
        "usage: orthogonality_toy [--csv PATH] [--steps N] [--starts N] [--seed N] "
        "[--muon-lr X] [--adam-lr X]");
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage() << "\n";
      std::exit(0);
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag + "\n" + usage());
    const std::string value = argv[++i];
    try {
      if (flag == "--csv")
        a.csv = value;
      else if (flag == "--steps")
        a.steps = std::stoi(value);
      else if (flag == "--starts")
        a.starts = std::stoi(value);
      else if (flag == "--seed")
        a.seed = std::stoull(value);
      else if (flag == "--muon-lr")
        a.muon_lr = std::stod(value);
      else if (flag == "--adam-lr")
        a.adam_lr = std::stod(value);
      else
        throw std::runtime_error("unknown flag " + flag);
    } catch (const std::logic_error&) {  // stoi/stod: invalid_argument, out_of_range
      throw std::runtime_error("bad value '" + value + "' for " + flag);
    }
  }
  if (a.steps < 1 || a.starts < 1)
    throw std::runtime_error("--steps and --starts must be >= 1\n" + usage());
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse_args(argc, argv);
    modnorm::Generator check_gen(12345);
    check_gradient(check_gen);

    modnorm::Generator gen(args.seed);
    std::vector<modnorm::Tensor> starts;
    for (int k = 0; k < args.starts; ++k) starts.push_back(modnorm::Tensor::randn({2, 2}, gen));

    std::ofstream csv(args.csv);
    if (!csv) throw std::runtime_error("cannot open " + args.csv + " for writing");
    csv << "optimizer,dtype,beta,start,step,loss\n";
    char line[160];

    // Summary columns: the median over starts of the final loss and of the loss at step
    // `early`, and the median over starts and the last `window` steps pooled (a floor estimate
    // that does not depend on where an oscillating run happens to be at the last step).
    const int early = std::min(50, args.steps);
    const int window = std::min(50, args.steps);
    std::cout << "L(X) = ||I - X^T X||_F^2, X 2x2; " << args.starts << " Gaussian starts (seed "
              << args.seed << "), " << args.steps << " steps, lr " << args.muon_lr
              << " (Muon pair), " << args.adam_lr << " (Adam pair); gradient check passed\n\n";
    std::cout << std::left << std::setw(15) << "optimizer" << std::setw(6) << "dtype"
              << std::setw(6) << "beta" << std::right << std::setw(13) << "median final"
              << std::setw(11) << "min" << std::setw(11) << "max" << std::setw(13)
              << ("median@" + std::to_string(early)) << std::setw(15)
              << ("last" + std::to_string(window) + " median") << "\n";

    for (const DType dtype : {DType::f32, DType::bf16}) {
      for (const double beta : {0.95, 0.5, 0.0}) {
        for (const Variant& v : variants(beta, args.muon_lr, args.adam_lr)) {
          std::vector<double> finals, at_early, tail;
          for (int k = 0; k < args.starts; ++k) {
            const std::vector<double> curve =
                run(v.options, dtype, starts[static_cast<std::size_t>(k)], args.steps);
            for (std::size_t t = 0; t < curve.size(); ++t) {
              std::snprintf(line, sizeof line, "%s,%s,%g,%d,%zu,%.9e\n", v.name.c_str(),
                            modnorm::to_string(dtype), beta, k, t, curve[t]);
              csv << line;
            }
            finals.push_back(curve.back());
            at_early.push_back(curve[static_cast<std::size_t>(early)]);
            tail.insert(tail.end(), curve.end() - window, curve.end());
          }
          std::snprintf(line, sizeof line, "%-15s%-6s%-6g%13.3e%11.3e%11.3e%13.3e%15.3e\n",
                        v.name.c_str(), modnorm::to_string(dtype), beta, median(finals),
                        *std::min_element(finals.begin(), finals.end()),
                        *std::max_element(finals.begin(), finals.end()), median(at_early),
                        median(tail));
          std::cout << line;
        }
      }
    }
    csv.close();
    if (!csv) throw std::runtime_error("error writing " + args.csv);
    std::cout << "\nwrote " << args.csv << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
