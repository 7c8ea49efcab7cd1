// HTML renderings of tensors and module trees for notebooks (html.hpp; docs/notebooks.md).
#include "modnorm/html.hpp"

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <vector>

#include "html_escape.hpp"
#include "modnorm/module.hpp"
#include "modnorm/tensor.hpp"

namespace modnorm {
namespace {

// Elision of long axes (html.hpp): an axis longer than kMaxFull shows its first and last
// kEdge indices (NumPy's edgeitems = 3).
constexpr std::int64_t kMaxFull = 10;
constexpr std::int64_t kEdge = 3;
// Marks an elided run of indices in the list of shown indices.
constexpr std::int64_t kGap = -1;

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

// The indices of an axis of length n that a preview shows, kGap where a run is elided.
std::vector<std::int64_t> shown_indices(std::int64_t n) {
  std::vector<std::int64_t> out;
  if (n <= kMaxFull) {
    for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
  } else {
    for (std::int64_t i = 0; i < kEdge; ++i) out.push_back(i);
    out.push_back(kGap);
    for (std::int64_t i = n - kEdge; i < n; ++i) out.push_back(i);
  }
  return out;
}

// Reads single elements of a host tensor by flat index, whatever its dtype.
class HostValues {
 public:
  explicit HostValues(const Tensor& host) : t_(host) {}
  double at(std::int64_t flat) const {
    const auto i = static_cast<std::size_t>(flat);
    switch (t_.dtype()) {
      case DType::f32:
        return t_.data<float>()[i];
      case DType::f64:
        return t_.data<double>()[i];
      case DType::bf16:
        return bf16_to_float(t_.data<std::uint16_t>()[i]);
      case DType::i32:
        return t_.data<std::int32_t>()[i];
    }
    return 0.0;  // unreachable: every DType is handled above
  }

 private:
  const Tensor& t_;
};

// One matrix [rows x cols] starting at flat offset `base`, as table rows.
void matrix_rows(std::ostream& os, const HostValues& values, std::int64_t base, std::int64_t rows,
                 std::int64_t cols) {
  const std::vector<std::int64_t> row_ids = shown_indices(rows);
  const std::vector<std::int64_t> col_ids = shown_indices(cols);
  for (const std::int64_t r : row_ids) {
    os << "<tr>";
    for (const std::int64_t c : col_ids) {
      if (r == kGap)
        os << "<td>" << (c == kGap ? "&#8945;" : "&#8942;") << "</td>";  // diagonal / vertical dots
      else if (c == kGap)
        os << "<td>&#8943;</td>";  // horizontal dots
      else
        os << "<td>" << number(values.at(base + r * cols + c)) << "</td>";
    }
    os << "</tr>\n";
  }
}

// Every shown combination of the leading axes (all but the last two) of `shape`, kGap marking
// an elided run on some axis (such a combination prints as a vertical-dots line).
void leading_indices(const Shape& shape, std::size_t axis, std::vector<std::int64_t>& prefix,
                     std::vector<std::vector<std::int64_t>>& out) {
  if (axis + 2 == shape.size()) {
    out.push_back(prefix);
    return;
  }
  for (const std::int64_t i : shown_indices(shape[axis])) {
    prefix.push_back(i);
    if (i == kGap) {
      out.push_back(prefix);  // one gap line for the whole elided run, not one per sub-index
    } else {
      leading_indices(shape, axis + 1, prefix, out);
    }
    prefix.pop_back();
  }
}

void module_rows(std::ostream& os, const ModuleImpl& module, const std::string& path, int depth) {
  os << "<tr><td style=\"text-align:left\"><code>" << detail::html_escape(path) << "</code></td>"
     << "<td style=\"text-align:left;padding-left:" << 1.5 * depth + 0.5 << "em\">"
     << detail::html_escape(module.describe()) << "</td><td>" << number(module.mass())
     << "</td><td>" << number(module.sensitivity()) << "</td>";
  // atom() is the non-const hook of ModuleImpl; asking it changes nothing.
  if (AtomImpl* atom = const_cast<ModuleImpl&>(module).atom())
    os << "<td>" << to_string(atom->norm()) << "</td><td>" << to_string(atom->weight().shape())
       << "</td>";
  else
    os << "<td></td><td></td>";
  os << "</tr>\n";
  for (const Child& child : module.children())
    module_rows(os, child.module.impl(), path.empty() ? child.name : path + "." + child.name,
                depth + 1);
}

}  // namespace

std::string to_html(const Tensor& tensor) {
  std::ostringstream os;
  os << "<div class=\"modnorm-tensor\">\n<p><b>Tensor</b> shape <code>" << to_string(tensor.shape())
     << "</code> dtype <code>" << to_string(tensor.dtype()) << "</code> device <code>"
     << to_string(tensor.device()) << "</code></p>\n";
  if (tensor.numel() == 0) {
    os << "<p>(empty)</p>\n</div>\n";
    return os.str();
  }
  const Tensor host = tensor.to(Device::cpu);
  const HostValues values(host);
  const Shape& shape = host.shape();
  os << "<table class=\"modnorm-tensor\">\n";
  if (shape.empty()) {
    os << "<tr><td>" << number(values.at(0)) << "</td></tr>\n";
  } else if (shape.size() == 1) {
    matrix_rows(os, values, 0, 1, shape[0]);
  } else if (shape.size() == 2) {
    matrix_rows(os, values, 0, shape[0], shape[1]);
  } else {
    const std::int64_t rows = shape[shape.size() - 2];
    const std::int64_t cols = shape.back();
    const std::int64_t width = static_cast<std::int64_t>(shown_indices(cols).size());
    std::vector<std::int64_t> prefix;
    std::vector<std::vector<std::int64_t>> slices;
    leading_indices(shape, 0, prefix, slices);
    for (const std::vector<std::int64_t>& slice : slices) {
      os << "<tr><th colspan=\"" << width << "\" style=\"text-align:left\">";
      if (slice.back() == kGap) {
        os << "&#8942;</th></tr>\n";
        continue;
      }
      std::int64_t base = 0;  // flat offset of the slice: row-major over the leading axes
      os << "[";
      for (std::size_t a = 0; a < slice.size(); ++a) {
        os << slice[a] << ", ";
        base = base * shape[a] + slice[a];
      }
      os << ":, :]</th></tr>\n";
      matrix_rows(os, values, base * rows * cols, rows, cols);
    }
  }
  os << "</table>\n</div>\n";
  return os.str();
}

std::string to_html(const Module& module) {
  std::ostringstream os;
  os << "<table class=\"modnorm-module\">\n<tr><th>path</th><th style=\"text-align:left\">"
        "module</th><th>mass</th><th>sensitivity</th><th>norm</th><th>weight</th></tr>\n";
  module_rows(os, module.impl(), "", 0);
  os << "</table>\n";
  return os.str();
}

}  // namespace modnorm
