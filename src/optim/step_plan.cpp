// The step plan of one process (step_plan.hpp): every atom is this rank's, whole, and every
// transfer between ranks is a no-op; a group of several ranks gets the sharded plan.
#include "optim/step_plan.hpp"

#include "module_detail.hpp"
#include "optim/sharded_plan.hpp"

namespace modnorm::detail {
namespace {

class LocalPlan final : public StepPlan {
 public:
  explicit LocalPlan(const std::vector<Parameter>& params) {
    for (const Parameter& p : params) shapes_.push_back(p.weight.shape());
  }
  bool owns(std::size_t) const override { return true; }
  Shape local_shape(std::size_t i) const override { return shapes_[i]; }
  bool counts(std::size_t) const override { return true; }
  void check_everywhere(const char*, const std::function<void()>& checks) const override {
    checks();
  }
  std::vector<Tensor> gradients(const std::vector<Parameter>& params) const override {
    std::vector<Tensor> grads;
    for (const Parameter& p : params) grads.push_back(p.grad);
    return grads;
  }
  std::vector<Tensor> dualize(const std::vector<Parameter>& params, const std::vector<Tensor>& u,
                              const std::vector<std::size_t>& atoms,
                              const OrthogonalizeOptions& options) const override {
    return dualize_atoms(params, u, atoms, options);
  }
  double sum_over_rows(std::size_t, double value) const override { return value; }
  double norm_over_rows(std::size_t, double local) const override { return local; }
  double sum_over_ranks(double value) const override { return value; }
  Tensor rows(std::size_t, const Tensor& whole) const override { return whole; }
  Tensor update_buffer(std::size_t, const Tensor& update) const override { return update; }
  void gather_updates(const std::vector<Tensor>&, std::vector<Tensor>&) const override {}
  Tensor whole(std::size_t, const Tensor& buffer, const Shape&) const override {
    return buffer.clone();
  }

 private:
  std::vector<Shape> shapes_;  // the weights' shapes
};

}  // namespace

std::vector<Tensor> dualize_atoms(const std::vector<Parameter>& params,
                                  const std::vector<Tensor>& u,
                                  const std::vector<std::size_t>& atoms,
                                  const OrthogonalizeOptions& options) {
  std::vector<Parameter> chosen;
  std::vector<Tensor> inputs;
  for (const std::size_t i : atoms) {
    chosen.push_back(params[i]);
    inputs.push_back(u[i]);
  }
  DualizeOptions dualize_options;
  dualize_options.orthogonalize = options;
  const std::vector<Tensor> directions =
      dualize_parameters(chosen, inputs, dualize_options, InputValues::trusted);
  std::vector<Tensor> out(params.size());
  for (std::size_t k = 0; k < atoms.size(); ++k) out[atoms[k]] = directions[k];
  return out;
}

std::unique_ptr<StepPlan> make_step_plan(const char* op, distributed::Group group,
                                         const std::vector<Parameter>& params,
                                         const StepRule& options) {
  if (group.size() == 1) return std::make_unique<LocalPlan>(params);
  return make_sharded_plan(op, std::move(group), params, options);
}

}  // namespace modnorm::detail
