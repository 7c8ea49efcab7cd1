# The f32 GEMM providers of the CPU backend (src/cpu/sgemm.hpp; docs/benchmarks.md, "GEMM
# providers"): onednn, openblas, blis, eigen. modnorm_find_gemm() sets
# MODNORM_GEMM_<name>_FOUND for each; modnorm_link_gemm(TARGET NAME) compiles src/cpu/sgemm.cpp's
# branch for NAME into TARGET (the library, or one of bench/gemm.cpp's programs) and links it.
set(MODNORM_GEMM_PROVIDERS onednn openblas blis eigen)

macro(modnorm_find_gemm)
  find_package(dnnl QUIET CONFIG)
  set(MODNORM_GEMM_onednn_FOUND ${dnnl_FOUND})
  # Debian installs each threading flavour's headers in a folder of its own; the OpenMP ones share
  # modnorm's OpenMP runtime and thread count.
  find_library(MODNORM_OPENBLAS_LIBRARY NAMES openblas)
  find_path(MODNORM_OPENBLAS_INCLUDE_DIR cblas.h
            PATH_SUFFIXES x86_64-linux-gnu/openblas-openmp openblas-openmp openblas)
  if(MODNORM_OPENBLAS_LIBRARY AND MODNORM_OPENBLAS_INCLUDE_DIR)
    set(MODNORM_GEMM_openblas_FOUND 1)
  else()
    set(MODNORM_GEMM_openblas_FOUND 0)
  endif()
  find_library(MODNORM_BLIS_LIBRARY NAMES blis)
  find_path(MODNORM_BLIS_INCLUDE_DIR blis.h
            PATH_SUFFIXES x86_64-linux-gnu/blis-openmp blis-openmp blis)
  if(MODNORM_BLIS_LIBRARY AND MODNORM_BLIS_INCLUDE_DIR)
    set(MODNORM_GEMM_blis_FOUND 1)
  else()
    set(MODNORM_GEMM_blis_FOUND 0)
  endif()
  set(MODNORM_GEMM_eigen_FOUND 1)
endmacro()

function(modnorm_link_gemm target provider)
  string(TOUPPER ${provider} _PROVIDER)
  target_compile_definitions(${target} PRIVATE MODNORM_GEMM_${_PROVIDER}=1)
  if(provider STREQUAL "onednn")
    target_link_libraries(${target} PRIVATE DNNL::dnnl)
  elseif(provider STREQUAL "openblas")
    target_include_directories(${target} SYSTEM PRIVATE ${MODNORM_OPENBLAS_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${MODNORM_OPENBLAS_LIBRARY})
  elseif(provider STREQUAL "blis")
    target_include_directories(${target} SYSTEM PRIVATE ${MODNORM_BLIS_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${MODNORM_BLIS_LIBRARY})
  else()
    target_link_libraries(${target} PRIVATE Eigen3::Eigen)
  endif()
endfunction()
