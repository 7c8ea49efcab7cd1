#pragma once
/// @file display.hpp
/// Rich display in Jupyter notebooks (docs/notebooks.md): the xeus convention
/// `nl::json mime_bundle_repr(const T&)`, which the xeus-cpp and xeus-cling kernels call,
/// through argument-dependent lookup, for `xcpp::display(x)` (xeus-cling also for a cell's
/// final expression; xeus-cpp does not display one). Each bundle holds `text/html` (html.hpp,
/// Report::to_html) and `text/plain` (the type's operator<<, i.e. what `std::cout << x` prints).
///
/// This header needs nlohmann/json. <modnorm/modnorm.hpp> includes it only inside a C++
/// interpreter (when `__CLING__` or `__CLANG_REPL__` is defined, as xtensor's xio.hpp does), so
/// compiled programs never depend on nlohmann; a compiled program that wants the bundles
/// includes this header itself.

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "modnorm/html.hpp"
#include "modnorm/module.hpp"
#include "modnorm/report.hpp"
#include "modnorm/tensor.hpp"

// The alias xeus declares (xcpp/xmime.hpp); redeclaring an alias of the same namespace is valid.
namespace nl = nlohmann;

namespace modnorm {

namespace detail {
/// The bundle {"text/html": html, "text/plain": plain} that each mime_bundle_repr returns.
/// Throws nothing beyond std::bad_alloc.
///
/// Example: modnorm::detail::mime_bundle("<b>x</b>", "x")["text/plain"] == "x"
inline nl::json mime_bundle(std::string html, std::string plain) {
  nl::json bundle = nl::json::object();
  bundle["text/html"] = std::move(html);
  bundle["text/plain"] = std::move(plain);
  return bundle;
}
}  // namespace detail

/// The mime bundle of a tensor: `text/html` is to_html(tensor) (shape, dtype, device and a
/// preview table, long axes elided), `text/plain` is operator<< ("Tensor([2x2] f32 cpu {1, 2,
/// 3, 4})").
///
/// Throws modnorm::Error if a CUDA tensor cannot be copied to the host.
///
/// Example (in a notebook, `xcpp::display(t);` shows the same):
///   auto t = modnorm::Tensor::from_vector({1, 2, 3, 4}, {2, 2});
///   nl::json bundle = mime_bundle_repr(t);   // bundle["text/html"], bundle["text/plain"]
inline nl::json mime_bundle_repr(const Tensor& tensor) {
  std::ostringstream plain;
  plain << tensor;
  return detail::mime_bundle(to_html(tensor), plain.str());
}

/// The mime bundle of a module tree (any handle: Module, Linear, Sequential, ...): `text/html`
/// is to_html(module) (one table row per node with its path, mass, sensitivity, norm kind and
/// weight shape), `text/plain` the indented tree of operator<<.
///
/// Throws nothing beyond std::bad_alloc.
///
/// Example:
///   auto net = modnorm::Linear(4, 8) >> modnorm::ReLU() >> modnorm::Linear(8, 2);
///   nl::json bundle = mime_bundle_repr(net);
inline nl::json mime_bundle_repr(const Module& module) {
  std::ostringstream plain;
  plain << module;
  return detail::mime_bundle(to_html(module), plain.str());
}

/// The mime bundle of a per-layer report: `text/html` is report.to_html() (a
/// <table class="modnorm-report">), `text/plain` is report.to_text().
///
/// Throws nothing beyond std::bad_alloc.
///
/// Example (in a notebook, `xcpp::display(modnorm::report(net));` shows the table):
///   nl::json bundle = mime_bundle_repr(modnorm::report(net));
inline nl::json mime_bundle_repr(const Report& report) {
  return detail::mime_bundle(report.to_html(), report.to_text());
}

}  // namespace modnorm
