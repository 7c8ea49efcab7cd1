// detail::pack and detail::unpack: byte copies on the tensors' device (Backend::copy).
#include "pack.hpp"

#include "backend.hpp"

namespace modnorm::detail {

Tensor pack(const std::vector<Tensor>& parts, Shape shape) {
  const Tensor& first = parts.at(0);
  Tensor out = Tensor::empty(std::move(shape), first.dtype(), first.device());
  auto* at = static_cast<char*>(out.raw());
  for (const Tensor& part : parts) {
    backend_of(out).copy(part.raw(), at, part.nbytes());
    at += part.nbytes();
  }
  return out;
}

std::vector<Tensor> unpack(const Tensor& whole, const std::vector<Shape>& shapes) {
  std::vector<Tensor> out;
  const auto* at = static_cast<const char*>(whole.raw());
  for (const Shape& shape : shapes) {
    Tensor part = Tensor::empty(shape, whole.dtype(), whole.device());
    backend_of(whole).copy(at, part.raw(), part.nbytes());
    at += part.nbytes();
    out.push_back(std::move(part));
  }
  return out;
}

}  // namespace modnorm::detail
