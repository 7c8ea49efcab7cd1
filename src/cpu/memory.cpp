// Host memory, copies, fill and dtype conversion (and the check that float -> i32 is exact).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_compute.hpp"

namespace modnorm::detail {
namespace {

constexpr std::size_t kAlignment = 64;  // a cache line; also what AVX-512 loads like

template <class Out>
Out from_double(double v);
template <>
float from_double<float>(double v) {
  return static_cast<float>(v);
}
template <>
double from_double<double>(double v) {
  return v;
}
template <>
std::uint16_t from_double<std::uint16_t>(double v) {
  return double_to_bf16(v);
}
template <>
std::int32_t from_double<std::int32_t>(double v) {
  return static_cast<std::int32_t>(v);  // an integer in range: Tensor::to checked it
}

template <class In>
double to_double(In v) {
  return static_cast<double>(v);
}
template <>
double to_double<std::uint16_t>(std::uint16_t v) {
  return bf16_to_float(v);
}

template <class T>
void fill_as(Tensor& out, double value) {
  const T v = from_double<T>(value);
  T* p = static_cast<T*>(out.raw());
  cpu::in_chunks(out.numel(),
                 [&](std::int64_t begin, std::int64_t end) { std::fill(p + begin, p + end, v); });
}

template <class In, class Out>
void convert_as(const Tensor& in, Tensor& out) {
  const In* src = static_cast<const In*>(in.raw());
  Out* dst = static_cast<Out*>(out.raw());
  const std::int64_t n = in.numel();
  for (std::int64_t i = 0; i < n; ++i) dst[i] = from_double<Out>(to_double(src[i]));
}

// Dispatches fn<T>() over the four storage types.
template <template <class> class F, class... Args>
void visit_storage(DType dtype, Args&&... args) {
  switch (dtype) {
    case DType::f32:
      return F<float>::run(std::forward<Args>(args)...);
    case DType::f64:
      return F<double>::run(std::forward<Args>(args)...);
    case DType::bf16:
      return F<std::uint16_t>::run(std::forward<Args>(args)...);
    case DType::i32:
      return F<std::int32_t>::run(std::forward<Args>(args)...);
  }
}

template <class Out>
struct ConvertTo {
  template <class In>
  struct From {
    static void run(const Tensor& in, Tensor& out) { convert_as<In, Out>(in, out); }
  };
};

template <class T>
struct Fill {
  static void run(Tensor& out, double value) { fill_as<T>(out, value); }
};

// Large blocks are cached. malloc serves a large block with a fresh mmap, and each of its pages
// faults on first touch (a quarter of a convolutional network's training step went to that); a
// training loop frees and asks again for the same sizes every step. So a freed block of at least
// kCacheMin bytes is kept for the next request of its (aligned) size, up to kCacheMax bytes in
// all, and the cache is emptied when malloc fails. Not under AddressSanitizer, whose use-after-
// free reports need every block really freed.
#if defined(__SANITIZE_ADDRESS__)
#define MODNORM_CPU_BLOCK_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MODNORM_CPU_BLOCK_CACHE 0
#endif
#endif
#ifndef MODNORM_CPU_BLOCK_CACHE
#define MODNORM_CPU_BLOCK_CACHE 1
#endif

constexpr std::size_t kCacheMin = std::size_t{1} << 18;  // 256 KiB: below, malloc's own heap
constexpr std::size_t kCacheMax = std::size_t{1} << 30;  // 1 GiB of idle blocks at most

class BlockCache {
 public:
  // The cached block of exactly `bytes` freed last (its lines may still be cached), or nullptr.
  void* take(std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto [first, last] = idle_.equal_range(bytes);  // in the order they were freed
    if (first == last) return nullptr;
    const auto it = std::prev(last);
    void* p = it->second;
    idle_.erase(it);
    idle_bytes_ -= bytes;
    live_.emplace(p, bytes);
    return p;
  }
  void track(void* p, std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(p, bytes);
  }
  // Keeps a tracked block for reuse (false: not tracked, or the cache is full; free it).
  bool keep(void* p) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = live_.find(p);
    if (it == live_.end()) return false;
    const std::size_t bytes = it->second;
    live_.erase(it);
    if (idle_bytes_ + bytes > kCacheMax) return false;
    idle_.emplace(bytes, p);
    idle_bytes_ += bytes;
    return true;
  }
  void release() {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [bytes, p] : idle_) std::free(p);
    idle_.clear();
    idle_bytes_ = 0;
  }

 private:
  std::mutex mutex_;
  std::multimap<std::size_t, void*> idle_;
  std::unordered_map<void*, std::size_t> live_;
  std::size_t idle_bytes_ = 0;
};

// Never destroyed: tensors in static storage may be freed after every other static object.
BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache;
  return *cache;
}

}  // namespace

void* CpuBackend::allocate(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const std::size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  const bool cached = MODNORM_CPU_BLOCK_CACHE && rounded >= kCacheMin;
  if (cached)
    if (void* p = block_cache().take(rounded)) return p;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p == nullptr && cached) {
    block_cache().release();
    p = std::aligned_alloc(kAlignment, rounded);
  }
  if (p == nullptr)
    throw Error("[allocate] out of host memory allocating " + std::to_string(nbytes) + " bytes");
  if (cached) block_cache().track(p, rounded);
  return p;
}

void CpuBackend::deallocate(void* ptr) noexcept {
  if (MODNORM_CPU_BLOCK_CACHE && ptr != nullptr && block_cache().keep(ptr)) return;
  std::free(ptr);
}

void CpuBackend::copy_from_host(const void* host, void* dst, std::size_t nbytes) {
  if (nbytes) std::memcpy(dst, host, nbytes);
}

void CpuBackend::copy_to_host(const void* src, void* host, std::size_t nbytes) {
  if (nbytes) std::memcpy(host, src, nbytes);
}

void CpuBackend::copy(const void* src, void* dst, std::size_t nbytes) {
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void CpuBackend::fill(Tensor& out, double value) {
  visit_storage<Fill>(out.dtype(), out, value);
}

void CpuBackend::convert(const Tensor& in, Tensor& out) {
  switch (out.dtype()) {
    case DType::f32:
      return visit_storage<ConvertTo<float>::From>(in.dtype(), in, out);
    case DType::f64:
      return visit_storage<ConvertTo<double>::From>(in.dtype(), in, out);
    case DType::bf16:
      return visit_storage<ConvertTo<std::uint16_t>::From>(in.dtype(), in, out);
    case DType::i32:
      return visit_storage<ConvertTo<std::int32_t>::From>(in.dtype(), in, out);
  }
}

std::int64_t CpuBackend::first_non_i32(const Tensor& x_in) {
  const Tensor x = widen(x_in);
  std::int64_t first = -1;
  cpu::visit_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(x.raw());
    const std::int64_t n = x.numel();
    for (std::int64_t i = 0; i < n && first < 0; ++i) {
      const double v = p[i];  // NaN fails every comparison
      if (!(v >= -2147483648.0 && v <= 2147483647.0 && std::trunc(v) == v)) first = i;
    }
  });
  return first;
}

}  // namespace modnorm::detail
