// CompileUnitIndex answers "which functions, inlined ones included, contain
// this address" for one DWARF compile unit without walking its DIE tree per
// lookup (dwarf_getscopes does, which costs ~0.5 ms per address in large
// units such as glibc's).
//
// Thread safety: thread-compatible; const methods may run concurrently.
#ifndef INPROF_AGENT_SYMBOLIZE_COMPILE_UNIT_INDEX_H_
#define INPROF_AGENT_SYMBOLIZE_COMPILE_UNIT_INDEX_H_

#include <elfutils/libdw.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

// CompileUnitIndex
//
// Built once per unit by walking all its DIEs: every subprogram and inlined
// subroutine with code becomes a node (names, decl line, call site), and the
// unit's address space is cut into segments labelled with the innermost node
// covering them.
//
// Names are kept as pointers into the unit's string data (libdw's mapped or
// decompressed .debug_str and .debug_info) and demangled when looked up, not
// when indexed: a unit that includes cpp-httplib has thousands of functions
// of which a profile names a few, and demangling them all made the first
// profile slow and the index big.
//
// Ownership: borrows the unit's Dwarf, which must outlive the index (the
// Symbolizer drops a module's indexes before its libdwfl session or module
// goes).
class CompileUnitIndex {
 public:
  // Indexes the unit whose DIE is `cu`.
  explicit CompileUnitIndex(Dwarf_Die* cu);
  CompileUnitIndex(const CompileUnitIndex&) = delete;
  CompileUnitIndex& operator=(const CompileUnitIndex&) = delete;

  // Appends the frames at DWARF address `pc` (runtime address − module
  // bias), innermost inlined first. On entry `file`/`line` hold the line
  // table's position for `pc`; each inlined frame takes them and replaces
  // them with its call site. Returns true if the physical (out-of-line)
  // function was appended as the last frame; false leaves the physical
  // frame to the caller (no node, or an unnamed subprogram).
  bool Lookup(uint64_t pc, std::string* file, int64_t* line,
              std::vector<SourceFrame>* frames) const;

  // The heap bytes this index holds (vectors' and strings' capacities), for
  // the Symbolizer's cache budget.
  size_t MemoryBytes() const;

 private:
  struct FunctionInfo {
    const char* symbol = nullptr;  // null: unnamed
    bool linkage = false;          // `symbol` is a linkage (mangled) name
    int64_t start_line = 0;
  };
  struct Node {
    int parent = -1;        // enclosing node of an inlined subroutine
    int depth = 0;          // nesting depth among nodes, for innermost-wins
    uint32_t function = 0;  // index into functions_
    bool inlined = false;
    int32_t call_file = -1;  // index into files_, -1 if unknown
    int64_t call_line = 0;
  };
  struct Range {
    uint64_t low, high;
    int node;
  };

  void Walk(Dwarf_Die* die, int parent, int depth, std::vector<Range>* ranges);
  uint32_t InternFunction(Dwarf_Die* die);
  int32_t InternFile(Dwarf_Word index);
  void BuildSegments(const std::vector<Range>& ranges);

  struct BuildState;
  BuildState* building_ = nullptr;  // only set inside the constructor
  std::vector<std::string> files_;
  std::vector<FunctionInfo> functions_;
  std::vector<Node> nodes_;
  std::vector<uint64_t> segment_starts_;  // sorted
  std::vector<int> segment_nodes_;        // -1: no function there
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_COMPILE_UNIT_INDEX_H_
