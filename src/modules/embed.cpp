// Embed: id -> column of W (d x vocab), column norm (docs/theory.md, section 2).
#include "modnorm/modules/embed.hpp"

#include <cmath>
#include <optional>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

class EmbedImpl final : public Cloneable<EmbedImpl, AtomImpl> {
 public:
  EmbedImpl(std::int64_t vocab, std::int64_t d, const AtomOptions& options)
      : Cloneable("Embed", {d, vocab}, Norm::column, options), vocab_(vocab), d_(d) {}

  std::string describe() const override {
    return "Embed(" + std::to_string(vocab_) + " -> " + std::to_string(d_) + ")";
  }

  Tensor forward(const Tensor& ids) override {
    if (ids.rank() != 1 && ids.rank() != 2)
      fail_in("Embed.forward", *this,
              "token ids must be [B] or [B x T], got " + to_string(ids.shape()));
    if (ids.dtype() != DType::i32)
      fail_in("Embed.forward", *this,
              "token ids must be i32, got " + ids.describe() +
                  " (a float id would be rounded: convert with ids.to(DType::i32), "
                  "which refuses non-integers)");
    if (ids.device() != weight().device())
      fail_in("Embed.forward", *this,
              "token ids " + ids.describe() + " must be on the device of the weight " +
                  weight().describe());
    Shape y_shape = ids.shape();
    y_shape.push_back(d_);
    Tensor columns;
    try {
      columns = gather_cols(weight(), ids);  // checks each id against [0, vocab) where it lives
    } catch (const Error& e) {
      fail_in("Embed.forward", *this, e.what());
    }
    ids_ = ids;  // kept as it is, on its device, for backward
    return transpose(columns).reshape(y_shape);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Embed.backward", *this, ids_.has_value());
    Shape y_shape = ids_->shape();
    y_shape.push_back(d_);
    check_grad_shape("Embed.backward", *this, dy, y_shape);
    check_like("Embed.backward", *this, dy, weight());
    scatter_add_cols(grad(), *ids_,
                     transpose(dy.reshape({ids_->numel(), d_})));  // dW[:, id] += dy_k
    // Token ids are not differentiable: dL/d ids is zero (in the weight's dtype and device).
    return Tensor::zeros(ids_->shape(), weight().dtype(), weight().device());
  }

  void clear_cache() override { ids_.reset(); }

 private:
  std::int64_t vocab_, d_;
  std::optional<Tensor> ids_;  // the last forward's ids, until clear_cache
};

std::shared_ptr<ModuleImpl> make_embed(std::int64_t vocab, std::int64_t d,
                                       const AtomOptions& options) {
  if (vocab < 1 || d < 1)
    fail("Embed",
         "vocab and d must be >= 1, got " + std::to_string(vocab) + " and " + std::to_string(d));
  return std::make_shared<EmbedImpl>(vocab, d, options);
}

}  // namespace

Embed::Embed(std::int64_t vocab, std::int64_t d, const AtomOptions& options)
    : Module(make_embed(vocab, d, options)) {}

}  // namespace modnorm
