#pragma once
/// @file tensor.hpp
/// modnorm::Tensor: a cheap-to-copy handle to contiguous, row-major storage on the CPU or an
/// NVIDIA GPU. Operations on tensors are free functions in <modnorm/ops.hpp>.

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "modnorm/error.hpp"
#include "modnorm/export.hpp"
#include "modnorm/generator.hpp"

namespace modnorm {

/// Element type. bf16 is bfloat16 storage (1 sign, 8 exponent, 7 mantissa bits); on the CPU it
/// is converted to f32 for arithmetic and rounded back to nearest-even. f64 exists for
/// references and tests. i32 (32-bit signed integers) holds token ids: a tensor of it can be
/// made (from_vector_i32, empty, zeros, full, eye), converted with to(DType) on either device,
/// copied, reshaped, read back and saved; every operation of <modnorm/ops.hpp> refuses it
/// with `[op] expects a floating-point tensor ...`.
enum class DType : std::uint8_t { f32, bf16, f64, i32 };

/// Where the storage lives.
enum class Device : std::uint8_t { cpu, cuda };

/// A shape: rank 0 to 4, row-major, every dimension >= 0.
using Shape = std::vector<std::int64_t>;

/// "f32", "bf16", "f64", "i32".
MODNORM_API const char* to_string(DType dtype);
/// "cpu", "cuda".
MODNORM_API const char* to_string(Device device);
/// "[3x4]"; a scalar (rank 0) prints as "[]".
MODNORM_API std::string to_string(const Shape& shape);
/// Bytes per element: 4 (f32, i32), 2 (bf16) or 8 (f64).
MODNORM_API std::size_t itemsize(DType dtype);

/// True when the CUDA backend was built and at least one CUDA device is visible. Any error from
/// the CUDA runtime while counting devices (a missing driver included) counts as no device.
MODNORM_API bool cuda_available();

/// The number of visible CUDA devices: 0 without the CUDA backend or without a GPU (counted as
/// for cuda_available()). The NCCL engine takes one per rank (docs/distributed.md).
MODNORM_API int cuda_device_count();

/// Blocks until all work queued on `device` has finished (a no-op for Device::cpu, whose work
/// is done when a call returns). GPU operations are asynchronous: time them with this, e.g.
///   auto start = std::chrono::steady_clock::now();
///   auto o = modnorm::orthogonalize(g_on_gpu);
///   modnorm::synchronize(modnorm::Device::cuda);  // o is computed now
/// Reading a tensor back (to(), to_vector()) synchronises by itself. Throws modnorm::Error for
/// Device::cuda when no CUDA device is visible, or when queued work failed.
MODNORM_API void synchronize(Device device);

namespace detail {
struct Storage;
}

/// A handle to shared storage: copying a Tensor is cheap and both copies see the same elements
/// (use clone() for a deep copy). Always contiguous and row-major.
///
/// Example:
///   modnorm::Generator gen(0);
///   auto w = modnorm::Tensor::randn({256, 784}, gen);        // f32, CPU
///   auto v = modnorm::Tensor::from_vector({1, 2, 3, 4}, {2, 2});
///   std::vector<float> back = v.to_vector();                 // {1, 2, 3, 4}
class MODNORM_API Tensor {
 public:
  /// An empty f32 CPU tensor of shape [0].
  Tensor();

  /// Copies `data` into a new f32 CPU tensor of `shape`.
  /// Throws modnorm::Error if data.size() != product(shape) or the shape is invalid.
  static Tensor from_vector(std::vector<float> data, Shape shape);
  /// Copies `data` into a new f64 CPU tensor of `shape` (for references and tests).
  static Tensor from_vector_f64(const std::vector<double>& data, Shape shape);
  /// Copies `data` into a new i32 CPU tensor of `shape`: integer ids (tokens, labels).
  /// Throws modnorm::Error if data.size() != product(shape) or the shape is invalid.
  ///
  /// Example:
  ///   auto ids = modnorm::Tensor::from_vector_i32({5, 0, 17, 3}, {2, 2});   // [2x2] i32 cpu
  ///   std::vector<double> back = ids.to_vector_f64();                      // {5, 0, 17, 3}
  static Tensor from_vector_i32(const std::vector<std::int32_t>& data, Shape shape);
  /// Uninitialised storage of `shape`. Throws modnorm::Error for a shape checked_numel()
  /// refuses (its byte size included), and when the memory cannot be allocated (naming the
  /// number of bytes); the factories below do the same.
  static Tensor empty(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
  /// All zeros.
  static Tensor zeros(Shape shape, DType dtype = DType::f32, Device device = Device::cpu);
  /// All elements equal to `value` (rounded to `dtype`). For i32 the value must be an integer
  /// in [-2^31, 2^31 - 1]; anything else throws (never rounded or clamped).
  static Tensor full(Shape shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu);
  /// The n x n identity matrix.
  static Tensor eye(std::int64_t n, DType dtype = DType::f32, Device device = Device::cpu);
  /// Independent standard normal entries drawn from `gen` (reproducible for a given seed).
  /// Throws for DType::i32 (draw in a float dtype and convert explicitly).
  static Tensor randn(Shape shape, Generator& gen, DType dtype = DType::f32,
                      Device device = Device::cpu);

  /// The shape, e.g. {d_out, d_in} for a Linear weight.
  const Shape& shape() const { return shape_; }
  /// Number of dimensions, 0 to 4.
  int rank() const { return static_cast<int>(shape_.size()); }
  /// Size of dimension `axis`; negative axes count from the end. Throws on a bad axis.
  std::int64_t dim(int axis) const;
  /// Number of elements (1 for a scalar).
  std::int64_t numel() const;
  DType dtype() const { return dtype_; }
  Device device() const;
  /// numel() * itemsize(dtype()).
  std::size_t nbytes() const;
  /// "[3x4] f32 cpu": what error messages quote.
  std::string describe() const;

  /// The elements as floats, copied to the host (bf16, f64 and i32 are converted; i32 values
  /// above 2^24 in magnitude round to the nearest float).
  std::vector<float> to_vector() const;
  /// The elements as doubles, copied to the host (exact for every dtype, i32 included).
  std::vector<double> to_vector_f64() const;
  /// The single element of a one-element tensor, as a double. Throws if numel() != 1.
  double item() const;

  /// A copy on `device` (or this handle if it is already there). Throws modnorm::Error when
  /// the CUDA backend is not built or no CUDA device is visible.
  Tensor to(Device device) const;
  /// A copy converted to `dtype` (or this handle if it already has it), on the same device;
  /// f32 -> bf16 rounds to nearest-even, and so does i32 -> f32 or bf16 above 2^24 or 2^8 in
  /// magnitude (i32 -> f64 is exact). A float dtype -> i32 never rounds: every element must be
  /// an integer in [-2^31, 2^31 - 1], else it throws naming the first offending element:
  /// `[Tensor::to] element 1 of [3] f32 cpu is 2.5, not an integer in the range of i32 ...`.
  ///
  /// Example:
  ///   auto ids = modnorm::Tensor::from_vector({3, 1, 4}, {3}).to(modnorm::DType::i32);
  ///   auto back = ids.to(modnorm::DType::f32);   // {3, 1, 4}
  Tensor to(DType dtype) const;
  /// A deep copy (same shape, dtype and device, new storage).
  Tensor clone() const;
  /// The same storage seen with another shape of equal numel. Throws otherwise.
  Tensor reshape(Shape shape) const;
  /// True when both handles share storage.
  bool same_storage(const Tensor& other) const { return storage_ == other.storage_; }

  /// Raw pointer to the first element (a device pointer for CUDA tensors).
  void* raw();
  const void* raw() const;
  /// Typed host pointer to the elements of a CPU tensor: T is float (f32), double (f64),
  /// std::uint16_t (bf16 bit patterns) or std::int32_t (i32). Throws if T does not match dtype() or
  /// the tensor is not on the CPU.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;

 private:
  Tensor(std::shared_ptr<detail::Storage> storage, Shape shape, DType dtype);
  static Tensor from_host(const void* values, std::size_t count, Shape shape, DType dtype,
                          const char* op);
  void check_host_access(DType expected) const;

  std::shared_ptr<detail::Storage> storage_;
  Shape shape_;
  DType dtype_ = DType::f32;
};

namespace detail {
template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct dtype_of<std::uint16_t> {
  static constexpr DType value = DType::bf16;
};
template <>
struct dtype_of<std::int32_t> {
  static constexpr DType value = DType::i32;
};
}  // namespace detail

template <class T>
T* Tensor::data() {
  check_host_access(detail::dtype_of<T>::value);
  return static_cast<T*>(raw());
}

template <class T>
const T* Tensor::data() const {
  check_host_access(detail::dtype_of<T>::value);
  return static_cast<const T*>(raw());
}

/// Print "f32"/"bf16"/"f64"/"i32" and "cpu"/"cuda".
MODNORM_API std::ostream& operator<<(std::ostream& os, DType dtype);
MODNORM_API std::ostream& operator<<(std::ostream& os, Device device);

/// Prints describe() followed by up to 8 leading elements.
MODNORM_API std::ostream& operator<<(std::ostream& os, const Tensor& t);

/// The most bytes one tensor may hold, and so the most elements (an element takes at least one
/// byte): 2^62, half the range of std::int64_t (and of a 64-bit std::size_t), so an element
/// count, a byte size or an offset into a tensor fits both types, even with another such size
/// added to it.
inline constexpr std::int64_t kMaxTensorBytes = std::int64_t{1} << 62;

/// Element count of `shape` after validating it: rank at most 4, no negative dimension, and
/// numel * element_bytes <= kMaxTensorBytes, computed without overflow. Zero dimensions do not
/// excuse the others: the product of the non-zero dimensions must fit too, so that any tensor
/// made from some of the axes fits. Every tensor's shape passes this check when the tensor is
/// made (with its dtype's itemsize), so any product of its dimensions fits std::int64_t.
///
/// Throws modnorm::Error naming `op` and quoting the shape: `[op] rank 5 is not supported ...`,
/// `[op] negative dimension in shape [2x-1]`, or `[op] shape [5x4611686018427387904] of 4-byte
/// elements is larger than the limit of 4611686018427387904 bytes per tensor`.
///
/// Example:
///   std::int64_t n = modnorm::checked_numel({3, 4}, "my_op", 4);  // 12
MODNORM_API std::int64_t checked_numel(const Shape& shape, const char* op,
                                       std::size_t element_bytes = 1);

/// bf16 conversions, exposed for tests and bridges: round-to-nearest-even, NaN stays NaN.
MODNORM_API std::uint16_t float_to_bf16(float value);
MODNORM_API float bf16_to_float(std::uint16_t bits);
/// double -> bf16 rounded once to nearest-even (via a round-to-odd float, so no double rounding).
MODNORM_API std::uint16_t double_to_bf16(double value);

}  // namespace modnorm
