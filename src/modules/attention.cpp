// The bonds of attention (modula-systems/modula `modula/bond.py`): forward and backward of each,
// written with the tensor ops, so they run on any device.
#include "modnorm/modules/attention.hpp"

#include <cmath>
#include <limits>

#include "modnorm/module_checks.hpp"
#include "modnorm/ops.hpp"

namespace modnorm {
namespace {

// x has rank `rank`, naming the module and the shape otherwise.
void check_rank(const char* op, const ModuleImpl& module, const Tensor& x, int rank,
                const char* layout) {
  if (x.rank() != rank)
    fail_in(op, module, std::string("expects ") + layout + ", got " + to_string(x.shape()));
}

// A tuple of exactly two tensors (q, k) or (v, scores).
void check_pair(const char* op, const ModuleImpl& module, const std::vector<Tensor>& x,
                const char* names) {
  if (x.size() != 2)
    fail_in(
        op, module,
        std::string("takes the tuple ") + names + ", got " + std::to_string(x.size()) + " tensors");
}

class SplitIntoHeadsImpl final : public Cloneable<SplitIntoHeadsImpl, BondImpl> {
 public:
  explicit SplitIntoHeadsImpl(std::int64_t heads) : heads_(heads) {}
  std::string describe() const override { return "SplitIntoHeads(" + std::to_string(heads_) + ")"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    check_rank("SplitIntoHeads.forward", *this, x, 3, "[B, T, h d]");
    if (x.dim(2) % heads_ != 0)
      fail_in("SplitIntoHeads.forward", *this,
              "the last axis of " + to_string(x.shape()) + " is not a multiple of " +
                  std::to_string(heads_) + " heads");
    x_shape_ = x.shape();
    return permute(x.reshape({x.dim(0), x.dim(1), heads_, x.dim(2) / heads_}), {0, 2, 1, 3});
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("SplitIntoHeads.backward", *this, !x_shape_.empty());
    check_grad_shape("SplitIntoHeads.backward", *this, dy,
                     {x_shape_[0], heads_, x_shape_[1], x_shape_[2] / heads_});
    return permute(dy, {0, 2, 1, 3}).reshape(x_shape_);
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  std::int64_t heads_;
  Shape x_shape_;
};

class MergeHeadsImpl final : public Cloneable<MergeHeadsImpl, BondImpl> {
 public:
  std::string describe() const override { return "MergeHeads"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    check_rank("MergeHeads.forward", *this, x, 4, "[B, h, T, d]");
    x_shape_ = x.shape();
    return permute(x, {0, 2, 1, 3}).reshape({x.dim(0), x.dim(2), x.dim(1) * x.dim(3)});
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("MergeHeads.backward", *this, !x_shape_.empty());
    const Shape& s = x_shape_;
    check_grad_shape("MergeHeads.backward", *this, dy, {s[0], s[2], s[1] * s[3]});
    return permute(dy.reshape({s[0], s[2], s[1], s[3]}), {0, 2, 1, 3});
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  Shape x_shape_;
};

class AttentionQKImpl final : public Cloneable<AttentionQKImpl, BondImpl> {
 public:
  std::string describe() const override { return "AttentionQK"; }
  double sensitivity() const override { return 1.0; }

  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    constexpr const char* op = "AttentionQK.forward";
    check_pair(op, *this, x, "(q, k)");
    check_rank(op, *this, x[0], 4, "q as [B, h, T, d]");
    if (x[1].shape() != x[0].shape())
      fail_in(op, *this,
              "q " + to_string(x[0].shape()) + " and k " + to_string(x[1].shape()) + " differ");
    q_ = x[0];
    k_ = x[1];
    scale_ = 1.0 / static_cast<double>(x[0].dim(3));
    return {scale(matmul(*q_, *k_, false, true), scale_)};  // q k^T / d
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool /*input_grad*/) override {
    require_forward("AttentionQK.backward", *this, q_.has_value());
    const Shape s = q_->shape();
    check_grad_shape("AttentionQK.backward", *this, dy.at(0), {s[0], s[1], s[2], s[2]});
    const Tensor g = scale(dy[0], scale_);
    return {matmul(g, *k_), matmul(g, *q_, true, false)};  // dq = g k, dk = g^T q
  }

  void clear_cache() override {
    q_.reset();
    k_.reset();
  }

 private:
  std::optional<Tensor> q_, k_;
  double scale_ = 1.0;
};

class CausalMaskImpl final : public Cloneable<CausalMaskImpl, BondImpl> {
 public:
  std::string describe() const override { return "CausalMask"; }
  double sensitivity() const override { return 1.0; }

  Tensor forward(const Tensor& x) override {
    if (x.rank() < 2 || x.dim(-1) != x.dim(-2))
      fail_in("CausalMask.forward", *this,
              "expects scores [..., T, T], got " + to_string(x.shape()));
    x_shape_ = x.shape();
    return tril(x, -std::numeric_limits<double>::infinity());
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("CausalMask.backward", *this, !x_shape_.empty());
    check_grad_shape("CausalMask.backward", *this, dy, x_shape_);
    return tril(dy, 0.0);  // the masked entries do not depend on x
  }

  void clear_cache() override { x_shape_.clear(); }

 private:
  Shape x_shape_;
};

class SoftmaxImpl final : public Cloneable<SoftmaxImpl, BondImpl> {
 public:
  explicit SoftmaxImpl(double scale) : scale_(scale) {}
  std::string describe() const override { return "Softmax(" + short_number(scale_) + ")"; }
  double sensitivity() const override { return scale_; }

  Tensor forward(const Tensor& x) override {
    y_ = softmax(scale_ == 1.0 ? x : scale(x, scale_));
    return *y_;
  }

  Tensor backward(const Tensor& dy, bool /*input_grad*/) override {
    require_forward("Softmax.backward", *this, y_.has_value());
    check_grad_shape("Softmax.backward", *this, dy, y_->shape());
    const Tensor dx = softmax_backward(*y_, dy);
    return scale_ == 1.0 ? dx : scale(dx, scale_);
  }

  void clear_cache() override { y_.reset(); }

 private:
  double scale_;
  std::optional<Tensor> y_;
};

class ApplyAttentionScoresImpl final : public Cloneable<ApplyAttentionScoresImpl, BondImpl> {
 public:
  std::string describe() const override { return "ApplyAttentionScores"; }
  double sensitivity() const override { return 1.0; }

  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    constexpr const char* op = "ApplyAttentionScores.forward";
    check_pair(op, *this, x, "(v, scores)");
    check_rank(op, *this, x[0], 4, "v as [B, h, T, d]");
    const Shape& v = x[0].shape();
    if (x[1].shape() != Shape{v[0], v[1], v[2], v[2]})
      fail_in(op, *this,
              "scores " + to_string(x[1].shape()) + " do not fit v " + to_string(v) +
                  " (expected [B, h, T, T])");
    v_ = x[0];
    scores_ = x[1];
    return {matmul(*scores_, *v_)};
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool /*input_grad*/) override {
    require_forward("ApplyAttentionScores.backward", *this, v_.has_value());
    check_grad_shape("ApplyAttentionScores.backward", *this, dy.at(0), v_->shape());
    return {matmul(*scores_, dy[0], true, false), matmul(dy[0], *v_, false, true)};
  }

  void clear_cache() override {
    v_.reset();
    scores_.reset();
  }

 private:
  std::optional<Tensor> v_, scores_;
};

class RopeImpl final : public Cloneable<RopeImpl, BondImpl> {
 public:
  RopeImpl(std::int64_t d_head, double base) : d_head_(d_head), base_(base) {}
  std::string describe() const override {
    return "Rope(" + std::to_string(d_head_) + ", base " + short_number(base_) + ")";
  }
  double sensitivity() const override { return 1.0; }

  // With xs = x with its halves swapped (x P), y = D * x + X * xs where D = [cos, -cos] and
  // X = [sin, sin] per position (the formula in attention.hpp); its transpose gives
  // dx = D * dy + (X * dy) P (P is its own transpose).
  std::vector<Tensor> forward_tuple(const std::vector<Tensor>& x) override {
    constexpr const char* op = "Rope.forward";
    check_pair(op, *this, x, "(q, k)");
    for (const Tensor& t : x) {
      check_rank(op, *this, t, 4, "q and k as [B, h, T, d_head]");
      if (t.dim(3) != d_head_)
        fail_in(op, *this,
                "the last axis of " + to_string(t.shape()) + " is not d_head " +
                    std::to_string(d_head_));
    }
    tables(x[0]);
    std::vector<Tensor> y;
    for (const Tensor& t : x) y.push_back(add(mul(t, *direct_), mul(swapped(t), *crossed_)));
    return y;
  }

  std::vector<Tensor> backward_tuple(const std::vector<Tensor>& dy, bool /*input_grad*/) override {
    require_forward("Rope.backward", *this, direct_.has_value());
    std::vector<Tensor> dx;
    for (const Tensor& g : dy) {
      check_grad_shape("Rope.backward", *this, g, shape_);
      dx.push_back(add(mul(g, *direct_), swapped(mul(g, *crossed_))));
    }
    return dx;
  }

  void clear_cache() override {
    direct_.reset();
    crossed_.reset();
    swap_.reset();
  }

 private:
  // x [..., d_head] with its two halves exchanged, as one product with a permutation matrix.
  Tensor swapped(const Tensor& x) const {
    return matmul(x.reshape({x.numel() / d_head_, d_head_}), *swap_).reshape(x.shape());
  }

  // The [T, d_head] tables D and X and the swap matrix, in x's dtype and on x's device.
  void tables(const Tensor& x) {
    shape_ = x.shape();
    const std::int64_t positions = x.dim(2), r = d_head_ / 2;
    std::vector<double> d(static_cast<std::size_t>(positions * d_head_)), c(d.size());
    for (std::int64_t t = 0; t < positions; ++t)
      for (std::int64_t i = 0; i < r; ++i) {
        const double angle = static_cast<double>(t) *
                             std::pow(base_, -static_cast<double>(i) / static_cast<double>(r));
        const auto at = static_cast<std::size_t>(t * d_head_ + i);
        d[at] = std::cos(angle);
        d[at + r] = -std::cos(angle);
        c[at] = c[at + r] = std::sin(angle);
      }
    std::vector<double> p(static_cast<std::size_t>(d_head_ * d_head_), 0.0);
    for (std::int64_t i = 0; i < d_head_; ++i)
      p[static_cast<std::size_t>(i * d_head_ + (i + r) % d_head_)] = 1.0;
    auto place = [&](const std::vector<double>& v, Shape shape) {
      return Tensor::from_vector_f64(v, std::move(shape)).to(x.dtype()).to(x.device());
    };
    direct_ = place(d, {positions, d_head_});
    crossed_ = place(c, {positions, d_head_});
    swap_ = place(p, {d_head_, d_head_});
  }

  std::int64_t d_head_;
  double base_;
  Shape shape_;
  std::optional<Tensor> direct_, crossed_, swap_;
};

std::shared_ptr<ModuleImpl> make_split(std::int64_t heads) {
  if (heads < 1) fail("SplitIntoHeads", "heads must be >= 1, got " + std::to_string(heads));
  return std::make_shared<SplitIntoHeadsImpl>(heads);
}

std::shared_ptr<ModuleImpl> make_softmax(double scale) {
  if (!(scale > 0.0) || !std::isfinite(scale))
    fail("Softmax", "scale must be a finite number > 0, got " + short_number(scale));
  return std::make_shared<SoftmaxImpl>(scale);
}

std::shared_ptr<ModuleImpl> make_rope(std::int64_t d_head, double base) {
  if (d_head < 2 || d_head % 2 != 0)
    fail("Rope", "d_head must be even and >= 2, got " + std::to_string(d_head));
  if (!(base > 1.0) || !std::isfinite(base))
    fail("Rope", "base must be a finite number > 1, got " + short_number(base));
  return std::make_shared<RopeImpl>(d_head, base);
}

}  // namespace

SplitIntoHeads::SplitIntoHeads(std::int64_t heads) : Module(make_split(heads)) {}

MergeHeads::MergeHeads() : Module(std::make_shared<MergeHeadsImpl>()) {}

AttentionQK::AttentionQK() : Module(std::make_shared<AttentionQKImpl>()) {}

CausalMask::CausalMask() : Module(std::make_shared<CausalMaskImpl>()) {}

Softmax::Softmax(double scale) : Module(make_softmax(scale)) {}

ApplyAttentionScores::ApplyAttentionScores()
    : Module(std::make_shared<ApplyAttentionScoresImpl>()) {}

Rope::Rope(std::int64_t d_head, double base) : Module(make_rope(d_head, base)) {}

}  // namespace modnorm
