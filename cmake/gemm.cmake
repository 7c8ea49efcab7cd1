# The f32 GEMM providers of the CPU backend (src/cpu/sgemm.hpp; docs/benchmarks.md, "GEMM
# providers"): onednn, openblas, blis, eigen. modnorm_find_gemm() sets
# MODNORM_GEMM_<name>_FOUND for each; modnorm_link_gemm(TARGET NAME) compiles src/cpu/sgemm.cpp's
# branch for NAME into TARGET (the library, or one of bench/gemm.cpp's programs) and links it.
set(MODNORM_GEMM_PROVIDERS onednn openblas blis eigen)

macro(modnorm_find_gemm)
  find_package(dnnl QUIET CONFIG)
  set(MODNORM_GEMM_onednn_FOUND ${dnnl_FOUND})
  # OpenBLAS and BLIS through their CBLAS interface. Debian installs each threading flavour's
  # headers in a folder of its own; the OpenMP ones share modnorm's OpenMP runtime and thread count.
  # The folder is the one that holds the library's own header (its cblas.h sits beside it).
  set(_header_openblas openblas_config.h)
  set(_header_blis blis.h)
  foreach(_cblas openblas blis)
    find_library(MODNORM_GEMM_${_cblas}_LIBRARY NAMES ${_cblas})
    find_path(MODNORM_GEMM_${_cblas}_INCLUDE_DIR ${_header_${_cblas}}
              PATH_SUFFIXES x86_64-linux-gnu/${_cblas}-openmp ${_cblas}-openmp ${_cblas})
    if(MODNORM_GEMM_${_cblas}_LIBRARY AND MODNORM_GEMM_${_cblas}_INCLUDE_DIR)
      set(MODNORM_GEMM_${_cblas}_FOUND 1)
    else()
      set(MODNORM_GEMM_${_cblas}_FOUND 0)
    endif()
  endforeach()
  set(MODNORM_GEMM_eigen_FOUND 1)
endmacro()

function(modnorm_link_gemm target provider)
  string(TOUPPER ${provider} _PROVIDER)
  target_compile_definitions(${target} PRIVATE MODNORM_GEMM_${_PROVIDER}=1)
  target_link_libraries(${target} PRIVATE Eigen3::Eigen)  # small products, and the eigen provider
  if(provider STREQUAL "onednn")
    target_link_libraries(${target} PRIVATE DNNL::dnnl)
  elseif(provider STREQUAL "openblas" OR provider STREQUAL "blis")
    target_include_directories(${target} SYSTEM PRIVATE ${MODNORM_GEMM_${provider}_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${MODNORM_GEMM_${provider}_LIBRARY})
  endif()
endfunction()

# Whether OpenBLAS runs its generic kernels on the build machine's CPU (a model newer than the
# installed OpenBLAS): src/cpu/sgemm.cpp's own test, compiled for OpenBLAS and run once.
function(modnorm_openblas_is_generic out)
  unset(MODNORM_GEMM_PROBE_RUN CACHE)  # probed on every configure: the CPU may have changed
  try_run(MODNORM_GEMM_PROBE_RUN MODNORM_GEMM_PROBE_COMPILED ${CMAKE_BINARY_DIR}/gemm_probe
          SOURCES ${PROJECT_SOURCE_DIR}/cmake/gemm_probe.cpp ${PROJECT_SOURCE_DIR}/src/cpu/sgemm.cpp
          CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${PROJECT_SOURCE_DIR}/src;${PROJECT_SOURCE_DIR}/include;${MODNORM_GEMM_openblas_INCLUDE_DIR};${EIGEN3_INCLUDE_DIR}"
          COMPILE_DEFINITIONS -DMODNORM_GEMM_OPENBLAS=1
          LINK_LIBRARIES ${MODNORM_GEMM_openblas_LIBRARY} OpenMP::OpenMP_CXX
          CXX_STANDARD 17
          RUN_OUTPUT_VARIABLE _output)
  if(MODNORM_GEMM_PROBE_COMPILED AND MODNORM_GEMM_PROBE_RUN EQUAL 0 AND _output MATCHES "^1")
    set(${out} 1 PARENT_SCOPE)
  else()
    set(${out} 0 PARENT_SCOPE)
  endif()
endfunction()
