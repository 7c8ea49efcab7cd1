#pragma once
// CI's stand-in for the Jupyter C++ kernels' <xcpp/xdisplay.hpp> (xeus-cpp, xeus-cling), used by
// tests/notebooks/run_notebooks.py. xcpp::display(x) finds the mime bundle as xeus-cpp 0.10 does:
// a generic xcpp::mime_bundle_repr (text/plain through operator<<) next to the overloads that
// argument-dependent lookup finds, such as modnorm's (so that a `Linear` handle gets the generic
// one, as in the kernel). Instead of publishing the bundle it prints its text/plain, for the
// driver's expected outputs, and an error line, which fails the cell, when the bundle has no
// text/html: the notebooks display only values with a rich view (Tensor, Module, Report).
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace nl = nlohmann;

namespace xcpp {

/// The kernels' fallback bundle: {"text/plain": the text of operator<<}.
template <class T>
nl::json mime_bundle_repr(const T& value) {
  std::ostringstream plain;
  plain << value;
  nl::json bundle = nl::json::object();
  bundle["text/plain"] = plain.str();
  return bundle;
}

/// Shows `value` as xeus-cpp would; here, prints its bundle's text/plain.
template <class T>
void display(const T& value) {
  using ::xcpp::mime_bundle_repr;
  const nl::json bundle = mime_bundle_repr(value);
  if (!bundle.contains("text/html") || bundle.at("text/html").get<std::string>().empty()) {
    std::cout << "error: xcpp::display: the mime bundle has no text/html (the kernel would show "
                 "plain text only; display a Tensor, a Module or a Report)\n";
  }
  std::cout << bundle.at("text/plain").get<std::string>() << "\n";
}

}  // namespace xcpp
