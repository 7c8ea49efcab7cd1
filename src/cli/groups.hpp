#pragma once
// `modnorm train --group SPEC` and `--hybrid`: parameter groups from the command line
// (docs/training.md, "Muon as practitioners run it").

#include <string>
#include <vector>

#include "modnorm/modnorm.hpp"

namespace modnorm::cli {

// The help of --group: the spelling of a SPEC.
extern const char* const kGroupHelp;

// One --group SPEC, `SELECT:ALGORITHM[,key=value]...`: SELECT a comma-separated list of dotted-
// name patterns and roles (@embedding, @output, @hidden, @vector), the algorithm one of modular,
// sgd, adamw, adaptive_adam, and the keys lr, beta, betas=B1/B2, eps, nesterov=on|off, wd,
// wd-mode, rule, normuon=on|off. The group is named after its SELECT; unset keys take the
// command line's defaults for the algorithm (default_lr, default_nesterov) and the library's
// otherwise. Throws modnorm::Error `[train] --group 'SPEC': <the fault>`.
ParameterGroup parse_group(const std::string& spec);

// `main` with the groups of `specs` (and, with `hybrid`, AdamW on the embedding, the output layer
// and every vector), followed by "rest": every other parameter, under main's own rule. Without
// specs or hybrid, `main` itself. Throws as parse_group.
OptimizerOptions with_groups(const OptimizerOptions& main, const std::vector<std::string>& specs,
                             bool hybrid);

}  // namespace modnorm::cli
