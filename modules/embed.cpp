// Embed: id -> column of W (d x vocab), column norm (docs/theory.md, section 2).
#include "embed.hpp"

#include <cmath>

#include "module_checks.hpp"
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
      detail::fail_in("Embed.forward", *this,
                      "token ids must be [B] or [B x T], got " + to_string(ids.shape()));
    const std::vector<double> values = ids.to_vector_f64();
    std::vector<std::int64_t> tokens(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      const double v = values[k];
      if (!(v >= 0.0 && v < static_cast<double>(vocab_)) || v != std::floor(v))
        detail::fail_in("Embed.forward", *this,
                        "token id " + std::to_string(v) + " at position " + std::to_string(k) +
                            " is not an integer in [0, " + std::to_string(vocab_) + ")");
      tokens[k] = static_cast<std::int64_t>(v);
    }
    ids_shape_ = ids.shape();
    ids_device_ = ids.device();
    ids_dtype_ = ids.dtype();
    tokens_ = std::move(tokens);
    Shape y_shape = ids_shape_;
    y_shape.push_back(d_);
    return transpose(gather_cols(weight(), tokens_)).reshape(y_shape);
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Embed.backward", *this, !ids_shape_.empty());
    Shape y_shape = ids_shape_;
    y_shape.push_back(d_);
    detail::check_grad_shape("Embed.backward", *this, dy, y_shape);
    detail::check_like("Embed.backward", *this, dy, weight());
    const auto n = static_cast<std::int64_t>(tokens_.size());
    scatter_add_cols(grad(), tokens_, transpose(dy.reshape({n, d_})));  // dW[:, id] += dy_k
    return Tensor::zeros(ids_shape_, ids_dtype_, ids_device_);
  }

  void clear_cache() override {
    ids_shape_.clear();
    tokens_.clear();
  }

 private:
  std::int64_t vocab_, d_;
  std::vector<std::int64_t> tokens_;
  Shape ids_shape_;  // empty until forward
  Device ids_device_ = Device::cpu;
  DType ids_dtype_ = DType::f32;
};

std::shared_ptr<ModuleImpl> make_embed(std::int64_t vocab, std::int64_t d,
                                       const AtomOptions& options) {
  if (vocab < 1 || d < 1)
    detail::fail("Embed", "vocab and d must be >= 1, got " + std::to_string(vocab) + " and " +
                              std::to_string(d));
  return std::make_shared<EmbedImpl>(vocab, d, options);
}

}  // namespace

Embed::Embed(std::int64_t vocab, std::int64_t d, const AtomOptions& options)
    : Module(make_embed(vocab, d, options)) {}

}  // namespace modnorm
