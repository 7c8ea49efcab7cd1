// NormRule's defaults and the Norm handle (norm.hpp). The library's four rules are each one file
// of src/norms/, which also defines its Norm::NAME.
#include "modnorm/norm.hpp"

#include "modnorm/dualize.hpp"
#include "modnorm/error.hpp"

namespace modnorm {

NormRule::~NormRule() = default;

std::string NormRule::shape_requirement(const Shape&) const {
  return "";
}

std::vector<Tensor> NormRule::dualize_batch(const std::vector<Tensor>& G,
                                            const OrthogonalizeOptions& options) const {
  std::vector<Tensor> out;
  for (const Tensor& g : G) out.push_back(dualize(g, options));
  return out;
}

double NormRule::shape_factor(const Shape&) const {
  return 1.0;
}

bool NormRule::orthogonalizes() const {
  return false;
}

double NormRule::cost(const Shape&, const OrthogonalizeOptions&) const {
  return 0.0;
}

Norm::Norm(std::shared_ptr<const NormRule> rule) : rule_(std::move(rule)) {
  if (!rule_) fail("Norm", "null rule; pass a rule object, e.g. std::make_shared<MyRule>()");
}

const char* to_string(const Norm& norm) {
  return norm.rule().name();
}

}  // namespace modnorm
