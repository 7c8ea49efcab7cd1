// Rich notebook display (display.hpp, html.hpp; docs/notebooks.md): the mime bundles xeus asks for
// through mime_bundle_repr, their HTML tables checked cell by cell, elision of large tensors
// and HTML escaping.
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "modnorm/display.hpp"
#include "modnorm/modnorm.hpp"
#include "support.hpp"

namespace {

using modnorm::Module;
using modnorm::Tensor;

// xeus-cling's own test (xcpp/xmime.hpp, has_mime_bundle_repr): an unqualified call that only
// argument-dependent lookup can resolve, since this namespace declares no mime_bundle_repr.
template <class T, class = void>
struct has_mime_bundle_repr : std::false_type {};
template <class T>
struct has_mime_bundle_repr<T, std::void_t<decltype(mime_bundle_repr(std::declval<T>()))>>
    : std::true_type {};

std::string g6(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// The HTML of x's mime bundle, after checking its plain text is operator<< and its HTML is
// to_html(x) (what a notebook shows is what the library renders).
template <class T>
std::string bundle_html(const T& x) {
  const nl::json bundle = mime_bundle_repr(x);
  std::ostringstream plain;
  plain << x;
  BOOST_TEST(bundle.at("text/plain").get<std::string>() == plain.str());
  const std::string html = bundle.at("text/html").get<std::string>();
  BOOST_TEST(html == modnorm::to_html(x));
  return html;
}

// The text of every <td> of every <tr> of an HTML table, nested tags removed (entities kept).
std::vector<std::vector<std::string>> table_cells(const std::string& html) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t tr = html.find("<tr>"); tr != std::string::npos;
       tr = html.find("<tr>", tr + 1)) {
    const std::size_t end = html.find("</tr>", tr);
    const std::string row = html.substr(tr, end - tr);
    std::vector<std::string> cells;
    for (std::size_t td = row.find("<td"); td != std::string::npos; td = row.find("<td", td + 1)) {
      const std::size_t open = row.find('>', td) + 1;
      const std::string inner = row.substr(open, row.find("</td>", open) - open);
      std::string text;
      bool in_tag = false;
      for (const char c : inner) {
        if (c == '<')
          in_tag = true;
        else if (c == '>')
          in_tag = false;
        else if (!in_tag)
          text += c;
      }
      cells.push_back(text);
    }
    if (!cells.empty()) rows.push_back(cells);
  }
  return rows;
}

// HTML escaping of text, written out again here for the comparison.
std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else if (c == '\'')
      out += "&#39;";
    else
      out += c;
  }
  return out;
}

// The module rows to_html must print, walked independently of it: path, escaped description,
// mass, sensitivity, norm, weight shape.
void expected_rows(const modnorm::ModuleImpl& m, const std::string& path,
                   std::vector<std::vector<std::string>>& out) {
  std::vector<std::string> row{
      escape(path), escape(m.describe()), g6(m.mass()), g6(m.sensitivity()), "", ""};
  if (auto* atom = const_cast<modnorm::ModuleImpl&>(m).atom()) {
    row[4] = modnorm::to_string(atom->norm());
    row[5] = modnorm::to_string(atom->weight().shape());
  }
  out.push_back(row);
  for (const modnorm::Child& c : m.children())
    expected_rows(c.module.impl(), path.empty() ? c.name : path + "." + c.name, out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(display)

BOOST_AUTO_TEST_CASE(bundles_are_found_by_argument_dependent_lookup) {
  static_assert(has_mime_bundle_repr<Tensor>::value);
  static_assert(has_mime_bundle_repr<Module>::value);
  static_assert(has_mime_bundle_repr<modnorm::Linear>::value);  // derived handles too
  static_assert(has_mime_bundle_repr<modnorm::Sequential&>::value);
  static_assert(has_mime_bundle_repr<const modnorm::Report&>::value);
  static_assert(!has_mime_bundle_repr<int>::value);
  const nl::json bundle = mime_bundle_repr(modnorm::Linear(2, 3));
  BOOST_TEST(bundle.is_object());
  BOOST_TEST(bundle.size() == 2u);
  BOOST_TEST(bundle.at("text/html").is_string());
  BOOST_TEST(bundle.at("text/plain").is_string());
  // A bundle survives the trip through the wire format xeus sends it in.
  BOOST_TEST(nl::json::parse(bundle.dump()) == bundle);
}

BOOST_AUTO_TEST_CASE(tensor_bundle_shows_shape_dtype_device_and_values) {
  const Tensor t = Tensor::from_vector({1.5f, -2.25f, 3.0f, 4.0f, 1e-7f, 12345678.0f}, {2, 3});
  const std::string html = bundle_html(t);
  BOOST_TEST(contains(html, "<code>[2x3]</code>"));
  BOOST_TEST(contains(html, "<code>f32</code>"));
  BOOST_TEST(contains(html, "<code>cpu</code>"));
  const auto rows = table_cells(html);
  const std::vector<std::vector<std::string>> expected{{"1.5", "-2.25", "3"},
                                                       {"4", "1e-07", "1.23457e+07"}};
  BOOST_TEST_REQUIRE(rows.size() == expected.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    BOOST_TEST(rows[r] == expected[r], boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tensor_preview_of_every_rank_and_dtype) {
  const Tensor scalar = Tensor::full({}, 0.5);
  using Cells = std::vector<std::vector<std::string>>;
  BOOST_TEST((table_cells(modnorm::to_html(scalar)) == Cells{{"0.5"}}));
  const Tensor vector = Tensor::from_vector({1, 2, 3}, {3});
  BOOST_TEST((table_cells(modnorm::to_html(vector)) == Cells{{"1", "2", "3"}}));
  const Tensor f64 = Tensor::from_vector_f64({0.1, 1.0 / 3.0}, {1, 2});
  BOOST_TEST(contains(modnorm::to_html(f64), "<code>f64</code>"));
  BOOST_TEST((table_cells(modnorm::to_html(f64)) == Cells{{"0.1", "0.333333"}}));
  const Tensor bf16 = Tensor::from_vector({1.5f, -0.1f}, {2}).to(modnorm::DType::bf16);
  BOOST_TEST(contains(modnorm::to_html(bf16), "<code>bf16</code>"));
  // -0.1 rounds to the nearest bf16, -0.10009765625.
  BOOST_TEST((table_cells(modnorm::to_html(bf16)) == Cells{{"1.5", "-0.100098"}}));
  // Rank 3: one labelled matrix per leading index; element [b, r, c] = 100 b + 10 r + c.
  std::vector<float> v;
  for (int b = 0; b < 2; ++b)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) v.push_back(static_cast<float>(100 * b + 10 * r + c));
  const std::string html3 = modnorm::to_html(Tensor::from_vector(v, {2, 2, 3}));
  BOOST_TEST(contains(html3, "[0, :, :]"));
  BOOST_TEST(contains(html3, "[1, :, :]"));
  BOOST_TEST(html3.find("[0, :, :]") < html3.find("[1, :, :]"));
  const Cells rows3{
      {"0", "1", "2"}, {"10", "11", "12"}, {"100", "101", "102"}, {"110", "111", "112"}};
  BOOST_TEST((table_cells(html3) == rows3));
  const std::string empty = modnorm::to_html(Tensor::zeros({0, 3}));
  BOOST_TEST(contains(empty, "(empty)"));
  BOOST_TEST(!contains(empty, "<table"));
}

BOOST_AUTO_TEST_CASE(tensor_preview_elides_long_axes) {
  // 20 x 30 with element [i, j] = 30 i + j: rows 0-2 and 17-19, columns 0-2 and 27-29 remain.
  std::vector<float> v(600);
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<float>(k);
  const std::string html = modnorm::to_html(Tensor::from_vector(v, {20, 30}));
  const auto rows = table_cells(html);
  BOOST_TEST_REQUIRE(rows.size() == 7u);
  for (std::size_t r = 0; r < 7; ++r) {
    BOOST_TEST_REQUIRE(rows[r].size() == 7u);
    if (r == 3) {
      BOOST_TEST(rows[r][0] == "&#8942;");
      BOOST_TEST(rows[r][3] == "&#8945;");
      continue;
    }
    const int i = r < 3 ? static_cast<int>(r) : static_cast<int>(r) + 13;
    BOOST_TEST(rows[r][3] == "&#8943;");
    for (const int j : {0, 1, 2, 27, 28, 29}) {
      const std::size_t c = j < 3 ? static_cast<std::size_t>(j) : static_cast<std::size_t>(j - 23);
      BOOST_TEST(rows[r][c] == g6(30 * i + j), "row " << i << " column " << j);
    }
  }
  BOOST_TEST(!contains(html, "<td>155</td>"));  // [5, 5] is elided
  BOOST_TEST(count(html, "<td>") == 49u);
  // An axis of exactly 10 is shown whole; 11 is elided.
  BOOST_TEST(table_cells(modnorm::to_html(Tensor::zeros({10})))[0].size() == 10u);
  BOOST_TEST(table_cells(modnorm::to_html(Tensor::zeros({11})))[0].size() == 7u);
  // A long leading axis: slices 0-2 and 9-11 are labelled, one dots line stands for 3-8.
  const std::string html4 = modnorm::to_html(Tensor::zeros({12, 1, 2, 2}));
  for (const int b : {0, 1, 2, 9, 10, 11})
    BOOST_TEST(contains(html4, "[" + std::to_string(b) + ", 0, :, :]"), "slice " << b);
  for (int b = 3; b <= 8; ++b) BOOST_TEST(!contains(html4, "[" + std::to_string(b) + ", 0"));
  BOOST_TEST(count(html4, "&#8942;</th>") == 1u);
  // The preview stays small whatever the size.
  BOOST_TEST(modnorm::to_html(Tensor::zeros({1000, 1000})).size() < 4000u);
}

BOOST_AUTO_TEST_CASE(module_html_lists_every_node_with_mass_sensitivity_and_norm) {
  modnorm::AtomOptions heavy;
  heavy.mass = 2.5;
  heavy.norm = modnorm::Norm::sign;
  const Module block = modnorm::RMSNorm() >> modnorm::Linear(8, 8) >> modnorm::GELU();
  const Module net = modnorm::Sequential(
      {{"embed", modnorm::Linear(4, 8)},
       {"res", modnorm::Add{modnorm::Scale(0.75), modnorm::Scale(-0.25, block)}},
       {"bias", modnorm::Bias(8)},
       {"head", modnorm::Linear(8, 3, heavy)}});
  const std::string html = bundle_html(net);

  std::vector<std::vector<std::string>> expected;
  expected_rows(net.impl(), "", expected);
  // root, embed, res (Add), res.0 (Scale), res.0.0 (Identity), res.1 (Scale), res.1.0
  // (Sequential), its RMSNorm, Linear and GELU, bias, head.
  BOOST_TEST_REQUIRE(expected.size() == 12u);
  const auto rows = table_cells(html);
  BOOST_TEST_REQUIRE(rows.size() == expected.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    BOOST_TEST_INFO("node '" << expected[k][0] << "'");
    BOOST_TEST(rows[k] == expected[k], boost::test_tools::per_element());
  }
  // Spot checks of what the rule above implies.
  BOOST_TEST(rows[0][1] == "Sequential");
  BOOST_TEST(rows[0][2] == "5.5");  // 1 + 1 + 1 (Bias) + 2.5
  const std::vector<std::string> head{"head", "Linear(8 -&gt; 3)", "2.5", "1", "sign", "[3x8]"};
  BOOST_TEST(rows.back() == head, boost::test_tools::per_element());
  BOOST_TEST(contains(html, "<code>res.1.0.1</code>"));  // the Linear inside Scale inside Add
}

BOOST_AUTO_TEST_CASE(html_escapes_names_and_descriptions) {
  const Module net = modnorm::Sequential({{"<b>&\"it's\"</b>", modnorm::Linear(2, 2)}});
  const std::string html = modnorm::to_html(net);
  BOOST_TEST(contains(html, "<code>&lt;b&gt;&amp;&quot;it&#39;s&quot;&lt;/b&gt;</code>"));
  BOOST_TEST(contains(html, "Linear(2 -&gt; 2)"));
  BOOST_TEST(!contains(html, "<b>&"));
  BOOST_TEST(!contains(html, "->"));
  // Only the markup's own tags remain.
  std::string stripped = html;
  for (const char* tag : {"<table class=\"modnorm-module\">", "</table>", "<tr>", "</tr>", "<th>",
                          "<th style=\"text-align:left\">", "</th>", "<td>", "</td>", "<code>",
                          "</code>", "<td style=\"text-align:left\">"}) {
    for (std::size_t at = stripped.find(tag); at != std::string::npos; at = stripped.find(tag))
      stripped.erase(at, std::string(tag).size());
  }
  for (std::size_t at = stripped.find("<td style=\"text-align:left;padding-left:");
       at != std::string::npos; at = stripped.find("<td style=\"text-align:left;padding-left:"))
    stripped.erase(at, stripped.find('>', at) + 1 - at);
  BOOST_TEST(!contains(stripped, "<"), "unexpected markup in: " << stripped);
}

BOOST_AUTO_TEST_CASE(report_bundle_is_its_html_and_text_tables) {
  MODNORM_FRESH_GENERATOR(gen);
  const Module net = modnorm::Linear(5, 4) >> modnorm::ReLU() >> modnorm::Linear(4, 3);
  Module handle = net;
  handle.initialize(gen);
  const modnorm::Report r = modnorm::report(net);
  const nl::json bundle = mime_bundle_repr(r);
  BOOST_TEST(bundle.size() == 2u);
  const std::string html = bundle.at("text/html").get<std::string>();
  BOOST_TEST(html == r.to_html());
  BOOST_TEST(bundle.at("text/plain").get<std::string>() == r.to_text());
  BOOST_TEST(contains(html, "<table class=\"modnorm-report\">"));
  BOOST_TEST(table_cells(html).size() == 2u);  // one row per atom (the header row has <th>)
  BOOST_TEST(contains(html, "<td>0.weight</td>"));
  BOOST_TEST(contains(html, "<td>2.weight</td>"));
}

BOOST_AUTO_TEST_SUITE_END()
