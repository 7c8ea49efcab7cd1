# Writes a stand-in for xeus-cpp's installed xcpp17 kernelspec, shaped as xeus-cpp 0.10 installs
# it (its xcpp, -resource-dir, -I <xeus-cpp prefix>/include, -std=c++17), with an env member and
# a logo, for the tests of the modnorm-xcpp17 kernelspec that `cmake --install` writes from it:
#   cmake -DJUPYTER_DIR=<prefix>/share/jupyter -DXCPP=<xcpp> -DINCLUDE_DIR=<dir>
#         -DRESOURCE_DIR=<dir> -P xcpp17_standin.cmake
set(dir "${JUPYTER_DIR}/kernels/xcpp17")
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${dir}/kernel.json" "{
  \"display_name\": \"C++17\",
  \"argv\": [\"${XCPP}\", \"-f\", \"{connection_file}\", \"-resource-dir\", \"${RESOURCE_DIR}\",
           \"-I\", \"${INCLUDE_DIR}\", \"-std=c++17\"],
  \"env\": {\"XEUS_CPP_STANDIN\": \"1\"},
  \"language\": \"cpp\",
  \"metadata\": {\"debugger\": false}
}
")
file(WRITE "${dir}/logo-svg.svg" "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n")
