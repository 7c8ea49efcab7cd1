// Layout and indexing: transpose, gather/scatter-add of rows or columns, softmax cross-entropy.
#include <cmath>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {

void CpuBackend::transpose(const Tensor& x_in, Tensor& out_in) {
  const Tensor x = widen(x_in);
  cpu::WideOut out(out_in);
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::matrix<T>(out.get()) = cpu::matrix<T>(x).transpose();
  });
  out.commit();
}

void CpuBackend::gather(const Tensor& table_in, const std::int64_t* ids, std::int64_t n, bool rows,
                        Tensor& out_in) {
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
}

void CpuBackend::scatter_add(Tensor& dst_in, const std::int64_t* ids, std::int64_t n, bool rows,
                             const Tensor& src_in) {
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
}

// loss = mean_b (logsumexp(z_b) - z_b[y_b]); grad = (softmax(z) - onehot(y)) / batch.
double CpuBackend::cross_entropy(const Tensor& logits_in, const std::int64_t* labels,
                                 Tensor& grad_in) {
  const Tensor logits = widen(logits_in);
  cpu::WideOut grad(grad_in);
  const std::int64_t batch = logits.dim(0), classes = logits.dim(1);
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
  return total / static_cast<double>(batch);
}

}  // namespace modnorm::detail
