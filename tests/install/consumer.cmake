# Installs the built tree into a scratch prefix, checks that it ships the public headers and
# nothing else of the source tree (no .cpp, no private header), then configures, builds and runs
# examples/cmake_project against it with find_package(modnorm CONFIG REQUIRED): a product, a
# norm defined outside the library that trains a module, and a module defined outside the
# library that trains in a network.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
get_filename_component(_public ${PROJECT_DIR}/../../include ABSOLUTE)
file(GLOB_RECURSE _installed RELATIVE ${WORK_DIR}/prefix/include ${WORK_DIR}/prefix/include/*)
file(GLOB_RECURSE _headers RELATIVE ${_public} ${_public}/*)
if(NOT _installed STREQUAL _headers)
  message(FATAL_ERROR "the install's include/ holds [${_installed}], not the public headers "
                      "[${_headers}] of ${_public}")
endif()
foreach(_file ${_installed})
  if(NOT _file MATCHES "\\.hpp$")
    message(FATAL_ERROR "the install ships ${_file}, which is not a header")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${PROJECT_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
run(${WORK_DIR}/build/custom_norm)
run(${WORK_DIR}/build/custom_module)
