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

namespace {

bool ConsumeSuffix(std::string_view* name, std::string_view suffix) {
  if (!name->ends_with(suffix)) return false;
  name->remove_suffix(suffix.size());
  return true;
}

}  // namespace

std::string StripParameters(std::string_view demangled) {
  std::string_view name = demangled;
  // Qualifiers after the parameter list: " const", " volatile", " &", ...
  while (ConsumeSuffix(&name, " const") || ConsumeSuffix(&name, " volatile") ||
         ConsumeSuffix(&name, " &&") || ConsumeSuffix(&name, " &") ||
         ConsumeSuffix(&name, " noexcept")) {
  }
  if (!name.ends_with(')')) return std::string(demangled);
  // The '(' matching the final ')': parameter lists may hold parentheses
  // of their own ("f(void (*)(int))").
  int depth = 0;
  for (size_t i = name.size(); i-- > 0;) {
    if (name[i] == ')') ++depth;
    if (name[i] == '(' && --depth == 0) {
      // "(anonymous namespace)" alone, or a cast operator's type: keep all.
      if (i == 0) return std::string(demangled);
      return std::string(name.substr(0, i));
    }
  }
  return std::string(demangled);
}

std::string FunctionDisplayName(std::string_view symbol) {
  return StripParameters(Demangle(symbol));
}

}  // namespace inprof::internal
