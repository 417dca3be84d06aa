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
// or of its separate debug file, else .dynsym plus MiniDebugInfo). Keeps
// defined function symbols (STT_FUNC, STT_GNU_IFUNC); at an address with
// several names, prefers global over weak over local bindings.
//
// Ownership: copies the names; does not reference the module afterwards.
class SymbolTable {
 public:
  explicit SymbolTable(Dwfl_Module* module);
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // Returns the (mangled) name of the function containing runtime address
  // `address`, or nullptr. A symbol without a size covers addresses up to
  // the next symbol.
  const std::string* Find(uint64_t address) const;

  size_t size() const { return symbols_.size(); }

 private:
  struct Symbol {
    uint64_t address;
    uint64_t size;
    int rank;  // lower is preferred
    std::string name;
  };
  std::vector<Symbol> symbols_;  // sorted by address, one per address
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_SYMBOL_TABLE_H_
