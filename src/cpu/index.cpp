// Layout and indexing: transpose, permute, the lower-triangular mask, gather/scatter-add of rows or
// columns, softmax cross-entropy.
#include <cmath>
#include <cstdint>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

// out[i0, i1, i2, i3] = x[sum_k i_k x_stride[k]] in out's row-major order; T is an unsigned
// integer of the element's size, so bits move unchanged (bf16 included).
template <class T>
void permute_as(const Tensor& x, const PermuteStrides& s, Tensor& out) {
  const T* src = static_cast<const T*>(x.raw());
  T* dst = static_cast<T*>(out.raw());
  for (std::int64_t i0 = 0; i0 < s.dims[0]; ++i0)
    for (std::int64_t i1 = 0; i1 < s.dims[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < s.dims[2]; ++i2) {
        const T* row = src + i0 * s.x_stride[0] + i1 * s.x_stride[1] + i2 * s.x_stride[2];
        for (std::int64_t i3 = 0; i3 < s.dims[3]; ++i3) *dst++ = row[i3 * s.x_stride[3]];
      }
}

// Position of the first of the n ids outside [0, bound), or -1.
std::int64_t first_outside(const std::int32_t* ids, std::int64_t n, std::int64_t bound) {
  for (std::int64_t k = 0; k < n; ++k)
    if (ids[k] < 0 || ids[k] >= bound) return k;
  return -1;
}

}  // namespace

void CpuBackend::transpose(const Tensor& x_in, Tensor& out_in) {
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::matrix<T>(out.get()) = cpu::matrix<T>(x).transpose();
  });
  out.commit();
}

void CpuBackend::permute(const Tensor& x, const std::vector<int>& axes, Tensor& out) {
  if (x.numel() == 0) return;
  const PermuteStrides strides = permute_strides(x.shape(), axes);
  visit_bits(x.dtype(), [&](auto tag) { permute_as<decltype(tag)>(x, strides, out); });
}

// Each trailing [t x s] matrix keeps its lower triangle (j <= i, the diagonal included).
void CpuBackend::tril(const Tensor& x_in, double fill, Tensor& out_in) {
  if (x_in.numel() == 0) return;
  const std::int64_t t = x_in.dim(-2), s = x_in.dim(-1), batch = x_in.numel() / (t * s);
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.raw());
    T* dst = static_cast<T*>(out.get().raw());
    const T value = static_cast<T>(fill);
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < t; ++i, src += s, dst += s)
        for (std::int64_t j = 0; j < s; ++j) dst[j] = j <= i ? src[j] : value;
  });
  out.commit();
}

std::int64_t CpuBackend::gather(const Tensor& table_in, const Tensor& ids_in, bool rows,
                                Tensor& out_in) {
  const std::int32_t* ids = ids_in.data<std::int32_t>();
  const std::int64_t n = ids_in.numel();
  const std::int64_t bad = first_outside(ids, n, table_in.dim(rows ? 0 : 1));
  if (bad >= 0) return bad;
  const Tensor table = widen(table_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto src = cpu::matrix<T>(table);
    auto dst = cpu::matrix<T>(out.get());
    for (std::int64_t k = 0; k < n; ++k) {
      if (rows)
        dst.row(k) = src.row(ids[k]);
      else
        dst.col(k) = src.col(ids[k]);
    }
  });
  out.commit();
  return -1;
}

std::int64_t CpuBackend::scatter_add(Tensor& dst_in, const Tensor& ids_in, bool rows,
                                     const Tensor& src_in) {
  const std::int32_t* ids = ids_in.data<std::int32_t>();
  const std::int64_t n = ids_in.numel();
  const std::int64_t bad = first_outside(ids, n, dst_in.dim(rows ? 0 : 1));
  if (bad >= 0) return bad;
  const Tensor src = widen(src_in);
  cpu::WideOut dst(dst_in);
  cpu::visit_float(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto s = cpu::matrix<T>(src);
    auto d = cpu::matrix<T>(dst.get());
    for (std::int64_t k = 0; k < n; ++k) {
      if (rows)
        d.row(ids[k]) += s.row(k);
      else
        d.col(ids[k]) += s.col(k);
    }
  });
  dst.commit();
  return -1;
}

// loss = mean_b (logsumexp(z_b) - z_b[y_b]); grad = (softmax(z) - onehot(y)) / batch.
std::int64_t CpuBackend::cross_entropy(const Tensor& logits_in, const Tensor& labels_in,
                                       Tensor& grad_in, double& loss) {
  const std::int32_t* labels = labels_in.data<std::int32_t>();
  const std::int64_t batch = logits_in.dim(0), classes = logits_in.dim(1);
  const std::int64_t bad = first_outside(labels, batch, classes);
  if (bad >= 0) return bad;
  const Tensor logits = widen(logits_in);
  cpu::WideOut grad(grad_in);
  double total = 0;
  cpu::visit_float(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto z = cpu::matrix<T>(logits);
    auto g = cpu::matrix<T>(grad.get());
    for (std::int64_t b = 0; b < batch; ++b) {
      const double shift = z.row(b).maxCoeff();
      double denom = 0;
      for (std::int64_t c = 0; c < classes; ++c) denom += std::exp(double(z(b, c)) - shift);
      const double log_denom = std::log(denom);
      total += log_denom + shift - double(z(b, labels[b]));
      for (std::int64_t c = 0; c < classes; ++c) {
        const double p = std::exp(double(z(b, c)) - shift - log_denom);
        g(b, c) = static_cast<T>((p - (c == labels[b] ? 1.0 : 0.0)) / double(batch));
      }
    }
  });
  grad.commit();
  loss = total / static_cast<double>(batch);
  return -1;
}

}  // namespace modnorm::detail
