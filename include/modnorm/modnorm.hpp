#pragma once
/// @file modnorm.hpp
/// The umbrella header: include this one file and link modnorm::modnorm.
/// (Bridges to other libraries are opt-in: <modnorm/eigen.hpp>, <modnorm/xtensor.hpp>.)

#include "modnorm/data.hpp"
#include "modnorm/distributed.hpp"
#include "modnorm/dualize.hpp"
#include "modnorm/error.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/html.hpp"
#include "modnorm/module.hpp"
#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/optim.hpp"
#include "modnorm/report.hpp"
#include "modnorm/safetensors.hpp"
#include "modnorm/tensor.hpp"
#include "modnorm/text.hpp"
#include "modnorm/version.hpp"

// Modules (adding a module adds one line here).
#include "modnorm/modules/activations.hpp"
#include "modnorm/modules/add.hpp"
#include "modnorm/modules/attention.hpp"
#include "modnorm/modules/bias.hpp"
#include "modnorm/modules/concatenation.hpp"
#include "modnorm/modules/conv2d.hpp"
#include "modnorm/modules/embed.hpp"
#include "modnorm/modules/linear.hpp"
#include "modnorm/modules/pool.hpp"
#include "modnorm/modules/rms_norm.hpp"
#include "modnorm/modules/scale.hpp"
#include "modnorm/modules/sequential.hpp"
#include "modnorm/modules/shape.hpp"
#include "modnorm/modules/tuple.hpp"

// Models (compositions of modules).
#include "modnorm/models/gpt.hpp"
#include "modnorm/models/mlp.hpp"
#include "modnorm/models/rescnn.hpp"

// Notebook display (needs nlohmann/json) only inside cling or clang-repl: docs/notebooks.md.
#if defined(__CLING__) || defined(__CLANG_REPL__)
#include "modnorm/display.hpp"
#endif
