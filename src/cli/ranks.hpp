#pragma once
// `mpirun -np W modnorm train ...` (docs/distributed.md): every rank trains on its share of each
// batch with the optimizer sharded over the world; rank 0 alone prints, logs and writes
// checkpoints. Without mpirun the world is one process and nothing changes.

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// The flags that only rank 0 uses (the outputs), which the other ranks may be given otherwise.
inline const std::set<std::string> kRankZeroFlags = {"--json", "--log", "--save"};

class Ranks {
 public:
  // The world: MPI for CPU training, NCCL for CUDA training when started by an MPI launcher.
  // The other ranks' standard output goes to /dev/null (their errors still reach stderr).
  explicit Ranks(Device device) {
    distributed::InitOptions options;
    if (device == Device::cuda && distributed::is_available(distributed::Transport::nccl) &&
        std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr)
      options.transport = distributed::Transport::nccl;
    group = distributed::init(options);
    if (!writes() && std::freopen("/dev/null", "w", stdout) == nullptr)
      throw Error("[train] rank " + std::to_string(group.rank()) + ": cannot silence stdout");
  }

  // Throws modnorm::Error on every rank, naming the first flag that differs and its values,
  // unless every rank runs the same modnorm with the same `flags` (given flag -> its value as
  // typed, and "train" -> the model) but for the ones only rank 0 uses (kRankZeroFlags). One
  // collective; call it before the first step, on every rank.
  void check_same_flags(const std::map<std::string, std::string>& flags, Device device) const;

  // Whether this rank prints, logs and writes checkpoints.
  bool writes() const { return group.rank() == 0; }

  // This rank's items of a batch (example ids, window offsets).
  template <typename T>
  std::vector<T> mine(const std::vector<T>& batch) const {
    const distributed::Share part =
        distributed::share(static_cast<std::int64_t>(batch.size()), group);
    return std::vector<T>(batch.begin() + part.begin, batch.begin() + part.begin + part.count);
  }

  // The gradient of this rank's mean loss times this, summed over the ranks, is the gradient of
  // the whole batch's mean loss.
  double share_of_mean(std::size_t mine, std::size_t batch) const {
    return static_cast<double>(mine) / static_cast<double>(batch);
  }

  // The sums over the ranks of `values` (e.g. loss times items, correct answers).
  std::vector<double> sum(const std::vector<double>& values, Device device) const {
    if (group.size() == 1) return values;
    const Tensor local =
        Tensor::from_vector_f64(values, {static_cast<std::int64_t>(values.size())}).to(device);
    return distributed::all_sum(local, group).to_vector_f64();
  }

  // The log's columns of the last step's communication: "ranks,comm_bytes,comm_seconds".
  static const char* log_header() { return ",ranks,comm_bytes,comm_seconds"; }
  std::string log_row(const distributed::Stats& before, const distributed::Stats& after) const {
    return "," + std::to_string(group.size()) + "," +
           std::to_string(after.bytes_sent - before.bytes_sent) + "," +
           std::to_string(after.seconds - before.seconds);
  }

  distributed::Group group;
};

}  // namespace modnorm::cli
