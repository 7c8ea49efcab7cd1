// report(): per-atom norms of a module tree and the four renderings of the table.
#include "modnorm/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "fail.hpp"
#include "html_escape.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// The columns, in order: header and the row's value as text ("" when absent).
const char* const kHeader[] = {"name",           "shape",       "norm",
                               "mass_share",     "weight_norm", "spectral_norm",
                               "grad_dual_norm", "update_norm", "update_ratio"};
constexpr std::size_t kColumns = sizeof(kHeader) / sizeof(kHeader[0]);

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

std::string number(const std::optional<double>& v) {
  return v ? number(*v) : std::string();
}

std::vector<std::string> cells(const ReportRow& r) {
  return {r.name,
          to_string(r.shape),
          to_string(r.norm),
          number(r.mass_share),
          number(r.weight_norm),
          number(r.spectral_norm),
          number(r.grad_dual_norm),
          number(r.update_norm),
          number(r.update_ratio)};
}

}  // namespace

// Out of line: exported for interpreters (report.hpp).
ReportOptions::~ReportOptions() = default;

Report report(const Module& net, const ReportOptions& options) {
  const std::vector<Parameter> params = net.parameters();
  if (!options.updates.empty() && options.updates.size() != params.size())
    detail::fail("report", std::to_string(options.updates.size()) + " updates given for " +
                               std::to_string(params.size()) + " parameters");
  const double total = net.mass();
  Report out;
  for (std::size_t l = 0; l < params.size(); ++l) {
    const Parameter& p = params[l];
    ReportRow row{p.name, p.weight.shape(), p.norm, total > 0 ? p.mass / total : 0.0, 0, 0, 0, {},
                  {}};
    row.weight_norm = norm(p.weight, p.norm, options.spectral);
    const bool matrices = p.weight.rank() == 2 || p.weight.rank() == 3;
    const Tensor matrix = matrices ? p.weight : p.weight.reshape({p.weight.numel(), 1});
    row.spectral_norm = spectral_norm(matrix, options.spectral);
    row.grad_dual_norm = dual_norm(p.grad, p.norm);
    if (!options.updates.empty()) {
      const Tensor& u = options.updates[l];
      if (u.shape() != p.weight.shape())
        detail::fail("report", "parameter '" + p.name + "': update " + to_string(u.shape()) +
                                   " does not match the weight " + to_string(p.weight.shape()));
      row.update_norm = norm(u, p.norm, options.spectral);
      if (row.weight_norm > 0) row.update_ratio = *row.update_norm / row.weight_norm;
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::string Report::to_text() const {
  std::vector<std::vector<std::string>> table{{std::begin(kHeader), std::end(kHeader)}};
  for (const ReportRow& r : rows) table.push_back(cells(r));
  std::vector<std::size_t> width(kColumns, 0);
  for (const auto& line : table)
    for (std::size_t c = 0; c < kColumns; ++c)
      width[c] = std::max(width[c], std::max<std::size_t>(line[c].size(), 1));
  std::ostringstream os;
  for (const auto& line : table) {
    for (std::size_t c = 0; c < kColumns; ++c) {
      const std::string cell = line[c].empty() ? "-" : line[c];
      os << cell;
      if (c + 1 < kColumns) os << std::string(width[c] - cell.size() + 2, ' ');
    }
    os << '\n';
  }
  return os.str();
}

std::string Report::to_csv() const {
  std::ostringstream os;
  for (std::size_t c = 0; c < kColumns; ++c) os << kHeader[c] << (c + 1 < kColumns ? "," : "\n");
  for (const ReportRow& r : rows) {
    const std::vector<std::string> line = cells(r);
    for (std::size_t c = 0; c < kColumns; ++c) os << line[c] << (c + 1 < kColumns ? "," : "\n");
  }
  return os.str();
}

std::string Report::to_json() const {
  nlohmann::json array = nlohmann::json::array();
  const auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  for (const ReportRow& r : rows)
    array.push_back({{"name", r.name},
                     {"shape", r.shape},
                     {"norm", to_string(r.norm)},
                     {"mass_share", r.mass_share},
                     {"weight_norm", r.weight_norm},
                     {"spectral_norm", r.spectral_norm},
                     {"grad_dual_norm", r.grad_dual_norm},
                     {"update_norm", optional(r.update_norm)},
                     {"update_ratio", optional(r.update_ratio)}});
  return array.dump();
}

std::string Report::to_html() const {
  std::ostringstream os;
  os << "<table class=\"modnorm-report\">\n<tr>";
  for (const char* h : kHeader) os << "<th>" << h << "</th>";
  os << "</tr>\n";
  for (const ReportRow& r : rows) {
    os << "<tr>";
    for (const std::string& cell : cells(r))
      os << "<td>" << detail::html_escape(cell.empty() ? "-" : cell) << "</td>";
    os << "</tr>\n";
  }
  os << "</table>\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Report& report) {
  return os << report.to_text();
}

}  // namespace modnorm
