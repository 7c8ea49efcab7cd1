// The f32 GEMM provider chosen at build time (sgemm.hpp): exactly one of MODNORM_GEMM_ONEDNN,
// MODNORM_GEMM_OPENBLAS, MODNORM_GEMM_BLIS, MODNORM_GEMM_EIGEN is 1.
#include "cpu/sgemm.hpp"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>

#include "cpu/eigen_gemm.hpp"
#include "cpu/lower_tiles.hpp"
#include "modnorm/error.hpp"

#if MODNORM_GEMM_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#elif MODNORM_GEMM_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
#elif MODNORM_GEMM_BLIS
#include <blis.h>
#include <cblas.h>
#elif !MODNORM_GEMM_EIGEN
#error "src/cpu/sgemm.cpp: no GEMM provider selected (CMake MODNORM_GEMM)"
#endif

namespace modnorm::detail::cpu {
namespace {

using Index = std::int64_t;

#if MODNORM_GEMM_OPENBLAS || MODNORM_GEMM_BLIS
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
#endif

// Whether the CPU has AVX2 (then a provider's pre-AVX2 kernels are a fallback, not a choice).
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

#if MODNORM_GEMM_ONEDNN
const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "unknown";
  }
}

GemmKernels detect() {
  const dnnl_version_t* v = dnnl_version();
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  const bool below_avx2 = (isa & dnnl_cpu_isa_avx2) != dnnl_cpu_isa_avx2;
  return {"oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
              std::to_string(v->patch),
          isa_name(isa), below_avx2 && cpu_has_avx2()};
}
#elif MODNORM_GEMM_OPENBLAS
GemmKernels detect() {
  // OpenBLAS picks its kernels by CPU model when it loads; a model it does not know gets the
  // generic ones (Prescott), whatever the instruction set. These are the kernel families of
  // OpenBLAS 0.3's x86-64 dynamic builds that use AVX2 or AVX-512.
  const std::string core = openblas_get_corename();
  const std::string c = lower(core);
  const bool avx2_kernels = c == "haswell" || c == "zen" || c == "skylakex" || c == "cooperlake" ||
                            c == "sapphirerapids" || c == "excavator";
  std::string version = OPENBLAS_VERSION;  // " OpenBLAS 0.3.21 "
  version.erase(0, version.find_first_not_of(' '));
  version.erase(version.find_last_not_of(' ') + 1);
  return {version, core, !avx2_kernels && cpu_has_avx2()};
}
#elif MODNORM_GEMM_BLIS
GemmKernels detect() {
  const std::string arch = bli_arch_string(bli_arch_query_id());
  return {std::string("BLIS ") + bli_info_get_version_str(), arch,
          lower(arch) == "generic" && cpu_has_avx2()};
}
#else
GemmKernels detect() {
  // "AVX512, FMA, AVX2, ...": the widest first, which names the kernels.
  const std::string isa = Eigen::SimdInstructionSetsInUse();
  return {"Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
              std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION),
          isa.substr(0, isa.find(',')), isa.find("AVX2") == std::string::npos && cpu_has_avx2()};
}
#endif

// Once per process, on the first product: a provider on its generic kernels runs several
// times slower than it could (docs/benchmarks.md, "GEMM providers").
void warn_if_generic() {
  static const bool warned = [] {
    const GemmKernels& k = gemm_kernels();
    if (k.generic)
      std::cerr << "modnorm: warning: the CPU GEMM (" << k.provider << ") runs its generic '"
                << k.kernels << "' kernels on a CPU with AVX2"
                << (__builtin_cpu_supports("avx512f") ? " and AVX-512" : "")
                << ", several times slower than it could: "
#if MODNORM_GEMM_ONEDNN
                << "is DNNL_MAX_CPU_ISA set?"
#elif MODNORM_GEMM_OPENBLAS
                << "set OPENBLAS_CORETYPE=Haswell (or SkylakeX with AVX-512), or rebuild with "
                   "-DMODNORM_GEMM=onednn"
#elif MODNORM_GEMM_BLIS
                << "rebuild with -DMODNORM_GEMM=onednn"
#else
                << "rebuild with -DMODNORM_NATIVE=ON or -DMODNORM_GEMM=onednn"
#endif
                << " (docs/benchmarks.md, \"GEMM providers\")\n";
    return true;
  }();
  (void)warned;
}

// Products of at most this many multiply-adds (m n k) run on Eigen's kernels whatever the
// provider: a provider call costs microseconds before any arithmetic (oneDNN's sgemm took 16 us
// for a 16x16x16 product that Eigen does in 0.2 us; docs/benchmarks.md, "GEMM providers").
constexpr Index kSmall = 32 * 32 * 32;

// Products of fewer multiply-adds run on one thread: waking a sleeping worker (modnorm's
// programs wait passively, docs/benchmarks.md "Threads between operations") costs more than the
// second thread saves there. 2^23 is 128 x 256 x 256, about 45 us on one Zen 4 core.
constexpr Index kSerial = Index{1} << 23;

// Limits the OpenMP threads (which OpenBLAS, BLIS and oneDNN size their teams by) to one for a
// product of fewer than kSerial multiply-adds, for its lifetime.
class SerialIfSmall {
 public:
  explicit SerialIfSmall(Index mnk) : threads_(omp_get_max_threads()) {
    serial_ = mnk < kSerial && threads_ > 1;
    if (serial_) omp_set_num_threads(1);
  }
  ~SerialIfSmall() {
    if (serial_) omp_set_num_threads(threads_);
  }
  SerialIfSmall(const SerialIfSmall&) = delete;
  SerialIfSmall& operator=(const SerialIfSmall&) = delete;

 private:
  int threads_;
  bool serial_ = false;
};

}  // namespace

const GemmKernels& gemm_kernels() {
  static const GemmKernels kernels = detect();
  return kernels;
}

void sgemm(bool transpose_a, bool transpose_b, Index m, Index n, Index k, float alpha,
           const float* a, Index lda, const float* b, Index ldb, float beta, float* c, Index ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta C; the providers refuse the strides of an empty A or B
    for (Index i = 0; i < m; ++i)
      for (Index j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  warn_if_generic();
  if (m * n * k <= kSmall) {
    eigen_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const SerialIfSmall threads(m * n * k);
#if MODNORM_GEMM_ONEDNN
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k,
                                          alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success)
    fail("matmul", "oneDNN's sgemm failed (status " + std::to_string(status) + ") on [" +
                       std::to_string(m) + "x" + std::to_string(k) + "] x [" + std::to_string(k) +
                       "x" + std::to_string(n) + "]");
#elif MODNORM_GEMM_OPENBLAS || MODNORM_GEMM_BLIS
#if MODNORM_GEMM_BLIS
  bli_thread_set_num_threads(omp_get_max_threads());
#endif
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans,
              transpose_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
#else
  eigen_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void ssyrk_lower(bool transpose_a, Index m, Index k, float alpha, const float* a, Index lda,
                 float beta, float* c, Index ldc) {
  if (m == 0) return;
  if (k == 0) {  // C = beta C, as sgemm does it
    sgemm(false, true, m, m, 0, alpha, a, lda, a, lda, beta, c, ldc);
    return;
  }
#if MODNORM_GEMM_OPENBLAS || MODNORM_GEMM_BLIS
  warn_if_generic();
  const SerialIfSmall threads(m * m * k / 2);  // the lower triangle's multiply-adds
#if MODNORM_GEMM_BLIS
  bli_thread_set_num_threads(omp_get_max_threads());
#endif
  cblas_ssyrk(CblasRowMajor, CblasLower, transpose_a ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(k), alpha, a, static_cast<int>(lda), beta, c,
              static_cast<int>(ldc));
#else
  // One single-threaded GEMM per lower tile (cpu/lower_tiles.hpp), in parallel: measured faster
  // than row panels or halves as multithreaded calls (docs/benchmarks.md, "GEMM providers").
  const auto rows_of = [&](Index r) { return transpose_a ? a + r : a + r * lda; };
  for_each_lower_tile(
      lower_tile_bounds(m),
      [&](Index r0, Index h0, Index r1, Index h1) {
        sgemm(transpose_a, !transpose_a, h0, h1, k, alpha, rows_of(r0), lda, rows_of(r1), lda, beta,
              c + r0 * ldc + r1, ldc);
      },
      m * m * k / 2 >= kSerial);
#endif
}

}  // namespace modnorm::detail::cpu
