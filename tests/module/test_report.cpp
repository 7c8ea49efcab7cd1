// report(): each column against the quantity it names, and the text/CSV/JSON/HTML renderings.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "module/module_support.hpp"

using namespace modnorm;
namespace tt = boost::test_tools;

namespace {

SpectralNormOptions exact() {
  SpectralNormOptions o;
  o.exact = true;
  return o;
}

// A small net with gradients from one backward pass and an update of known size.
struct Fixture {
  Module net;
  std::vector<Tensor> updates;
  ReportOptions options;

  explicit Fixture(Generator& gen)
      : net(Linear(6, 4) >> ReLU() >> Bias(4) >> Linear(4, 3, three())) {
    net.initialize(gen);
    net.forward(Tensor::randn({5, 6}, gen));
    net.backward(Tensor::randn({5, 3}, gen));
    for (const Parameter& p : net.parameters())
      updates.push_back(scale(Tensor::randn(p.weight.shape(), gen), 0.01));
    options.updates = updates;
    options.spectral = exact();
  }
  static AtomOptions three() {
    AtomOptions o;
    o.mass = 3;
    return o;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(report)

BOOST_AUTO_TEST_CASE(rows_hold_the_norms_they_name) {
  MODNORM_FRESH_GENERATOR(gen);
  Fixture f(gen);
  const Report r = modnorm::report(f.net, f.options);
  const std::vector<Parameter> params = f.net.parameters();
  BOOST_TEST_REQUIRE(r.rows.size() == 3u);
  const double shares[] = {0.2, 0.2, 0.6};
  for (std::size_t l = 0; l < params.size(); ++l) {
    const ReportRow& row = r.rows[l];
    const Parameter& p = params[l];
    BOOST_TEST_INFO(row.name);
    BOOST_TEST(row.name == p.name);
    BOOST_TEST(row.shape == p.weight.shape(), tt::per_element());
    BOOST_TEST((row.norm == p.norm));
    BOOST_TEST(row.mass_share == shares[l], tt::tolerance(1e-12));
    BOOST_TEST(row.weight_norm == 1.0, tt::tolerance(1e-5));  // initialize(): norm 1
    const Tensor m = p.weight.rank() == 2 ? p.weight : p.weight.reshape({p.weight.numel(), 1});
    BOOST_TEST(row.spectral_norm == spectral_norm(m, exact()), tt::tolerance(1e-9));
    BOOST_TEST(row.grad_dual_norm == dual_norm(p.grad, p.norm), tt::tolerance(1e-9));
    BOOST_TEST_REQUIRE(row.update_norm.has_value());
    BOOST_TEST(*row.update_norm == norm(f.updates[l], p.norm, exact()), tt::tolerance(1e-9));
    BOOST_TEST(*row.update_ratio == *row.update_norm / row.weight_norm, tt::tolerance(1e-12));
  }
  BOOST_TEST(r.rows[1].spectral_norm == frobenius_norm(params[1].weight), tt::tolerance(1e-9));
  // Without updates the update columns are absent.
  const Report plain = modnorm::report(f.net);
  BOOST_TEST(!plain.rows[0].update_norm.has_value());
}

BOOST_AUTO_TEST_CASE(text_table_is_aligned_and_marks_absent_values) {
  MODNORM_FRESH_GENERATOR(gen);
  Fixture f(gen);
  std::ostringstream out;
  out << modnorm::report(f.net);
  std::istringstream lines(out.str());
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  BOOST_TEST_REQUIRE(rows.size() == 4u);
  BOOST_TEST(rows[0].find("name") == 0u);
  const std::size_t col = rows[0].find("grad_dual_norm");
  for (const std::string& row : rows) {
    BOOST_TEST_INFO(row);
    BOOST_TEST(row.find_first_not_of(' ', col) == col);  // every row has a value starting there
    BOOST_TEST(row[col - 1] == ' ');
  }
  BOOST_TEST(rows[1].find("0.weight") == 0u);
  BOOST_TEST(rows[1].substr(rows[1].size() - 1) == "-");  // no update ratio
}

BOOST_AUTO_TEST_CASE(csv_json_and_html_carry_the_same_rows) {
  MODNORM_FRESH_GENERATOR(gen);
  Fixture f(gen);
  const Report r = modnorm::report(f.net, f.options);

  std::istringstream csv(r.to_csv());
  std::string header, first;
  std::getline(csv, header);
  std::getline(csv, first);
  BOOST_TEST(header ==
             "name,shape,norm,mass_share,weight_norm,spectral_norm,grad_dual_norm,update_norm,"
             "update_ratio");
  BOOST_TEST(first.find("0.weight,[4x6],spectral,0.2,") == 0u);

  const nlohmann::json json = nlohmann::json::parse(r.to_json());
  BOOST_TEST_REQUIRE(json.size() == 3u);
  BOOST_TEST(json[2]["name"] == "3.weight");
  BOOST_TEST(json[2]["norm"] == "spectral");
  BOOST_TEST(json[1]["shape"] == nlohmann::json::array({4}));
  BOOST_TEST(json[2]["mass_share"].get<double>() == 0.6, tt::tolerance(1e-12));
  BOOST_TEST(json[0]["update_norm"].get<double>() == *r.rows[0].update_norm, tt::tolerance(1e-12));
  BOOST_TEST(nlohmann::json::parse(modnorm::report(f.net).to_json())[0]["update_norm"].is_null());

  const std::string html = r.to_html();
  BOOST_TEST(html.find("<table class=\"modnorm-report\">") == 0u);
  std::size_t rows = 0;
  for (std::size_t at = html.find("<tr>"); at != std::string::npos; at = html.find("<tr>", at + 1))
    ++rows;
  BOOST_TEST(rows == 4u);
  BOOST_TEST(html.find("<td>[4x6]</td>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(updates_that_do_not_match_the_parameters_are_rejected) {
  MODNORM_FRESH_GENERATOR(gen);
  Fixture f(gen);
  ReportOptions wrong;
  wrong.updates = {f.updates[0]};
  BOOST_CHECK_THROW(modnorm::report(f.net, wrong), Error);
  wrong.updates = {f.updates[1], f.updates[0], f.updates[2]};
  try {
    modnorm::report(f.net, wrong);
    BOOST_ERROR("no error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("parameter '0.weight'") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
