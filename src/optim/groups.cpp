// Parameter groups (optim.hpp, ParameterGroup): each parameter's role, the dotted-name
// patterns, and the resolution of the groups into sets of atoms, each parameter in exactly one.
#include <algorithm>
#include <string>

#include "modnorm/error.hpp"
#include "optim/optimizer_impl.hpp"

namespace modnorm {
namespace {

// Whether `name` matches the glob `pattern` whole: '*' any run of characters, '?' one.
bool glob(const std::string& pattern, const std::string& name) {
  std::size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// A pattern names a parameter, or the module whose parameters are under it.
bool matches(const std::string& pattern, const std::string& name) {
  return glob(pattern, name) || glob(pattern + ".*", name);
}

bool selects(const ParameterGroup& group, const Parameter& p, Role role) {
  const bool named =
      group.patterns.empty() ||
      std::any_of(group.patterns.begin(), group.patterns.end(),
                  [&](const std::string& pattern) { return matches(pattern, p.name); });
  const bool cast = group.roles.empty() ||
                    std::find(group.roles.begin(), group.roles.end(), role) != group.roles.end();
  return named && cast;
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::embedding:
      return "embedding";
    case Role::output:
      return "output";
    case Role::hidden:
      return "hidden";
    case Role::vector:
      return "vector";
  }
  return "unknown";
}

std::vector<Role> parameter_roles(const std::vector<Parameter>& params) {
  std::vector<Role> roles;
  for (const Parameter& p : params) {
    const bool embedding = p.atom && p.atom->describe().rfind("Embed(", 0) == 0;
    roles.push_back(p.weight.rank() <= 1 ? Role::vector
                    : embedding          ? Role::embedding
                                         : Role::hidden);
  }
  for (std::size_t k = roles.size(); k-- > 0;)
    if (roles[k] == Role::hidden) {
      roles[k] = Role::output;
      break;
    }
  return roles;
}

namespace detail {
namespace {

// Each parameter's group (an index into `groups`); throws unless each is in exactly one and
// every pattern matches a parameter.
std::vector<std::size_t> resolve_groups(const char* op, const std::vector<ParameterGroup>& groups,
                                        const std::vector<Parameter>& params) {
  const std::vector<Role> roles = parameter_roles(params);
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> group_of(params.size(), kNone);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ParameterGroup& group = groups[g];
    if (group.patterns.empty() && group.roles.empty()) continue;  // the rest, below
    const std::string which = "group '" + group.name + "'";
    for (const std::string& pattern : group.patterns)
      if (std::none_of(params.begin(), params.end(),
                       [&](const Parameter& p) { return matches(pattern, p.name); }))
        fail(op, which + ": pattern '" + pattern + "' matches no parameter");
    bool any = false;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!selects(group, params[i], roles[i])) continue;
      any = true;
      if (group_of[i] != kNone)
        fail(op, "parameter '" + params[i].name + "' is in two groups, '" +
                     groups[group_of[i]].name + "' and '" + group.name + "'");
      group_of[i] = g;
    }
    if (!any) fail(op, which + " selects no parameter");
  }
  // The rest: the one group without patterns or roles takes whatever no other group took.
  std::size_t rest = kNone;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (groups[g].patterns.empty() && groups[g].roles.empty()) {
      if (rest != kNone)
        fail(op, "groups '" + groups[rest].name + "' and '" + groups[g].name +
                     "' both take the rest (neither has patterns nor roles)");
      rest = g;
    }
  std::string uncovered;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (group_of[i] == kNone) group_of[i] = rest;
    if (group_of[i] == kNone)
      uncovered +=
          (uncovered.empty() ? "'" : ", '") + params[i].name + "' (" + to_string(roles[i]) + ")";
  }
  if (!uncovered.empty()) fail(op, "no group takes parameter(s) " + uncovered);
  return group_of;
}

}  // namespace

std::vector<GroupState> make_groups(const char* op, const OptimizerOptions& options,
                                    const std::vector<Parameter>& params) {
  std::vector<GroupState> out;
  if (options.groups.empty()) {
    out.push_back({"all", options, {}, nullptr});
    for (std::size_t i = 0; i < params.size(); ++i) out[0].atoms.push_back(i);
  } else {
    for (const ParameterGroup& g : options.groups) out.push_back({g.name, g.rule, {}, nullptr});
    const std::vector<std::size_t> group_of = resolve_groups(op, options.groups, params);
    for (std::size_t i = 0; i < params.size(); ++i) out[group_of[i]].atoms.push_back(i);
  }
  for (const GroupState& g : out)
    for (const std::size_t i : g.atoms) {
      const Parameter& p = params[i];
      if (g.rule.algorithm == Algorithm::modular) check_coefficient(op, p);
      if (g.rule.lr_rule != LrRule::modular && !frozen(p) &&
          (!p.norm.rule().orthogonalizes() || p.weight.rank() != 2))
        fail(op, "group '" + g.name + "': lr_rule " + to_string(g.rule.lr_rule) +
                     " sizes orthogonalized (spectral) matrices only; parameter '" + p.name +
                     "' is " + to_string(p.weight.shape()) + " with norm " + to_string(p.norm));
    }
  return out;
}

}  // namespace detail
}  // namespace modnorm
