#pragma once
/// @file modnorm.hpp
/// The umbrella header: include this one file and link modnorm::modnorm.
/// (Bridges to other libraries are opt-in: <modnorm/eigen.hpp>, <modnorm/xtensor.hpp>.)

#include "modnorm/dualize.hpp"
#include "modnorm/error.hpp"
#include "modnorm/generator.hpp"
#include "modnorm/ops.hpp"
#include "modnorm/tensor.hpp"
#include "modnorm/version.hpp"
