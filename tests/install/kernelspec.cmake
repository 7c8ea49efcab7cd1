# `cmake --install` writes the modnorm-xcpp17 kernelspec from xeus-cpp's own xcpp17 kernelspec
# (cmake/modnorm_kernelspec.cmake), here stand-ins (xcpp17_standin.cmake) with an include
# directory and a resource directory of their own: found through JUPYTER_PATH (modnorm and
# xeus-cpp in prefixes of their own), in the prefix installed to (one conda environment), and
# named by MODNORM_XEUS_CPP_PREFIX (which wins over JUPYTER_PATH); the written argv is xcpp17's
# followed by modnorm's include directory and library, env kept with OMP_WAIT_POLICY=passive
# added, logo kept. Without any xcpp17 the install says so and how to fix it, and writes no
# kernelspec; a MODNORM_XEUS_CPP_PREFIX without one fails the install.
#   cmake -DBUILD_DIR=<build> -DWORK_DIR=<scratch> -DLIBDIR=lib -DINCLUDEDIR=include
#         -DLIBRARY=libmodnorm.so.0 -P kernelspec.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
set(clean_env ${CMAKE_COMMAND} -E env --unset=CONDA_PREFIX --unset=JUPYTER_PATH
    --unset=JUPYTER_DATA_DIR --unset=XDG_DATA_HOME "HOME=${WORK_DIR}/home")

function(standin prefix)
  execute_process(COMMAND ${CMAKE_COMMAND} "-DJUPYTER_DIR=${prefix}/share/jupyter"
    "-DXCPP=${prefix}/bin/xcpp" "-DINCLUDE_DIR=${prefix}/include/xeus-standin"
    "-DRESOURCE_DIR=${prefix}/lib/clang/19" -P "${CMAKE_CURRENT_LIST_DIR}/xcpp17_standin.cmake"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not write the stand-in xcpp17 kernelspec in ${prefix}")
  endif()
endfunction()

# Runs `command` (a list) and sets rc and out (stdout and stderr, every run of spaces and line
# breaks made one space: CMake wraps its warnings) in the caller.
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE code OUTPUT_VARIABLE text ERROR_VARIABLE text)
  string(REGEX REPLACE "[ \n]+" " " text "${text}")
  set(rc "${code}" PARENT_SCOPE)
  set(out "${text}" PARENT_SCOPE)
endfunction()

# The kernelspec written into `prefix` extends the stand-in of `xeus`.
function(check_kernelspec label prefix xeus)
  set(dir "${prefix}/share/jupyter/kernels/modnorm-xcpp17")
  if(NOT EXISTS "${dir}/kernel.json")
    message(FATAL_ERROR "${label}: no ${dir}/kernel.json")
  endif()
  file(READ "${dir}/kernel.json" spec)
  string(JSON argc LENGTH "${spec}" argv)
  set(argv "")
  math(EXPR last "${argc} - 1")
  foreach(k RANGE ${last})
    string(JSON arg GET "${spec}" argv ${k})
    list(APPEND argv "${arg}")
  endforeach()
  set(expected "${xeus}/bin/xcpp" -f "{connection_file}" -resource-dir "${xeus}/lib/clang/19"
      -I "${xeus}/include/xeus-standin" -std=c++17 -I "${prefix}/${INCLUDEDIR}"
      -Xclang -load -Xclang "${prefix}/${LIBDIR}/${LIBRARY}")
  if(NOT argv STREQUAL expected)
    string(REPLACE ";" " " argv "${argv}")
    string(REPLACE ";" " " expected "${expected}")
    message(FATAL_ERROR "${label}: argv is\n  ${argv}\nexpected\n  ${expected}")
  endif()
  string(JSON name GET "${spec}" display_name)
  string(JSON env GET "${spec}" env XEUS_CPP_STANDIN)
  string(JSON policy GET "${spec}" env OMP_WAIT_POLICY)
  if(NOT name STREQUAL "C++17 (xeus-cpp, modnorm)" OR NOT env STREQUAL "1"
     OR NOT policy STREQUAL "passive" OR NOT EXISTS "${dir}/logo-svg.svg")
    message(FATAL_ERROR "${label}: display_name '${name}', env or logo not as xcpp17's:\n${spec}")
  endif()
  message(STATUS "${label}: ok")
endfunction()

# modnorm and xeus-cpp in prefixes of their own; Jupyter (and the install) see xeus-cpp's
# kernels through JUPYTER_PATH.
standin("${WORK_DIR}/xeus")
run(${clean_env} "JUPYTER_PATH=${WORK_DIR}/xeus/share/jupyter"
    ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/own")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install with JUPYTER_PATH failed:\n${out}")
endif()
check_kernelspec("JUPYTER_PATH" "${WORK_DIR}/own" "${WORK_DIR}/xeus")

# Both in one prefix, as in a conda environment.
standin("${WORK_DIR}/env")
run(${clean_env} ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/env")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install into xeus-cpp's prefix failed:\n${out}")
endif()
check_kernelspec("same prefix" "${WORK_DIR}/env" "${WORK_DIR}/env")

# MODNORM_XEUS_CPP_PREFIX names xeus-cpp's prefix, whatever JUPYTER_PATH says.
run(${clean_env} "JUPYTER_PATH=${WORK_DIR}/env/share/jupyter" ${CMAKE_COMMAND}
    "-DCMAKE_INSTALL_PREFIX=${WORK_DIR}/named" "-DMODNORM_XEUS_CPP_PREFIX=${WORK_DIR}/xeus"
    -P "${BUILD_DIR}/cmake_install.cmake")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install with MODNORM_XEUS_CPP_PREFIX failed:\n${out}")
endif()
check_kernelspec("MODNORM_XEUS_CPP_PREFIX" "${WORK_DIR}/named" "${WORK_DIR}/xeus")

# A MODNORM_XEUS_CPP_PREFIX without xcpp17 fails the install, naming the path.
run(${clean_env} ${CMAKE_COMMAND} "-DCMAKE_INSTALL_PREFIX=${WORK_DIR}/wrong"
    "-DMODNORM_XEUS_CPP_PREFIX=${WORK_DIR}/nowhere" -P "${BUILD_DIR}/cmake_install.cmake")
if(rc EQUAL 0 OR NOT out MATCHES "no ${WORK_DIR}/nowhere/share/jupyter/kernels/xcpp17/kernel.json")
  message(FATAL_ERROR "a MODNORM_XEUS_CPP_PREFIX without xcpp17 was accepted (${rc}):\n${out}")
endif()
message(STATUS "MODNORM_XEUS_CPP_PREFIX without xcpp17: refused")

# No xeus-cpp anywhere: the library installs, the kernelspec does not, and the install says how
# to fix it (unless this machine has a real xcpp17 in /usr or /usr/local).
if(EXISTS /usr/share/jupyter/kernels/xcpp17 OR EXISTS /usr/local/share/jupyter/kernels/xcpp17)
  message(STATUS "no xeus-cpp: not checked, this machine has an xcpp17 kernelspec in /usr")
  return()
endif()
run(${clean_env} ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/none")
if(NOT rc EQUAL 0 OR NOT out MATCHES "no xeus-cpp kernelspec xcpp17 found in"
   OR NOT out MATCHES "MODNORM_XEUS_CPP_PREFIX=<prefix>"
   OR EXISTS "${WORK_DIR}/none/share/jupyter/kernels/modnorm-xcpp17"
   OR NOT EXISTS "${WORK_DIR}/none/${LIBDIR}/${LIBRARY}")
  message(FATAL_ERROR "without xcpp17 (${rc}):\n${out}")
endif()
message(STATUS "no xeus-cpp: said so, no kernelspec written")
