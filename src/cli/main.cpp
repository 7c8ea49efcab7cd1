// The `modnorm` command: train (the default job: `train mlp|cnn|gpt`, trainer.hpp), sample (text
// from a GPT checkpoint), inspect (a checkpoint's per-layer table) and demo (a tiny tour of the
// tensor layer).
#if MODNORM_WITH_MPI
#include <mpi.h>
#endif

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/checks.hpp"
#include "cli/classifier.hpp"
#include "cli/inspect.hpp"
#include "cli/lm.hpp"
#include "cli/trainer.hpp"
#include "modnorm/modnorm.hpp"

namespace {

int run_demo(std::uint64_t seed) {
  modnorm::Generator gen(seed);
  const auto w = modnorm::Tensor::randn({4, 3}, gen);
  const auto x = modnorm::Tensor::randn({2, 3}, gen);
  const auto y = modnorm::matmul(x, w, false, true);  // y = x W^T, W is d_out x d_in
  std::cout << "modnorm " << modnorm::version() << " (CPU GEMM " << modnorm::cpu_gemm() << " on "
            << modnorm::cpu_gemm_kernels() << " kernels, CPU Conv2D " << modnorm::cpu_conv()
            << ", CUDA backend " << (MODNORM_WITH_CUDA ? "built" : "not built") << ", device "
            << (modnorm::cuda_available() ? "visible" : "not visible") << ")\n"
            << "W      = " << w << "\n"
            << "x      = " << x << "\n"
            << "x W^T  = " << y << "\n"
            << "||W||_F = " << modnorm::frobenius_norm(w) << ", max|W| = " << modnorm::max_abs(w)
            << "\n";
  return 0;
}

}  // namespace

// Every failure, a usage error, a bad value, a bad file or an exhausted machine, ends in the
// one handler below: `modnorm: <message>` on stderr and exit status 1, never an abort (but the
// MPI_Abort that ends the other ranks of a run under mpirun).
// In a run of several MPI ranks the failing one ends them all (MPI_Abort): a peer waiting for
// it in a collective would otherwise wait until the collective's timeout. A rank of a one-process
// run, or one that failed before MPI started, just returns.
void end_every_rank() {
#if MODNORM_WITH_MPI
  int started = 0, finished = 0, size = 1;
  MPI_Initialized(&started);
  if (started) MPI_Finalized(&finished);
  if (started && !finished && MPI_Comm_size(MPI_COMM_WORLD, &size) == MPI_SUCCESS && size > 1)
    MPI_Abort(MPI_COMM_WORLD, 1);
#endif
}

int main(int argc, char** argv) {
  try {
    CLI::App app{"modnorm: modular-norm composition and steepest descent"};
    app.set_version_flag("--version", std::string("modnorm ") + modnorm::version());
    app.require_subcommand(0, 1);

    modnorm::cli::MlpTask mlp;  // the first: `train` without a model trains it
    modnorm::cli::CnnTask cnn;
    modnorm::cli::GptTask gpt;
    const std::vector<modnorm::cli::Task*> models{&mlp, &cnn, &gpt};
    const CLI::App& train = modnorm::cli::add_train_command(app, models);

    std::string checkpoint;
    auto* inspect = app.add_subcommand("inspect", "Print the per-layer norm table of a checkpoint");
    inspect->add_option("checkpoint", checkpoint, "A .safetensors file written by train --save")
        ->required();

    modnorm::cli::SampleConfig sample_config;
    auto* sample = app.add_subcommand("sample", "Generate text from a GPT checkpoint");
    modnorm::cli::add_sample_flags(*sample, sample_config);

    std::uint64_t seed = 0;
    auto* demo = app.add_subcommand("demo", "Multiply two random matrices and print their norms");
    demo->add_option("--seed", seed, "Random seed")
        ->check(modnorm::cli::seed_range())
        ->capture_default_str();

    try {
      app.parse(argc, argv);
    } catch (const CLI::ExtrasError& e) {  // an argument no command takes: reported below
      const std::string explained = modnorm::cli::explain_extras(train, models, e);
      if (explained.empty()) throw;
      throw modnorm::Error(explained);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() != 0) throw;  // a usage error: reported below
      return app.exit(e);                 // --help, --version
    }
    if (train) return modnorm::cli::run_train(train, models);
    if (*sample) return modnorm::cli::run_sample(sample_config);
    if (*inspect) return modnorm::cli::run_inspect(checkpoint);
    if (*demo) return run_demo(seed);
    std::cout << app.help();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "modnorm: " + std::string(e.what()) + "\n";  // one write: ranks interleave
  } catch (...) {
    std::cerr << "modnorm: unknown error\n";
  }
  end_every_rank();
  return 1;
}
