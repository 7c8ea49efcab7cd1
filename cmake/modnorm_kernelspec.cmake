# Writes the Jupyter kernelspec modnorm-xcpp17 ("C++17 (xeus-cpp, modnorm)", docs/notebooks.md):
# xeus-cpp's own xcpp17 kernelspec (its xcpp, its -resource-dir, its -I <xeus-cpp>/include, its
# env) with modnorm's include directory added, libmodnorm loaded at start and
# OMP_WAIT_POLICY=passive in env. Run by
# `cmake --install` (CMakeLists.txt) with:
#   MODNORM_KERNEL_DIR          where to write kernel.json (under $DESTDIR)
#   MODNORM_KERNEL_INCLUDE_DIR  modnorm's installed include directory
#   MODNORM_KERNEL_LIBRARY      the installed libmodnorm.so.N
#   MODNORM_XEUS_CPP_PREFIX     xeus-cpp's prefix (optional): take xcpp17 from
#                               <prefix>/share/jupyter/kernels/xcpp17, and from nowhere else
# Without MODNORM_XEUS_CPP_PREFIX, xcpp17 is looked for where Jupyter looks for kernels:
# $JUPYTER_PATH, the user's data directory, the install prefix, $CONDA_PREFIX, /usr/local and
# /usr. When none is found, it says so and how to fix it, and writes nothing: a kernelspec
# without xeus-cpp's flags starts a kernel that cannot include <xcpp/xdisplay.hpp>.
set(_xcpp17_hint "Install xeus-cpp (conda install -c conda-forge xeus-cpp) and run cmake --install \
again, or name the prefix xeus-cpp is installed in: cmake -DMODNORM_XEUS_CPP_PREFIX=<prefix> \
<build dir>, then cmake --install <build dir> (docs/notebooks.md)")

if(MODNORM_XEUS_CPP_PREFIX)
  set(_jupyter_dirs "${MODNORM_XEUS_CPP_PREFIX}/share/jupyter")
else()
  set(_jupyter_dirs "")
  if(DEFINED ENV{JUPYTER_PATH})
    string(REPLACE ":" ";" _jupyter_dirs "$ENV{JUPYTER_PATH}")
  endif()
  if(DEFINED ENV{JUPYTER_DATA_DIR})
    list(APPEND _jupyter_dirs "$ENV{JUPYTER_DATA_DIR}")
  elseif(DEFINED ENV{XDG_DATA_HOME})
    list(APPEND _jupyter_dirs "$ENV{XDG_DATA_HOME}/jupyter")
  elseif(DEFINED ENV{HOME})
    list(APPEND _jupyter_dirs "$ENV{HOME}/.local/share/jupyter")
  endif()
  list(APPEND _jupyter_dirs "${CMAKE_INSTALL_PREFIX}/share/jupyter")
  if(DEFINED ENV{CONDA_PREFIX})
    list(APPEND _jupyter_dirs "$ENV{CONDA_PREFIX}/share/jupyter")
  endif()
  list(APPEND _jupyter_dirs /usr/local/share/jupyter /usr/share/jupyter)
endif()

set(_xcpp17 "")
foreach(_dir IN LISTS _jupyter_dirs)
  if(_dir AND EXISTS "${_dir}/kernels/xcpp17/kernel.json")
    set(_xcpp17 "${_dir}/kernels/xcpp17")
    break()
  endif()
endforeach()

if(NOT _xcpp17)
  string(REPLACE ";" ", " _searched "${_jupyter_dirs}")
  if(MODNORM_XEUS_CPP_PREFIX)
    message(FATAL_ERROR "[modnorm kernelspec] MODNORM_XEUS_CPP_PREFIX is \
${MODNORM_XEUS_CPP_PREFIX}, but there is no ${_searched}/kernels/xcpp17/kernel.json: name the \
prefix that holds xeus-cpp's share/jupyter/kernels/xcpp17 (where its bin/xcpp is).")
  endif()
  message(WARNING "[modnorm kernelspec] no xeus-cpp kernelspec xcpp17 found in ${_searched}: \
the Jupyter kernel \"C++17 (xeus-cpp, modnorm)\" (modnorm-xcpp17) was not installed. \
${_xcpp17_hint}.")
  return()
endif()

file(READ "${_xcpp17}/kernel.json" _spec)
string(JSON _argc ERROR_VARIABLE _error LENGTH "${_spec}" argv)
if(_error)
  message(FATAL_ERROR "[modnorm kernelspec] ${_xcpp17}/kernel.json has no argv list (${_error})")
endif()
foreach(_path IN ITEMS "${MODNORM_KERNEL_INCLUDE_DIR}" "${MODNORM_KERNEL_LIBRARY}")
  if(NOT EXISTS "$ENV{DESTDIR}${_path}")
    message(FATAL_ERROR "[modnorm kernelspec] $ENV{DESTDIR}${_path} does not exist: install \
modnorm's headers and library before its kernelspec")
  endif()
endforeach()
# -Xclang -load makes clang open the library as it starts (as it opens a plugin), with its
# symbols global, so the JIT finds modnorm's symbols in the kernel process.
foreach(_arg IN ITEMS -I "${MODNORM_KERNEL_INCLUDE_DIR}" -Xclang -load -Xclang
                      "${MODNORM_KERNEL_LIBRARY}")
  string(REPLACE "\\" "\\\\" _arg "${_arg}")
  string(REPLACE "\"" "\\\"" _arg "${_arg}")
  string(JSON _spec SET "${_spec}" argv ${_argc} "\"${_arg}\"")
  math(EXPR _argc "${_argc} + 1")
endforeach()
string(JSON _spec SET "${_spec}" display_name "\"C++17 (xeus-cpp, modnorm)\"")
# OpenMP workers that sleep between operations (docs/benchmarks.md, "Threads between
# operations"), unless xcpp17's env already chooses a policy.
string(JSON _type ERROR_VARIABLE _error TYPE "${_spec}" env)
if(_error)
  string(JSON _spec SET "${_spec}" env "{}")
endif()
string(JSON _policy ERROR_VARIABLE _error GET "${_spec}" env OMP_WAIT_POLICY)
if(_error)
  string(JSON _spec SET "${_spec}" env OMP_WAIT_POLICY "\"passive\"")
endif()

message(STATUS "Installing: $ENV{DESTDIR}${MODNORM_KERNEL_DIR}/kernel.json (from ${_xcpp17})")
file(WRITE "$ENV{DESTDIR}${MODNORM_KERNEL_DIR}/kernel.json" "${_spec}\n")
file(GLOB _logos "${_xcpp17}/logo-*")
if(_logos)
  file(COPY ${_logos} DESTINATION "$ENV{DESTDIR}${MODNORM_KERNEL_DIR}")
endif()
