// Parameter groups from the command line (groups.hpp): `--group SPEC` and `--hybrid`.
#include "cli/groups.hpp"

#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "cli/trainer.hpp"

namespace modnorm::cli {
namespace {

const char* const kHybrid = "@embedding,@output,@vector:adamw";

// Comma-separated fields of `text` (empty ones kept, so that "a,,b" is refused).
std::vector<std::string> fields(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string field; std::getline(in, field, ',');) out.push_back(field);
  if (!text.empty() && text.back() == ',') out.emplace_back();
  return out;
}

// The enum value named `name` among `values`, or a message listing them.
template <typename Enum>
Enum named(const std::string& what, const std::string& name, std::initializer_list<Enum> values,
           const std::function<void(const std::string&)>& refuse) {
  std::string list;
  for (const Enum v : values) {
    if (name == to_string(v)) return v;
    list += (list.empty() ? "" : ", ") + std::string(to_string(v));
  }
  refuse("unknown " + what + " '" + name + "' (one of " + list + ")");
  return *values.begin();
}

}  // namespace

const char* const kGroupHelp =
    "A parameter group, repeatable: 'SELECT:ALGORITHM[,key=value...]', SELECT dotted-name "
    "patterns (* any characters, a module's name takes its parameters) and roles @embedding, "
    "@output, @hidden, @vector, comma-separated; ALGORITHM modular, sgd, adamw or adaptive_adam; "
    "keys lr, beta, betas=B1/B2, eps, nesterov=on|off, wd, wd-mode=off|decoupled|cautious, "
    "rule=modular|muon|rms_match, normuon=on|off. Parameters no group takes follow the main "
    "flags. Example: --group 'embed,out:adamw,lr=0.008,betas=0.9/0.95'";

ParameterGroup parse_group(const std::string& spec) {
  const auto refuse = [&](const std::string& fault) {
    throw Error("[train] --group '" + spec + "': " + fault);
  };
  const std::size_t colon = spec.rfind(':');
  if (colon == std::string::npos)
    refuse("no ':' between the parameters and the algorithm (e.g. 'embed,out:adamw')");
  ParameterGroup g;
  g.name = spec.substr(0, colon);
  for (const std::string& item : fields(g.name)) {
    if (item.empty()) refuse("an empty parameter pattern or role");
    if (item[0] != '@') {
      g.patterns.push_back(item);
      continue;
    }
    g.roles.push_back(named<Role>("role", item.substr(1),
                                  {Role::embedding, Role::output, Role::hidden, Role::vector},
                                  refuse));
  }
  if (g.patterns.empty() && g.roles.empty()) refuse("no parameter patterns or roles before ':'");

  const std::vector<std::string> rest = fields(spec.substr(colon + 1));
  StepRule& r = g.rule;
  r.algorithm = named<Algorithm>(
      "algorithm", rest.empty() ? std::string() : rest[0],
      {Algorithm::modular, Algorithm::sgd, Algorithm::adamw, Algorithm::adaptive_adam}, refuse);
  r.lr = default_lr(r.algorithm);
  r.nesterov = default_nesterov(r.algorithm);
  std::map<std::string, std::string> given;
  for (std::size_t k = 1; k < rest.size(); ++k) {
    const std::size_t eq = rest[k].find('=');
    if (eq == std::string::npos) refuse("'" + rest[k] + "' is not key=value");
    const std::string key = rest[k].substr(0, eq), value = rest[k].substr(eq + 1);
    if (!given.emplace(key, value).second) refuse("key '" + key + "' given twice");
  }
  const auto number = [&](const std::string& key, const std::string& text) {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) refuse(key + " must be a number, got '" + text + "'");
    return v;
  };
  const auto on_off = [&](const std::string& key, const std::string& text) {
    if (text != "on" && text != "off") refuse(key + " must be on or off, got '" + text + "'");
    return text == "on";
  };
  for (const auto& [key, value] : given) {
    if (key == "lr") {
      r.lr = number(key, value);
    } else if (key == "beta") {
      r.beta = number(key, value);
    } else if (key == "betas") {
      const std::size_t slash = value.find('/');
      if (slash == std::string::npos) refuse("betas must be B1/B2, got '" + value + "'");
      r.beta = number(key, value.substr(0, slash));
      r.adam.beta2 = number(key, value.substr(slash + 1));
    } else if (key == "eps") {
      r.adam.eps = number(key, value);
    } else if (key == "nesterov") {
      r.nesterov = on_off(key, value);
    } else if (key == "wd") {
      r.weight_decay.coefficient = number(key, value);
      if (!given.count("wd-mode")) r.weight_decay.mode = WeightDecay::decoupled;
    } else if (key == "wd-mode") {
      r.weight_decay.mode = named<WeightDecay>(
          key, value, {WeightDecay::off, WeightDecay::decoupled, WeightDecay::cautious}, refuse);
    } else if (key == "rule") {
      r.lr_rule =
          named<LrRule>(key, value, {LrRule::modular, LrRule::muon, LrRule::rms_match}, refuse);
    } else if (key == "normuon") {
      r.normuon.enabled = on_off(key, value);
    } else {
      refuse("unknown key '" + key +
             "' (keys: lr, beta, betas, eps, nesterov, wd, wd-mode, rule, normuon)");
    }
  }
  if (given.count("beta") && given.count("betas")) refuse("give beta or betas, not both");
  return g;
}

OptimizerOptions with_groups(const OptimizerOptions& main, const std::vector<std::string>& specs,
                             bool hybrid) {
  if (specs.empty() && !hybrid) return main;
  OptimizerOptions out;
  out.schedule = main.schedule;
  out.momentum_warmup = main.momentum_warmup;
  out.overrides = main.overrides;
  for (const std::string& spec : specs) out.groups.push_back(parse_group(spec));
  if (hybrid) out.groups.push_back(parse_group(kHybrid));
  out.groups.push_back({"rest", {}, {}, main});
  return out;
}

}  // namespace modnorm::cli
