#pragma once
// `modnorm inspect CKPT`: the per-layer table of a checkpoint written by `train --save`.

#include <string>

namespace modnorm::cli {

/// Prints the model a checkpoint holds (its sizes, and the epochs or steps done and the optimizer
/// when the metadata has them), its module tree and its per-layer norm table; returns the exit
/// code. The model's shape must be in the metadata (docs/checkpoints.md). Throws modnorm::Error
/// naming the file and the fault.
int run_inspect(const std::string& checkpoint);

}  // namespace modnorm::cli
