#pragma once
// One HTML escape for every rendering (src/html.cpp, src/report.cpp).

#include <string>

namespace modnorm::detail {

// Text content and attribute values: the five characters HTML gives a meaning.
inline std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace modnorm::detail
