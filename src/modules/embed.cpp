// Embed: id -> column of W (d x vocab), column norm (docs/theory.md, section 2).
#include "modnorm/modules/embed.hpp"

#include <cmath>

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
    const std::vector<double> values = ids.to_vector_f64();  // exact for i32
    std::vector<std::int64_t> tokens(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      tokens[k] = static_cast<std::int64_t>(values[k]);
      if (tokens[k] < 0 || tokens[k] >= vocab_)
        fail_in("Embed.forward", *this,
                "token id " + std::to_string(tokens[k]) + " at position " + std::to_string(k) +
                    " is not in [0, " + std::to_string(vocab_) + ")");
    }
    ids_shape_ = ids.shape();
    tokens_ = std::move(tokens);
    Shape y_shape = ids_shape_;
    y_shape.push_back(d_);
    return transpose(gather_cols(weight(), tokens_)).reshape(y_shape);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Embed.backward", *this, !ids_shape_.empty());
    Shape y_shape = ids_shape_;
    y_shape.push_back(d_);
    check_grad_shape("Embed.backward", *this, dy, y_shape);
    check_like("Embed.backward", *this, dy, weight());
    const auto n = static_cast<std::int64_t>(tokens_.size());
    scatter_add_cols(grad(), tokens_, transpose(dy.reshape({n, d_})));  // dW[:, id] += dy_k
    // Token ids are not differentiable: dL/d ids is zero (in the weight's dtype and device).
    return Tensor::zeros(ids_shape_, weight().dtype(), weight().device());
  }

  void clear_cache() override {
    ids_shape_.clear();
    tokens_.clear();
  }

 private:
  std::int64_t vocab_, d_;
  std::vector<std::int64_t> tokens_;
  Shape ids_shape_;  // empty until forward
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
