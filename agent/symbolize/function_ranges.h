// FunctionRanges knows where every function of a module starts and ends,
// named or not, from the module's .eh_frame: the compiler emits one frame
// description entry (FDE) per function for the C++ unwinder, and stripping a
// binary keeps them. A stripped file's .dynsym names only its exported
// functions (about half of the code of a typical C++ library); an address in
// any other function is then named by its function's start, so that all the
// samples of one unnamed function fold into one function in a profile
// instead of one per instruction, and no address is ever given the name of
// an exported neighbour that does not contain it.
//
// Example:
//
//   FunctionRanges ranges(module);
//   if (std::optional<uint64_t> start = ranges.StartOf(pc)) ...
//
#ifndef INPROF_AGENT_SYMBOLIZE_FUNCTION_RANGES_H_
#define INPROF_AGENT_SYMBOLIZE_FUNCTION_RANGES_H_

#include <cstdint>
#include <optional>
#include <vector>

struct Dwfl_Module;

namespace inprof::internal {

// FunctionRanges
//
// Built once per module, on the first address no symbol names: reads the
// FDEs' [initial_location, initial_location + address_range) of the file's
// .eh_frame section through libdw's entry iterator and keeps them sorted,
// 16 bytes per function (bounded by the file). Modules without .eh_frame, or
// entries whose pointer encoding is not one compilers use for code
// addresses, contribute no range.
//
// Ownership: copies the ranges; does not reference the module afterwards.
//
// Thread safety: thread-compatible; const methods may run concurrently. The
// constructor calls libdwfl and must hold the caller's libdw lock.
class FunctionRanges {
 public:
  explicit FunctionRanges(Dwfl_Module* module);
  FunctionRanges(const FunctionRanges&) = delete;
  FunctionRanges& operator=(const FunctionRanges&) = delete;

  // Returns the runtime start address of the function containing runtime
  // address `address`, or nullopt when no FDE covers it.
  std::optional<uint64_t> StartOf(uint64_t address) const;

  size_t size() const { return ranges_.size(); }

 private:
  struct Range {
    uint64_t start;
    uint64_t limit;  // one past the last byte
  };
  std::vector<Range> ranges_;  // sorted by start
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_FUNCTION_RANGES_H_
