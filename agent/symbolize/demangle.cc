#include "agent/symbolize/demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace inprof::internal {

std::string Demangle(std::string_view mangled) {
  // Only "_Z..." names are C++; __cxa_demangle would otherwise also accept
  // bare type encodings, turning a C symbol like "i" into "int".
  if (!mangled.starts_with("_Z")) return std::string(mangled);
  std::string input(mangled);  // __cxa_demangle needs a NUL terminator
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(input.c_str(), nullptr, nullptr, &status),
      &std::free);
  if (status != 0 || demangled == nullptr) return input;
  return std::string(demangled.get());
}

}  // namespace inprof::internal
