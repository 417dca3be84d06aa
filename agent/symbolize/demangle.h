// C++ symbol demangling for Function.name (pprof-spec.md §2.6).
//
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_SYMBOLIZE_DEMANGLE_H_
#define INPROF_AGENT_SYMBOLIZE_DEMANGLE_H_

#include <string>
#include <string_view>

namespace inprof::internal {

// Returns the full demangled form of an Itanium-ABI symbol
// ("_ZN3app6Worker4SpinEi" -> "app::Worker::Spin(int)"), keeping parameters
// and template arguments: pprof shows `name` verbatim when it differs from
// system_name. Returns `mangled` unchanged when it is not a mangled C++ name
// or cannot be demangled. Not async-signal-safe (allocates).
std::string Demangle(std::string_view mangled);

// Returns `demangled` without its parameter list and the qualifiers after it
// ("app::Worker::Spin(int) const" -> "app::Worker::Spin"), keeping template
// arguments: what pprof's own C++ demangling shows by default, and what
// reads well in -top and flame graphs. Overloads stay distinct functions
// through their mangled system_name. Names without a parameter list are
// returned unchanged. Not async-signal-safe (allocates).
std::string StripParameters(std::string_view demangled);

// Returns `name` without template argument lists and without the return
// type that demangled template functions carry: "std::vector<int>::push_back"
// -> "std::vector::push_back", "bool std::__insertion_sort<It>" ->
// "std::__insertion_sort". Operator names ("operator<", "operator new") are
// kept whole. Not async-signal-safe (allocates).
std::string StripTemplatesAndReturnType(std::string_view name);

// The Function.name the agent ships: what pprof's own C++ demangling shows
// by default (no parameters, no template arguments, no return type), which
// reads well in -top and flame graphs, without GCC's clone suffixes and ABI
// tags (as DWARF names the function). The full name can always be
// recovered from system_name (the mangled symbol).
std::string FunctionDisplayName(std::string_view symbol);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_DEMANGLE_H_
