#include "agent/symbolize/symbol_table.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <algorithm>
#include <utility>

#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

int BindingRank(unsigned char info) {
  switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL:
      return 0;
    case STB_WEAK:
      return 1;
    default:
      return 2;
  }
}

}  // namespace

SymbolTable::SymbolTable(Dwfl_Module* module) {
  int count = dwfl_module_getsymtab(module);
  for (int i = 1; i < count; ++i) {  // entry 0 is the null symbol
    GElf_Sym sym;
    GElf_Addr address = 0;
    GElf_Word shndx = 0;
    const char* name = dwfl_module_getsym_info(module, i, &sym, &address,
                                               &shndx, nullptr, nullptr);
    if (name == nullptr || *name == '\0' || sym.st_shndx == SHN_UNDEF ||
        address == 0) {
      continue;
    }
    int type = GELF_ST_TYPE(sym.st_info);
    if (type != STT_FUNC && type != STT_GNU_IFUNC) continue;
    symbols_.push_back(
        Symbol{address, sym.st_size, BindingRank(sym.st_info), name});
  }
  std::sort(symbols_.begin(), symbols_.end(),
            [](const Symbol& a, const Symbol& b) {
              if (a.address != b.address) return a.address < b.address;
              if (a.rank != b.rank) return a.rank < b.rank;
              return a.name < b.name;  // deterministic among equals
            });
  // One symbol per address, the preferred name, with the largest size any
  // alias gives (an alias without a size must not shorten the function).
  size_t kept = 0;
  for (size_t i = 0; i < symbols_.size(); ++i) {
    if (kept > 0 && symbols_[kept - 1].address == symbols_[i].address) {
      symbols_[kept - 1].size =
          std::max(symbols_[kept - 1].size, symbols_[i].size);
      continue;
    }
    if (kept != i) symbols_[kept] = std::move(symbols_[i]);
    ++kept;
  }
  symbols_.resize(kept);
  symbols_.shrink_to_fit();
}

size_t SymbolTable::MemoryBytes() const {
  size_t bytes = symbols_.capacity() * sizeof(Symbol);
  for (const Symbol& s : symbols_) bytes += StringHeapBytes(s.name);
  return bytes;
}

const SymbolTable::Symbol* SymbolTable::Find(uint64_t address) const {
  auto it = std::upper_bound(
      symbols_.begin(), symbols_.end(), address,
      [](uint64_t a, const Symbol& s) { return a < s.address; });
  if (it == symbols_.begin()) return nullptr;
  const Symbol& s = *std::prev(it);
  if (s.size != 0 && address >= s.address + s.size) return nullptr;
  return &s;
}

}  // namespace inprof::internal
