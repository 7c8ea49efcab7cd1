#include "modnorm/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <ostream>
#include <sstream>

#include "backend.hpp"
#include "modnorm/error.hpp"

namespace modnorm {

static_assert(static_cast<std::uint64_t>(kMaxTensorBytes) <=
                  std::numeric_limits<std::size_t>::max() / 2,
              "kMaxTensorBytes must leave room for a sum in std::size_t (a 64-bit host)");

namespace {

std::uint32_t float_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

float bits_float(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The range of i32, which a float value must fall in (as an integer) to become one.
constexpr double kI32Min = -2147483648.0, kI32Max = 2147483647.0;

std::string number_text(double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  return os.str();
}

std::shared_ptr<detail::Storage> allocate(std::size_t nbytes, Device device, const char* op) {
  auto& be = detail::backend(device, op);
  try {
    auto storage = std::make_shared<detail::Storage>();
    storage->ptr = be.allocate(nbytes);
    storage->nbytes = nbytes;
    storage->device = device;
    return storage;
  } catch (const std::bad_alloc&) {
    fail(op, "out of memory allocating " + std::to_string(nbytes) + " bytes on the " +
                 to_string(device));
  }
}

}  // namespace

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "f32";
    case DType::bf16:
      return "bf16";
    case DType::f64:
      return "f64";
    case DType::i32:
      return "i32";
  }
  return "?";
}

const char* to_string(Device device) {
  return device == Device::cpu ? "cpu" : "cuda";
}

std::string to_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

std::size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::bf16:
      return 2;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
  }
  return 0;
}

std::int64_t checked_numel(const Shape& shape, const char* op, std::size_t element_bytes) {
  if (shape.size() > 4)
    fail(op, "rank " + std::to_string(shape.size()) + " is not supported (at most 4): shape " +
                 to_string(shape));
  // bytes = element_bytes * (product of the non-zero dimensions) <= kMaxTensorBytes, tested by
  // division before each multiplication so that nothing wraps.
  const auto limit = static_cast<std::uint64_t>(kMaxTensorBytes);
  std::uint64_t bytes = std::max<std::uint64_t>(element_bytes, 1);
  bool empty = false;
  for (auto d : shape) {
    if (d < 0) fail(op, "negative dimension in shape " + to_string(shape));
    if (d == 0) empty = true;
    const auto factor = static_cast<std::uint64_t>(d == 0 ? 1 : d);
    if (bytes > limit / factor)
      fail(op, "shape " + to_string(shape) + " of " + std::to_string(element_bytes) +
                   "-byte elements is larger than the limit of " + std::to_string(limit) +
                   " bytes per tensor");
    bytes *= factor;
  }
  return empty ? 0 : static_cast<std::int64_t>(bytes / std::max<std::uint64_t>(element_bytes, 1));
}

// Round-to-nearest-even on the upper 16 bits: add 0x7FFF plus the lowest kept bit, truncate.
// Overflow rounds to infinity as IEEE requires; NaN is kept NaN (quiet bit forced).
std::uint16_t float_to_bf16(float value) {
  const std::uint32_t bits = float_bits(value);
  if (std::isnan(value)) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  const std::uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<std::uint16_t>((bits + 0x7FFFu + lsb) >> 16);
}

float bf16_to_float(std::uint16_t bits) {
  return bits_float(static_cast<std::uint32_t>(bits) << 16);
}

// double -> float with round-to-odd, then float -> bf16 nearest-even: correct single rounding
// because float keeps 16 more mantissa bits than bf16 (Boldo & Melquiond 2008).
std::uint16_t double_to_bf16(double value) {
  float f = static_cast<float>(value);
  if (std::isfinite(f) && static_cast<double>(f) != value && (float_bits(f) & 1u) == 0)
    f = std::nextafter(f, value > f ? INFINITY : -INFINITY);
  return float_to_bf16(f);
}

Tensor::Tensor() : Tensor(nullptr, Shape{0}, DType::f32) {}

Tensor::Tensor(std::shared_ptr<detail::Storage> storage, Shape shape, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), dtype_(dtype) {}

Tensor Tensor::empty(Shape shape, DType dtype, Device device) {
  const auto n = checked_numel(shape, "Tensor::empty", itemsize(dtype));
  return Tensor(allocate(static_cast<std::size_t>(n) * itemsize(dtype), device, "Tensor::empty"),
                std::move(shape), dtype);
}

Tensor Tensor::full(Shape shape, double value, DType dtype, Device device) {
  if (dtype == DType::i32 && !(value >= kI32Min && value <= kI32Max && std::trunc(value) == value))
    fail("Tensor::full", "value " + number_text(value) +
                             " is not an integer in the range of i32 [-2147483648, 2147483647]");
  Tensor t = empty(std::move(shape), dtype, device);
  detail::backend_of(t).fill(t, value);
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  return full(std::move(shape), 0.0, dtype, device);
}

// Built in f64 on the host, then converted: the f64 copy is what has to fit.
Tensor Tensor::eye(std::int64_t n, DType dtype, Device device) {
  if (n < 0) fail("Tensor::eye", "size must be >= 0, got " + std::to_string(n));
  checked_numel({n, n}, "Tensor::eye", itemsize(DType::f64));
  Tensor t = zeros({n, n}, DType::f64);
  double* values = t.data<double>();
  for (std::int64_t i = 0; i < n; ++i) values[i * n + i] = 1.0;
  return t.to(dtype).to(device);
}

// Copies n host values of the given dtype into a new CPU tensor after checking the shape.
Tensor Tensor::from_host(const void* values, std::size_t count, Shape shape, DType dtype,
                         const char* op) {
  const auto n = checked_numel(shape, op, itemsize(dtype));
  if (count != static_cast<std::uint64_t>(n))
    fail(op, std::to_string(count) + " values do not fill shape " + to_string(shape) + " (" +
                 std::to_string(n) + " elements)");
  Tensor t = empty(std::move(shape), dtype, Device::cpu);
  if (n) std::memcpy(t.raw(), values, t.nbytes());
  return t;
}

Tensor Tensor::from_vector(std::vector<float> data, Shape shape) {
  return from_host(data.data(), data.size(), std::move(shape), DType::f32, "Tensor::from_vector");
}

Tensor Tensor::from_vector_f64(const std::vector<double>& data, Shape shape) {
  return from_host(data.data(), data.size(), std::move(shape), DType::f64,
                   "Tensor::from_vector_f64");
}

Tensor Tensor::from_vector_i32(const std::vector<std::int32_t>& data, Shape shape) {
  return from_host(data.data(), data.size(), std::move(shape), DType::i32,
                   "Tensor::from_vector_i32");
}

// Drawn in f64 on the host, then converted: the f64 copy is what has to fit.
Tensor Tensor::randn(Shape shape, Generator& gen, DType dtype, Device device) {
  if (dtype == DType::i32)
    fail("Tensor::randn", "normal draws are not integers: draw " + to_string(shape) +
                              " in a float dtype and convert explicitly, got dtype i32");
  const auto n = checked_numel(shape, "Tensor::randn", itemsize(DType::f64));
  Tensor t = empty(std::move(shape), DType::f64);
  double* values = t.data<double>();
  for (std::int64_t i = 0; i < n; ++i) values[i] = gen.normal();
  return t.to(dtype).to(device);
}

std::int64_t Tensor::dim(int axis) const {
  const int r = rank();
  if (axis < -r || axis >= r)
    throw Error("[Tensor::dim] axis " + std::to_string(axis) + " out of range for shape " +
                to_string(shape_));
  return shape_[static_cast<std::size_t>(axis < 0 ? axis + r : axis)];
}

std::int64_t Tensor::numel() const {
  return checked_numel(shape_, "Tensor::numel", itemsize(dtype_));
}

Device Tensor::device() const {
  return storage_ ? storage_->device : Device::cpu;
}

std::size_t Tensor::nbytes() const {
  return static_cast<std::size_t>(numel()) * itemsize(dtype_);
}

std::string Tensor::describe() const {
  return to_string(shape_) + " " + to_string(dtype_) + " " + to_string(device());
}

void* Tensor::raw() {
  return storage_ ? storage_->ptr : nullptr;
}
const void* Tensor::raw() const {
  return storage_ ? storage_->ptr : nullptr;
}

void Tensor::check_host_access(DType expected) const {
  if (dtype_ != expected)
    throw Error(std::string("[Tensor::data] element type does not match: tensor is ") + describe() +
                ", requested " + modnorm::to_string(expected));
  if (device() != Device::cpu)
    throw Error("[Tensor::data] host pointer requested for " + describe() +
                "; copy it with .to(Device::cpu) first");
}

std::vector<double> Tensor::to_vector_f64() const {
  const Tensor host = to(Device::cpu).to(DType::f64);
  const double* p = host.data<double>();
  return std::vector<double>(p, p + numel());
}

std::vector<float> Tensor::to_vector() const {
  const Tensor host = to(Device::cpu).to(DType::f32);
  const float* p = host.data<float>();
  return std::vector<float>(p, p + numel());
}

double Tensor::item() const {
  if (numel() != 1) throw Error("[Tensor::item] needs exactly one element, got " + describe());
  return to_vector_f64()[0];
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape_, dtype_, target);
  if (device() == Device::cpu)
    detail::backend(target, "Tensor::to").copy_from_host(raw(), out.raw(), nbytes());
  else
    detail::backend_of(*this).copy_to_host(raw(), out.raw(), nbytes());
  return out;
}

// Float -> i32 is checked first (integers in range only); the conversion itself then trusts it.
Tensor Tensor::to(DType target) const {
  if (target == dtype_) return *this;
  if (target == DType::i32) {
    const std::int64_t bad = detail::backend_of(*this).first_non_i32(*this);
    if (bad >= 0)
      fail("Tensor::to", "element " + std::to_string(bad) + " of " + describe() + " is " +
                             number_text(to_vector_f64()[static_cast<std::size_t>(bad)]) +
                             ", not an integer in the range of i32 [-2147483648, 2147483647] "
                             "(round or clamp it before converting)");
  }
  Tensor out = empty(shape_, target, device());
  detail::backend_of(*this).convert(*this, out);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  if (device() == Device::cpu)
    detail::cpu_backend().copy_from_host(raw(), out.raw(), nbytes());
  else
    detail::backend_of(*this).convert(*this, out);
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  const auto n = checked_numel(shape, "Tensor::reshape", itemsize(dtype_));
  if (n != numel())
    throw Error("[Tensor::reshape] cannot view " + describe() + " as " + to_string(shape) +
                ": element counts " + std::to_string(numel()) + " and " + std::to_string(n) +
                " differ");
  return Tensor(storage_, std::move(shape), dtype_);
}

bool cuda_available() {
  return detail::cuda_device_count() > 0;
}

int cuda_device_count() {
  return detail::cuda_device_count();
}

void synchronize(Device device) {
  detail::backend(device, "synchronize").synchronize();
}

std::ostream& operator<<(std::ostream& os, DType dtype) {
  return os << to_string(dtype);
}
std::ostream& operator<<(std::ostream& os, Device device) {
  return os << to_string(device);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  os << "Tensor(" << t.describe();
  const auto values = t.to_vector();
  const std::size_t shown = std::min<std::size_t>(values.size(), 8);
  os << " {";
  for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << values[i];
  if (values.size() > shown) os << ", ...";
  return os << "})";
}

}  // namespace modnorm
