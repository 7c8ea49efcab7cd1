// ResCNN built from atoms and bonds by the composition rules (jxbz/modula compound.py).
#include "modnorm/models/rescnn.hpp"

#include <cmath>

#include "modnorm/module_checks.hpp"
#include "modnorm/modules/activations.hpp"
#include "modnorm/modules/add.hpp"
#include "modnorm/modules/linear.hpp"
#include "modnorm/modules/pool.hpp"
#include "modnorm/modules/rms_norm.hpp"
#include "modnorm/modules/scale.hpp"
#include "modnorm/modules/sequential.hpp"

namespace modnorm {
namespace {

void check_sizes(const ResCNNOptions& o) {
  for (const auto& [name, value] : {std::pair{"in_channels", o.in_channels},
                                    {"classes", o.classes},
                                    {"blocks", o.blocks},
                                    {"block_depth", o.block_depth},
                                    {"kernel", o.kernel}})
    if (value < 1 || value > (std::int64_t{1} << 20))
      fail("ResCNN", std::string(name) + " must be in [1, 2^20], got " + std::to_string(value));
  if (o.widths.empty()) fail("ResCNN", "widths must name at least one stage");
  for (const std::int64_t w : o.widths)
    if (w < 1) fail("ResCNN", "every width must be >= 1, got " + std::to_string(w));
  if (o.kernel % 2 == 0)
    fail("ResCNN", "kernel must be odd (same padding), got " + std::to_string(o.kernel));
  if (!(o.blocks_mass >= 0.0) || !std::isfinite(o.blocks_mass))
    fail("ResCNN",
         "blocks_mass must be a finite number >= 0, got " + std::to_string(o.blocks_mass));
}

}  // namespace

ResCNNOptions::~ResCNNOptions() = default;

Module ResCNN(const ResCNNOptions& o) {
  check_sizes(o);
  Conv2DOptions conv;
  conv.conv_norm = o.conv_norm;
  const auto same = [&](std::int64_t c_in, std::int64_t c_out) {
    return Conv2D(c_in, c_out, o.kernel, 1, o.kernel / 2, conv);
  };
  const auto stages = static_cast<std::int64_t>(o.widths.size());
  const double a = 1.0 / static_cast<double>(o.blocks * stages);  // 1/L
  std::vector<Child> body;
  for (std::int64_t s = 0; s < stages; ++s) {
    const std::int64_t w = o.widths[static_cast<std::size_t>(s)];
    if (s > 0) {
      body.push_back({"", AvgPool2D(2)});
      body.push_back({"", same(o.widths[static_cast<std::size_t>(s - 1)], w)});
    }
    const Module residue =
        RMSNorm(1e-6, NormAxes::example) >> same(w, w) >> Abs() >> MeanSubtract(NormAxes::example);
    const Module residues = repeat(residue, static_cast<int>(o.block_depth));
    // With L = 1 the identity's share 1 - 1/L is 0: the block is the residue alone.
    const Module block = a < 1.0 ? Module(Add{Scale(1.0 - a), Scale(a, residues)}) : residues;
    body.push_back({"", repeat(block, static_cast<int>(o.blocks))});
  }
  return Sequential({{"stem", same(o.in_channels, o.widths.front())},
                     {"body", tare(Sequential(std::move(body)), o.blocks_mass)},
                     {"head", GlobalAvgPool() >> Linear(o.widths.back(), o.classes)}});
}

}  // namespace modnorm
