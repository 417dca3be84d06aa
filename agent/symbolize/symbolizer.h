// Symbolizer turns code addresses of the current process into source frames
// (function names, files, lines, inlined calls) in-process with elfutils'
// libdwfl, so that profiles ship fully symbolized (pprof-spec.md §2.8).
//
// Example:
//
//   Symbolizer symbolizer;
//   for (uint64_t pc : stack) {  // return addresses already minus 1
//     for (const SourceFrame& f : symbolizer.Symbolize(pc)) ...
//   }
//   dlopen(...);
//   symbolizer.Refresh();  // see the new module
//
#ifndef INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_H_
#define INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/symbolize/mappings.h"

struct Dwfl;
struct Dwfl_Module;

namespace inprof::internal {

class CompileUnitIndex;
class FunctionRanges;
class SymbolTable;

// One (possibly inlined) function activation at an address. All strings are
// valid UTF-8.
struct SourceFrame {
  std::string name;         // demangled, with parameters: "app::f(int)"
  std::string system_name;  // as linked: "_ZN3app1fEi"; == name for C
  std::string file;         // source path from DWARF; "" when unknown
  int64_t line = 0;         // 0 when unknown
  int64_t start_line = 0;   // DW_AT_decl_line of the function; 0 if unknown
  // No symbol: `name` is "<module>+0x<offset>", the file offset of the
  // function's start when the module's .eh_frame knows the function (so
  // that its addresses fold into one function), else of the address itself.
  bool unknown = false;
};

// Symbolizer
//
// Reads /proc/self/maps and reports the modules to libdwfl on first use; a
// module's ELF and DWARF are loaded the first time an address in it is
// symbolized. Each DWARF compile unit is indexed once on first touch
// (compile_unit_index.h), each module's symbol table is sorted once
// (symbol_table.h), and every symbolized address is cached, so a warm
// lookup is a few binary searches. Without DWARF, functions are named from
// .symtab, else .dynsym (a stripped file names its exported functions), and
// addresses no symbol covers by their function's start in .eh_frame
// (function_ranges.h, read only for modules that have such addresses). Results
// for modules loaded later (dlopen) or unloaded (dlclose) are only right after
// Refresh(). Addresses in modules unloaded since the last Refresh() still yield
// frames (the module's file is read, never its memory) but they may be stale.
//
// A Symbolizer built from a list of mappings instead names addresses of
// another process (a profile read from a file), from the mapped files as they
// are on this machine now.
//
// Ownership: owns its libdwfl session and caches; pointers returned by
// MappingFor() and mappings() stay valid until the next Refresh().
//
// Thread safety: thread-compatible; every method mutates caches, so one
// instance must be used by one thread at a time. Separate instances may be
// used concurrently: their libdwfl work is serialized by one process-wide
// lock (elfutils shares state between sessions). Not async-signal-safe.
class Symbolizer {
 public:
  Symbolizer();  // cheap: reads nothing until first use
  // Symbolizes addresses of `mappings` (executable ranges, with the files
  // that were mapped there); Refresh() does nothing.
  explicit Symbolizer(std::vector<ProcessMapping> mappings);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Returns the frames at `address` (callers pass return address − 1,
  // pprof-spec.md §2.5), innermost inlined function first and the physical
  // function last. Never empty: an address without a symbol gets the name
  // "<module basename>+0x<file offset>" (of its function's start if known,
  // see SourceFrame::unknown), or "0x<address>" outside every module, and
  // an empty file.
  std::vector<SourceFrame> Symbolize(uint64_t address);

  // While `cancelled()` returns true (asked every 64 addresses not yet in
  // the cache), Symbolize() names such addresses as unknown at once and
  // does not cache them: a profile whose requester left, or an agent that
  // is stopping, is then built in moments instead of after thousands of
  // DWARF lookups. An empty function (the default) never cancels.
  void set_cancel(std::function<bool()> cancelled);

  // True once the cancel function said so (asked on every 64th call of this
  // or of an uncached Symbolize()). Profile builders call it once per record
  // and stop early: a cancelled result is thrown away, and formatting
  // thousands of records is itself seconds of work.
  bool cancelled() { return Cancelled(); }

  // Returns the executable mapping containing `address`, or nullptr.
  const ProcessMapping* MappingFor(uint64_t address);

  // Returns all executable mappings, main executable first (mappings.h).
  const std::vector<ProcessMapping>& mappings();

  // Re-reads the mappings and re-reports modules to libdwfl after dlopen or
  // dlclose. Modules that did not change keep their loaded DWARF and cached
  // addresses; state of changed or vanished modules is dropped.
  void Refresh();

 private:
  void EnsureMappings();
  void IndexMappings();
  Dwfl* EnsureDwfl();
  bool ReportMappedFiles();
  std::vector<SourceFrame> SymbolizeUncached(uint64_t address);
  SymbolTable& SymbolTableFor(Dwfl_Module* module);
  FunctionRanges& FunctionRangesFor(Dwfl_Module* module);
  SourceFrame SymbolFrame(Dwfl_Module* module, uint64_t address);
  void QualifyPhysicalFrame(Dwfl_Module* module, uint64_t address,
                            SourceFrame* frame);
  SourceFrame UnknownFrame(uint64_t address, uint64_t function_start);
  SourceFrame UnknownFrame(uint64_t address) {
    return UnknownFrame(address, address);
  }

  bool Cancelled();

  std::function<bool()> cancel_;
  bool cancelled_ = false;
  uint64_t checks_since_cancel_set_ = 0;
  bool fixed_mappings_ = false;  // built from a list, not /proc/self/maps
  bool mappings_loaded_ = false;
  std::vector<ProcessMapping> mappings_;   // main executable first
  std::vector<size_t> mappings_by_start_;  // indices into mappings_
  bool dwfl_tried_ = false;
  Dwfl* dwfl_ = nullptr;  // null until first Symbolize() or if it failed
  std::unordered_map<uint64_t, std::vector<SourceFrame>> cache_;
  // Inline-aware index per (module, compile unit DIE offset), built on the
  // first address in that unit.
  std::map<std::pair<Dwfl_Module*, uint64_t>, std::unique_ptr<CompileUnitIndex>>
      cu_indexes_;
  // Function symbols per module, for addresses DWARF does not cover.
  std::map<Dwfl_Module*, std::unique_ptr<SymbolTable>> symbol_tables_;
  // Function extents per module from .eh_frame, for addresses no symbol
  // covers; built on the first such address.
  std::map<Dwfl_Module*, std::unique_ptr<FunctionRanges>> function_ranges_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_H_
