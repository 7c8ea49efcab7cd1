// report(): per-atom norms of a module tree and the four renderings of the table.
#include "modnorm/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "html_escape.hpp"
#include "modnorm/error.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// The columns, in order: header and the row's value as text ("" when absent); the last three
// only when the rows carry the optimizer's AtomStep.
const char* const kHeader[] = {"name",         "shape",         "norm",           "mass_share",
                               "weight_norm",  "spectral_norm", "grad_dual_norm", "update_norm",
                               "update_ratio", "group",         "algorithm",      "rate"};
constexpr std::size_t kStepColumns = 3;

// The header of `rows`' table.
std::vector<std::string> header(const std::vector<ReportRow>& rows) {
  const bool steps =
      std::any_of(rows.begin(), rows.end(), [](const ReportRow& r) { return r.step.has_value(); });
  return {std::begin(kHeader), std::end(kHeader) - (steps ? 0 : kStepColumns)};
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

std::string number(const std::optional<double>& v) {
  return v ? number(*v) : std::string();
}

// A row's cells, `columns` of them.
std::vector<std::string> cells(const ReportRow& r, std::size_t columns) {
  std::vector<std::string> out{r.name,
                               to_string(r.shape),
                               to_string(r.norm),
                               number(r.mass_share),
                               number(r.weight_norm),
                               number(r.spectral_norm),
                               number(r.grad_dual_norm),
                               number(r.update_norm),
                               number(r.update_ratio),
                               r.step ? r.step->group : std::string(),
                               r.step ? r.step->algorithm : std::string(),
                               r.step ? number(r.step->rate) : std::string()};
  out.resize(columns);
  return out;
}

}  // namespace

// Out of line: exported for interpreters (report.hpp).
ReportOptions::~ReportOptions() = default;

Report report(const Module& net, const ReportOptions& options) {
  const std::vector<Parameter> params = net.parameters();
  if (!options.updates.empty() && options.updates.size() != params.size())
    fail("report", std::to_string(options.updates.size()) + " updates given for " +
                       std::to_string(params.size()) + " parameters");
  if (!options.steps.empty() && options.steps.size() != params.size())
    fail("report", std::to_string(options.steps.size()) + " steps given for " +
                       std::to_string(params.size()) + " parameters");
  const double total = net.mass();
  Report out;
  for (std::size_t l = 0; l < params.size(); ++l) {
    const Parameter& p = params[l];
    ReportRow row{
        p.name, p.weight.shape(), p.norm, total > 0 ? p.mass / total : 0.0, 0, 0, 0, {}, {}, {}};
    if (!options.steps.empty()) row.step = options.steps[l];
    row.weight_norm = norm(p.weight, p.norm, options.spectral);
    const bool matrices = p.weight.rank() == 2 || p.weight.rank() == 3;
    const Tensor matrix = matrices ? p.weight : p.weight.reshape({p.weight.numel(), 1});
    row.spectral_norm = spectral_norm(matrix, options.spectral);
    row.grad_dual_norm = dual_norm(p.grad, p.norm);
    if (!options.updates.empty()) {
      const Tensor& u = options.updates[l];
      if (u.shape() != p.weight.shape())
        fail("report", "parameter '" + p.name + "': update " + to_string(u.shape()) +
                           " does not match the weight " + to_string(p.weight.shape()));
      row.update_norm = norm(u, p.norm, options.spectral);
      if (row.weight_norm > 0) row.update_ratio = *row.update_norm / row.weight_norm;
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::string Report::to_text() const {
  std::vector<std::vector<std::string>> table{header(rows)};
  const std::size_t columns = table[0].size();
  for (const ReportRow& r : rows) table.push_back(cells(r, columns));
  std::vector<std::size_t> width(columns, 0);
  for (const auto& line : table)
    for (std::size_t c = 0; c < columns; ++c)
      width[c] = std::max(width[c], std::max<std::size_t>(line[c].size(), 1));
  std::ostringstream os;
  for (const auto& line : table) {
    for (std::size_t c = 0; c < columns; ++c) {
      const std::string cell = line[c].empty() ? "-" : line[c];
      os << cell;
      if (c + 1 < columns) os << std::string(width[c] - cell.size() + 2, ' ');
    }
    os << '\n';
  }
  return os.str();
}

std::string Report::to_csv() const {
  std::ostringstream os;
  const std::vector<std::string> head = header(rows);
  const std::size_t columns = head.size();
  for (std::size_t c = 0; c < columns; ++c) os << head[c] << (c + 1 < columns ? "," : "\n");
  for (const ReportRow& r : rows) {
    const std::vector<std::string> line = cells(r, columns);
    for (std::size_t c = 0; c < columns; ++c) os << line[c] << (c + 1 < columns ? "," : "\n");
  }
  return os.str();
}

std::string Report::to_json() const {
  nlohmann::json array = nlohmann::json::array();
  const auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  for (const ReportRow& r : rows) {
    nlohmann::json row = {{"name", r.name},
                          {"shape", r.shape},
                          {"norm", to_string(r.norm)},
                          {"mass_share", r.mass_share},
                          {"weight_norm", r.weight_norm},
                          {"spectral_norm", r.spectral_norm},
                          {"grad_dual_norm", r.grad_dual_norm},
                          {"update_norm", optional(r.update_norm)},
                          {"update_ratio", optional(r.update_ratio)}};
    if (r.step) {
      row["group"] = r.step->group;
      row["algorithm"] = r.step->algorithm;
      row["rate"] = r.step->rate;
    }
    array.push_back(std::move(row));
  }
  return array.dump();
}

std::string Report::to_html() const {
  std::ostringstream os;
  os << "<table class=\"modnorm-report\">\n<tr>";
  const std::vector<std::string> head = header(rows);
  for (const std::string& h : head) os << "<th>" << h << "</th>";
  os << "</tr>\n";
  for (const ReportRow& r : rows) {
    os << "<tr>";
    for (const std::string& cell : cells(r, head.size()))
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
