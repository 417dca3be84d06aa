# cmake -DIN=<file> -DOUT=<header> -DNAME=<identifier> -DNAMESPACE=<ns>
#       -P EmbedText.cmake
# Writes a header defining `inline constexpr std::string_view NAME` in
# namespace NAMESPACE with the contents of IN, so that a page ships inside the
# binary (no files to find at run time).
if(NOT NAMESPACE)
  message(FATAL_ERROR "EmbedText.cmake: -DNAMESPACE=<namespace> is missing")
endif()
file(READ "${IN}" content)
string(FIND "${content}" ")inprof_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter")
endif()
file(WRITE "${OUT}.tmp"
  "// Generated from ${IN} by cmake/EmbedText.cmake. Do not edit.\n"
  "#pragma once\n#include <string_view>\n"
  "namespace ${NAMESPACE} {\n"
  "inline constexpr std::string_view ${NAME} = R\"inprof_embed(${content})inprof_embed\";\n"
  "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
