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

// The heap bytes a string holds beyond its own object (0 while it fits the
// small-string buffer), for the symbolizer's memory accounting.
inline size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

// How much a Symbolizer may keep (issue 16: the agent's memory is bounded).
struct SymbolizerLimits {
  // Symbolized addresses (their frames' strings included). Two generations
  // of at most half this each: a full young generation becomes the old one
  // and the previous old one is dropped; an address found in the old one is
  // moved to the young one. A profile's addresses thus stay cached while
  // profiles keep asking for them, and addresses no profile asks for again
  // (the leaf pcs of old CPU samples) age out.
  size_t address_cache_bytes = size_t{2} << 20;
  // Compile unit indexes (compile_unit_index.h), least recently used
  // evicted first; the unit being used is always kept.
  size_t unit_index_bytes = size_t{4} << 20;
  // A module whose DWARF sections are compressed (Debian's -dbg packages,
  // e.g. libc6-dbg: 10 MB) is named from its symbol table alone, without
  // file, line or inlined frames, if they would decompress to more than
  // this: libdw decompresses every section into the heap at once and keeps
  // it for the session (12 MiB for libc). Uncompressed DWARF is mapped from
  // the file and read in place, so it is always used.
  size_t compressed_dwarf_bytes = size_t{2} << 20;
};

// What a Symbolizer holds now and has dropped, for tests and /metrics.
struct SymbolizerStats {
  size_t cached_addresses = 0;
  size_t address_cache_bytes = 0;  // estimated, both generations
  size_t unit_indexes = 0;
  size_t unit_index_bytes = 0;    // estimated
  size_t symbol_table_bytes = 0;  // estimated, symbol tables and .eh_frame
  bool session_open = false;      // a libdwfl session (and its files) is open
  uint64_t addresses_evicted = 0;
  uint64_t unit_indexes_evicted = 0;
  uint64_t releases = 0;             // Release() calls that dropped something
  size_t modules_without_dwarf = 0;  // over compressed_dwarf_bytes
};

// Symbolizer
//
// Reads /proc/self/maps and reports the modules to libdwfl on first use; a
// module's ELF and DWARF are loaded the first time an address in it is
// symbolized. Each DWARF compile unit is indexed once on first touch
// (compile_unit_index.h), each module's symbol table is sorted once
// (symbol_table.h), and recently symbolized addresses are cached, so a warm
// lookup is a few binary searches. Without DWARF, functions are named from
// .symtab, else .dynsym (a stripped file names its exported functions), and
// addresses no symbol covers by their function's start in .eh_frame
// (function_ranges.h, read only for modules that have such addresses). The
// agent's own code (compile units named below the directory its sources were
// compiled from) is named from the symbol table too: no file, line or inlined
// frames, and none of its DWARF line tables or unit indexes are loaded. Results
// for modules loaded later (dlopen) or unloaded (dlclose) are only right after
// Refresh(). Addresses in modules unloaded since the last Refresh() still yield
// frames (the module's file is read, never its memory) but they may be stale.
//
// A Symbolizer built from a list of mappings instead names addresses of
// another process (a profile read from a file), from the mapped files as they
// are on this machine now.
//
// Memory: the address cache and the compile unit indexes are bounded by
// SymbolizerLimits, and so is what libdw would decompress (compressed DWARF
// over the limit is not read); symbol tables and .eh_frame ranges are one per
// module used (bounded by the modules' files). The rest of libdwfl's memory
// (line tables and abbreviations of the units read) cannot be bounded from
// outside: Release() ends the session and drops everything, and the owner
// calls ReleaseIfIdle() periodically so that an agent nobody asks for
// profiles holds none of it, and TrimMappedFiles() after each profile so
// that the mapped files' pages are not kept (SharedSymbolizer; the next
// profile pays the cold start again, BENCHMARKS.md "Agent memory").
//
// Ownership: owns its libdwfl session and caches; pointers returned by
// MappingFor() and mappings() stay valid until the next Refresh() or
// Release().
//
// Thread safety: thread-compatible; every method mutates caches, so one
// instance must be used by one thread at a time. Separate instances may be
// used concurrently: their libdwfl work is serialized by one process-wide
// lock (elfutils shares state between sessions). Not async-signal-safe.
class Symbolizer {
  // (module, compile unit DIE offset)
  using UnitKey = std::pair<Dwfl_Module*, uint64_t>;

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

  // While set, Symbolize() names an address it has not cached from its
  // module's symbol table alone: no file, line or inlined frames, and
  // nothing of the module's DWARF is read for it (nor is the result
  // cached). For the agent's own threads in thread dumps and CPU profiles
  // (NamesOnlyScope): the line tables and unit indexes of the agent's code
  // they would load cost the host ~6.7 MiB, and a CPU sample in the HTTP
  // server's code another ~5 MiB at random (issue 16, item 3).
  void set_names_only(bool names_only) { names_only_ = names_only; }

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

  // Limits apply from the next insertion on.
  void set_limits(const SymbolizerLimits& limits) { limits_ = limits; }

  // The clock ReleaseIfIdle() and the last-use time read, in nanoseconds
  // (default: CLOCK_MONOTONIC). For tests.
  void set_clock(std::function<int64_t()> now_nanos);

  // Drops every cache, the mappings (unless given at construction) and the
  // libdwfl session with its files. The next use starts cold.
  void Release();

  // Release()s if the symbolizer holds anything and was last used (by
  // Symbolize(), mappings(), Refresh()) at least `idle_nanos` ago. Returns
  // true if it released.
  bool ReleaseIfIdle(int64_t idle_nanos);

  // Drops this process's pages of the files libelf mapped for the modules
  // used so far (ELF images, separate debug files), keeping the mappings:
  // the next read faults them back in from the page cache, without I/O.
  // Between profiles the symbolizer then holds no file pages (megabytes of
  // DWARF for a binary built with -g). A mapping holding any page a write
  // made private is left alone. Returns the bytes of mappings trimmed.
  size_t TrimMappedFiles();

  SymbolizerStats stats() const;

 private:
  struct CachedAddress {
    std::vector<SourceFrame> frames;
    size_t bytes = 0;
  };
  struct UnitIndexEntry {
    std::unique_ptr<CompileUnitIndex> index;
    size_t bytes = 0;
    uint64_t last_use = 0;  // use_tick_ when last looked up
  };

  void EnsureMappings();
  void IndexMappings();
  Dwfl* EnsureDwfl();
  bool ReportMappedFiles();
  std::vector<SourceFrame> SymbolizeUncached(uint64_t address);
  std::vector<SourceFrame> SymbolizeName(uint64_t address);
  // The module of the executable mapping at `address`, or null. The caller
  // holds the libdw lock.
  Dwfl_Module* ModuleAtLocked(uint64_t address);
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
  bool UsesDwarf(Dwfl_Module* module);
  void Touch() { last_use_nanos_ = now_(); }
  const std::vector<SourceFrame>& CacheInsert(uint64_t address,
                                              std::vector<SourceFrame> frames);
  void EvictUnitIndexes(const CompileUnitIndex* keep);

  std::function<bool()> cancel_;
  bool cancelled_ = false;
  bool names_only_ = false;
  uint64_t checks_since_cancel_set_ = 0;
  bool fixed_mappings_ = false;  // built from a list, not /proc/self/maps
  bool mappings_loaded_ = false;
  std::vector<ProcessMapping> mappings_;   // main executable first
  std::vector<size_t> mappings_by_start_;  // indices into mappings_
  bool dwfl_tried_ = false;
  Dwfl* dwfl_ = nullptr;  // null until first Symbolize() or if it failed
  SymbolizerLimits limits_;
  std::function<int64_t()> now_;
  int64_t last_use_nanos_ = 0;
  // The address cache's young and old generations (SymbolizerLimits).
  std::unordered_map<uint64_t, CachedAddress> cache_;
  std::unordered_map<uint64_t, CachedAddress> old_cache_;
  size_t cache_bytes_ = 0;
  size_t old_cache_bytes_ = 0;
  // Inline-aware index per (module, compile unit DIE offset), built on the
  // first address in that unit, evicted least recently used first.
  std::map<UnitKey, UnitIndexEntry> cu_indexes_;
  size_t cu_index_bytes_ = 0;
  uint64_t use_tick_ = 0;
  uint64_t addresses_evicted_ = 0;
  uint64_t unit_indexes_evicted_ = 0;
  uint64_t releases_ = 0;
  // Function symbols per module, for addresses DWARF does not cover.
  std::map<Dwfl_Module*, std::unique_ptr<SymbolTable>> symbol_tables_;
  // Function extents per module from .eh_frame, for addresses no symbol
  // covers; built on the first such address.
  std::map<Dwfl_Module*, std::unique_ptr<FunctionRanges>> function_ranges_;
  // Per module: whether its DWARF is read (SymbolizerLimits).
  std::map<Dwfl_Module*, bool> uses_dwarf_;
};

// Names addresses by function only (Symbolizer::set_names_only) while in
// scope, if `agent_thread`: profiles build the agent's own threads' stacks
// in one, after the host's (an address both share keeps the host's file and
// line, since a profile makes one location per address).
class NamesOnlyScope {
 public:
  NamesOnlyScope(Symbolizer* symbolizer, bool agent_thread)
      : symbolizer_(symbolizer) {
    symbolizer_->set_names_only(agent_thread);
  }
  ~NamesOnlyScope() { symbolizer_->set_names_only(false); }
  NamesOnlyScope(const NamesOnlyScope&) = delete;
  NamesOnlyScope& operator=(const NamesOnlyScope&) = delete;

 private:
  Symbolizer* const symbolizer_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_SYMBOLIZER_H_
