// SymbolTable is a sorted copy of one module's ELF function symbols, so that
// naming an address without DWARF is a binary search; libdwfl's
// dwfl_module_addrinfo scans the whole table on every call.
//
// Thread safety: thread-compatible; const methods may run concurrently.
#ifndef INPROF_AGENT_SYMBOLIZE_SYMBOL_TABLE_H_
#define INPROF_AGENT_SYMBOLIZE_SYMBOL_TABLE_H_

#include <cstdint>
#include <string>
#include <vector>

struct Dwfl_Module;

namespace inprof::internal {

// SymbolTable
//
// Built from the best table libdwfl finds for the module (.symtab of the file
// or of its separate debug file, else .dynsym plus MiniDebugInfo): a
// stripped file is named from its dynamic symbols, which cover only its
// exported functions (function_ranges.h covers the rest). Keeps defined
// function symbols (STT_FUNC, STT_GNU_IFUNC); at an address with several
// names, prefers global over weak over local bindings.
//
// Ownership: copies the names; does not reference the module afterwards.
class SymbolTable {
 public:
  explicit SymbolTable(Dwfl_Module* module);
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  struct Symbol {
    uint64_t address;  // runtime address
    uint64_t size;     // st_size; 0 when the symbol does not say
    int rank;          // lower is preferred
    std::string name;  // mangled, as linked
  };

  // Returns the symbol of the function containing runtime address
  // `address`, or nullptr. A symbol covers [address, address + size): an
  // address past its end is in a function without a symbol (a stripped
  // file's non-exported code), never the neighbour's. A symbol without a
  // size covers addresses up to the next symbol.
  const Symbol* Find(uint64_t address) const;

  size_t size() const { return symbols_.size(); }

  // The heap bytes the table holds, for the Symbolizer's accounting.
  size_t MemoryBytes() const;

 private:
  std::vector<Symbol> symbols_;  // sorted by address, one per address
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_SYMBOL_TABLE_H_
