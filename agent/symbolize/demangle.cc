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

namespace {

// True if the "operator" keyword ends right before position `i` of `name`,
// so that the '<' or '>' at `i` belongs to an operator's name.
bool IsOperatorSymbol(std::string_view name, size_t i) {
  size_t start = name.rfind("operator", i);
  if (start == std::string_view::npos) return false;
  for (size_t j = start + 8; j < i; ++j) {
    if (name[j] != '<' && name[j] != '>' && name[j] != '=') {
      return false;
    }
  }
  return true;
}

std::string RemoveTemplateArguments(std::string_view name) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if ((c == '<' || c == '>') && IsOperatorSymbol(name, i)) {
      if (depth == 0) out += c;
      continue;
    }
    if (c == '<') {
      ++depth;
    } else if (c == '>' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  if (depth != 0) return std::string(name);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Drops "RetType " before the qualified name: the last space outside
// parentheses and braces that does not belong to "operator new" & co.
std::string RemoveReturnType(std::string_view name) {
  int depth = 0;
  for (size_t i = name.size(); i-- > 0;) {
    char c = name[i];
    if (c == ')' || c == '}' || c == ']') ++depth;
    if (c == '(' || c == '{' || c == '[') --depth;
    if (c != ' ' || depth != 0) continue;
    std::string_view before = name.substr(0, i);
    if (before.ends_with("operator") || before.ends_with(",")) continue;
    return std::string(name.substr(i + 1));
  }
  return std::string(name);
}

}  // namespace

std::string StripTemplatesAndReturnType(std::string_view name) {
  return RemoveReturnType(RemoveTemplateArguments(name));
}

std::string FunctionDisplayName(std::string_view symbol) {
  // GCC's clones of a function ("f(int) [clone .isra.0]", "[clone .cold]")
  // are that function, as DWARF names them.
  const std::string demangled = Demangle(symbol);
  std::string_view name = demangled;
  for (size_t clone; name.ends_with(']') && (clone = name.rfind(" [clone ")) !=
                                                std::string_view::npos;) {
    name = name.substr(0, clone);
  }
  std::string display = StripTemplatesAndReturnType(StripParameters(name));
  // Nor do ABI tags ("Name[abi:cxx11]", of functions returning std::string)
  // name another function: DWARF's names have none.
  for (size_t tag; (tag = display.find("[abi:")) != std::string::npos;) {
    const size_t end = display.find(']', tag);
    if (end == std::string::npos) break;
    display.erase(tag, end + 1 - tag);
  }
  return display;
}

}  // namespace inprof::internal
