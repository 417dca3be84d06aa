#include "agent/symbolize/symbolizer.h"

#include <elf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "agent/base/clock.h"
#include "agent/symbolize/compile_unit_index.h"
#include "agent/symbolize/demangle.h"
#include "agent/symbolize/function_ranges.h"
#include "agent/symbolize/symbol_table.h"
#include "agent/symbolize/utf8.h"

namespace inprof::internal {
namespace {

// libdwfl keeps a pointer to the callbacks (and to the debuginfo path) for
// the session's lifetime; both are immutable, so sessions share them safely.
char* debuginfo_path = nullptr;  // default search: .debug, /usr/lib/debug
const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    // Local build-id directories only (where Debian's -dbg packages install).
    // dwfl_standard_find_debuginfo would, as a last resort, ask debuginfod
    // servers named by DEBUGINFOD_URLS: network I/O from inside the host,
    // stalling the profile. Never.
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = &debuginfo_path,
};

// For mappings of another process, read from the files on disk: libdwfl
// opens each file itself (dwfl_report_elf), and finds separate debug files
// by build id, again locally only.
const Dwfl_Callbacks kFileCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

// The load bias of `m`'s file: runtime address minus ELF virtual address,
// from the PT_LOAD segment that holds the mapping's file offset. nullopt if
// the file is not a readable 64-bit ELF file or no segment holds it.
std::optional<uint64_t> LoadBias(const ProcessMapping& m) {
  int fd = open(m.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<uint64_t> bias;
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) &&
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 &&
      eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 4096) {
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      off_t at = static_cast<off_t>(eh.e_phoff + i * sizeof(ph));
      if (pread(fd, &ph, sizeof(ph), at) != sizeof(ph)) break;
      if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
      uint64_t page_offset = ph.p_offset & ~uint64_t{0xfff};
      if (m.offset < page_offset || m.offset >= ph.p_offset + ph.p_filesz) {
        continue;
      }
      bias = m.start - m.offset - (ph.p_vaddr - ph.p_offset);
      if (eh.e_type == ET_EXEC) bias = 0;
      break;
    }
  }
  close(fd);
  return bias;
}

// elfutils as Debian builds it (no --enable-thread-safety) keeps state
// shared between sessions in libelf/libdw; two Symbolizers working at once
// were seen to lose a symbol from a separate debug file under TSan. Every
// libdwfl call of every instance takes this lock: symbolization runs off the
// hot path, and the agent already serializes its one symbolizer.
std::mutex& LibdwMutex() {
  static std::mutex* mu = new std::mutex;  // never destroyed: used at exit
  return *mu;
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%" PRIx64, value);
  return buf;
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const ProcessMapping* FindMapping(const std::vector<ProcessMapping>& mappings,
                                  const std::vector<size_t>& by_start,
                                  uint64_t address) {
  // The last mapping starting at or before `address`.
  auto it = std::upper_bound(
      by_start.begin(), by_start.end(), address,
      [&](uint64_t a, size_t i) { return a < mappings[i].start; });
  if (it == by_start.begin()) return nullptr;
  const ProcessMapping& m = mappings[*std::prev(it)];
  return address < m.limit ? &m : nullptr;
}

int CollectModule(Dwfl_Module* module, void**, const char*, Dwarf_Addr,
                  void* arg) {
  static_cast<std::set<Dwfl_Module*>*>(arg)->insert(module);
  return DWARF_CB_OK;
}

// The heap bytes one cached address holds: its frames and their strings, and
// about 48 bytes of hash node and bucket.
size_t CachedBytes(const std::vector<SourceFrame>& frames) {
  size_t bytes = 48 + frames.capacity() * sizeof(SourceFrame);
  for (const SourceFrame& f : frames) {
    bytes += StringHeapBytes(f.name) + StringHeapBytes(f.system_name) +
             StringHeapBytes(f.file);
  }
  return bytes;
}

bool SameMapping(const ProcessMapping* a, const ProcessMapping* b) {
  return a != nullptr && b != nullptr && a->start == b->start &&
         a->limit == b->limit && a->offset == b->offset && a->path == b->path &&
         a->build_id == b->build_id;
}

// What the compressed .debug_* sections of `elf` decompress to (their
// headers say); 0 if none is compressed.
uint64_t CompressedDwarfBytes(Elf* elf) {
  size_t names = 0;
  if (elf == nullptr || elf_getshdrstrndx(elf, &names) != 0) return 0;
  uint64_t bytes = 0;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr;
       scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    if (gelf_getshdr(scn, &header) == nullptr) continue;
    const char* name = elf_strptr(elf, names, header.sh_name);
    if (name == nullptr) continue;
    const std::string_view section(name);
    if (section.starts_with(".zdebug_")) {
      bytes += 4 * header.sh_size;  // GNU's old form: about 1:4
    } else if (section.starts_with(".debug_") &&
               (header.sh_flags & SHF_COMPRESSED) != 0) {
      GElf_Chdr compression;
      if (gelf_getchdr(scn, &compression) != nullptr) {
        bytes += compression.ch_size;
      }
    }
  }
  return bytes;
}

// True if every resident page of [start, start + bytes) is still the file's
// (none was copied on write), from /proc/self/pagemap: bit 63 present, bit
// 61 file-backed or shared.
bool OnlyFilePages(int pagemap, uintptr_t start, size_t bytes) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uint64_t entries[512];
  for (uintptr_t at = start; at < start + bytes;) {
    const size_t count = std::min<size_t>(512, (start + bytes - at) / page);
    if (count == 0) break;
    const off_t offset = static_cast<off_t>(at / page * sizeof(uint64_t));
    const ssize_t got =
        pread(pagemap, entries, count * sizeof(uint64_t), offset);
    if (got != static_cast<ssize_t>(count * sizeof(uint64_t))) return false;
    for (size_t i = 0; i < count; ++i) {
      const bool present = (entries[i] >> 63) & 1;
      const bool file = (entries[i] >> 61) & 1;
      if (present && !file) return false;
    }
    at += count * page;
  }
  return true;
}

int64_t MonotonicNanosSigned() {
  return static_cast<int64_t>(MonotonicNanos());
}

// The directory inprof's sources were compiled from ("/src/inprof/", or as
// -ffile-prefix-map made it: DWARF's unit names follow the same map), if
// this file's name ends as expected.
std::optional<std::string_view> SourceTreeRoot() {
  constexpr std::string_view kThisFile = __FILE__;
  constexpr std::string_view kTail = "agent/symbolize/symbolizer.cc";
  if (!kThisFile.ends_with(kTail)) return std::nullopt;
  return kThisFile.substr(0, kThisFile.size() - kTail.size());
}

// Whether the compile unit `cu` is one of the agent's own sources: agent/,
// and report/, the report layer the agent embeds (a template instance the
// linker kept from report/diff.cc, run by the agent's HTTP thread, cost a
// 375 KB unit index in a profile of a program that never diffs).
bool IsAgentUnit(Dwarf_Die* cu) {
  const std::optional<std::string_view> root = SourceTreeRoot();
  const char* name = dwarf_diename(cu);
  if (!root.has_value() || name == nullptr) return false;
  std::string_view unit(name);
  if (!unit.starts_with(*root)) return false;
  unit.remove_prefix(root->size());
  return unit.starts_with("agent/") || unit.starts_with("report/");
}

}  // namespace

Symbolizer::Symbolizer() : now_(MonotonicNanosSigned) {}

Symbolizer::Symbolizer(std::vector<ProcessMapping> mappings)
    : fixed_mappings_(true),
      mappings_loaded_(true),
      now_(MonotonicNanosSigned) {
  mappings_ = std::move(mappings);
  IndexMappings();
}

Symbolizer::~Symbolizer() { Release(); }

void Symbolizer::set_clock(std::function<int64_t()> now_nanos) {
  now_ = std::move(now_nanos);
  Touch();
}

void Symbolizer::Release() {
  std::lock_guard<std::mutex> lock(LibdwMutex());
  const bool held = dwfl_ != nullptr || !cache_.empty() ||
                    !old_cache_.empty() || !cu_indexes_.empty() ||
                    !symbol_tables_.empty() || !function_ranges_.empty();
  // clear() keeps a hash table's bucket array: swap with empty ones.
  std::unordered_map<uint64_t, CachedAddress>().swap(cache_);
  std::unordered_map<uint64_t, CachedAddress>().swap(old_cache_);
  cache_bytes_ = old_cache_bytes_ = 0;
  cu_indexes_.clear();
  cu_index_bytes_ = 0;
  symbol_tables_.clear();
  function_ranges_.clear();
  uses_dwarf_.clear();
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
  dwfl_ = nullptr;
  dwfl_tried_ = false;
  if (!fixed_mappings_) {
    std::vector<ProcessMapping>().swap(mappings_);
    std::vector<size_t>().swap(mappings_by_start_);
    mappings_loaded_ = false;
  }
  if (held) ++releases_;
}

bool Symbolizer::ReleaseIfIdle(int64_t idle_nanos) {
  if (dwfl_ == nullptr && cache_.empty() && old_cache_.empty()) return false;
  if (now_() - last_use_nanos_ < idle_nanos) return false;
  Release();
  return true;
}

size_t Symbolizer::TrimMappedFiles() {
  std::lock_guard<std::mutex> lock(LibdwMutex());
  if (dwfl_ == nullptr) return 0;
  // The files of modules used so far: each module's ELF file, the file its
  // symbols came from (a separate debug file for a stripped library) and
  // the file of its DWARF. Asking for none of them loads anything new.
  std::set<Elf*> files;
  for (const auto& [module, table] : symbol_tables_) {
    Dwarf_Addr bias = 0;
    files.insert(dwfl_module_getelf(module, &bias));
    if (dwfl_module_getsymtab(module) > 1) {
      GElf_Sym sym;
      GElf_Addr address = 0;
      GElf_Word section = 0;
      Elf* symbols = nullptr;
      Dwarf_Addr symbols_bias = 0;
      if (dwfl_module_getsym_info(module, 1, &sym, &address, &section, &symbols,
                                  &symbols_bias) != nullptr) {
        files.insert(symbols);
      }
    }
  }
  for (const auto& [module, uses] : uses_dwarf_) {
    Dwarf_Addr bias = 0;
    files.insert(dwfl_module_getelf(module, &bias));
    if (!uses) continue;
    if (Dwarf* dwarf = dwfl_module_getdwarf(module, &bias)) {
      files.insert(dwarf_getelf(dwarf));
    }
  }
  const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return 0;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  size_t trimmed = 0;
  for (Elf* elf : files) {
    size_t size = 0;
    char* image = elf != nullptr ? elf_rawfile(elf, &size) : nullptr;
    const uintptr_t start = reinterpret_cast<uintptr_t>(image);
    // libelf maps whole files from offset 0, so a mapped image starts on a
    // page; a read (not mapped) image is heap memory and is left alone.
    if (image == nullptr || start % page != 0 || size == 0) continue;
    const size_t length = (size + page - 1) / page * page;
    if (!OnlyFilePages(pagemap, start, length)) continue;
    if (madvise(image, length, MADV_DONTNEED) == 0) trimmed += length;
  }
  close(pagemap);
  return trimmed;
}

SymbolizerStats Symbolizer::stats() const {
  SymbolizerStats stats;
  stats.cached_addresses = cache_.size() + old_cache_.size();
  stats.address_cache_bytes = cache_bytes_ + old_cache_bytes_;
  stats.unit_indexes = cu_indexes_.size();
  stats.unit_index_bytes = cu_index_bytes_;
  for (const auto& [module, table] : symbol_tables_) {
    stats.symbol_table_bytes += table->MemoryBytes();
  }
  for (const auto& [module, ranges] : function_ranges_) {
    stats.symbol_table_bytes += ranges->size() * 2 * sizeof(uint64_t);
  }
  stats.session_open = dwfl_ != nullptr;
  stats.addresses_evicted = addresses_evicted_;
  stats.unit_indexes_evicted = unit_indexes_evicted_;
  stats.releases = releases_;
  for (const auto& [module, uses] : uses_dwarf_) {
    if (!uses) ++stats.modules_without_dwarf;
  }
  return stats;
}

void Symbolizer::EnsureMappings() {
  if (mappings_loaded_) return;
  mappings_loaded_ = true;
  mappings_ = ReadExecutableMappings();
  IndexMappings();
}

void Symbolizer::IndexMappings() {
  mappings_by_start_.resize(mappings_.size());
  for (size_t i = 0; i < mappings_.size(); ++i) mappings_by_start_[i] = i;
  std::sort(mappings_by_start_.begin(), mappings_by_start_.end(),
            [this](size_t a, size_t b) {
              return mappings_[a].start < mappings_[b].start;
            });
}

Dwfl* Symbolizer::EnsureDwfl() {
  if (dwfl_tried_) return dwfl_;
  dwfl_tried_ = true;
  EnsureMappings();  // one snapshot for both views of the modules
  if (fixed_mappings_) {
    dwfl_ = dwfl_begin(&kFileCallbacks);
    if (dwfl_ != nullptr && !ReportMappedFiles()) {
      dwfl_end(dwfl_);
      dwfl_ = nullptr;
    }
    return dwfl_;
  }
  dwfl_ = dwfl_begin(&kCallbacks);
  if (dwfl_ == nullptr) return nullptr;
  // Reporting only records module names and ranges; ELF and DWARF files are
  // opened lazily, per module, by the first lookup that needs them.
  dwfl_report_begin(dwfl_);
  if (dwfl_linux_proc_report(dwfl_, getpid()) != 0 ||
      dwfl_report_end(dwfl_, nullptr, nullptr) != 0) {
    dwfl_end(dwfl_);
    dwfl_ = nullptr;
  }
  return dwfl_;
}

bool Symbolizer::ReportMappedFiles() {
  dwfl_report_begin(dwfl_);
  std::set<std::string> reported;
  for (const ProcessMapping& m : mappings_) {
    if (m.path.empty() || m.path[0] != '/' || !reported.insert(m.path).second) {
      continue;
    }
    std::optional<uint64_t> bias = LoadBias(m);
    if (!bias) continue;
    // A file that cannot be read, or overlaps one already reported, is left
    // out: its addresses stay unnamed.
    dwfl_report_elf(dwfl_, m.path.c_str(), m.path.c_str(), -1, *bias, false);
  }
  return dwfl_report_end(dwfl_, nullptr, nullptr) == 0;
}

const std::vector<ProcessMapping>& Symbolizer::mappings() {
  Touch();
  EnsureMappings();
  return mappings_;
}

const ProcessMapping* Symbolizer::MappingFor(uint64_t address) {
  EnsureMappings();
  return FindMapping(mappings_, mappings_by_start_, address);
}

void Symbolizer::Refresh() {
  if (fixed_mappings_) return;
  Touch();
  std::lock_guard<std::mutex> lock(LibdwMutex());
  std::vector<ProcessMapping> old_mappings = std::move(mappings_);
  std::vector<size_t> old_by_start = std::move(mappings_by_start_);
  mappings_.clear();
  mappings_by_start_.clear();
  mappings_loaded_ = false;
  EnsureMappings();
  if (dwfl_ != nullptr) {
    // libdwfl keeps a module re-reported with the same name and range (and
    // its loaded DWARF) and frees the ones not reported again.
    dwfl_report_begin(dwfl_);
    if (dwfl_linux_proc_report(dwfl_, getpid()) != 0 ||
        dwfl_report_end(dwfl_, nullptr, nullptr) != 0) {
      dwfl_end(dwfl_);
      dwfl_ = nullptr;
      dwfl_tried_ = false;  // start a fresh session on next use
      cache_.clear();
      old_cache_.clear();
      cache_bytes_ = old_cache_bytes_ = 0;
      cu_indexes_.clear();
      cu_index_bytes_ = 0;
      symbol_tables_.clear();
      function_ranges_.clear();
      uses_dwarf_.clear();
      return;
    }
  }
  // Modules that libdwfl kept have the same Dwfl_Module*; new ones were
  // allocated while all old ones were alive, so no pointer is reused.
  std::set<Dwfl_Module*> live;
  if (dwfl_ != nullptr) dwfl_getmodules(dwfl_, CollectModule, &live, 0);
  std::erase_if(cu_indexes_, [&](const auto& entry) {
    if (live.count(entry.first.first) != 0) return false;
    cu_index_bytes_ -= entry.second.bytes;
    return true;
  });
  std::erase_if(symbol_tables_, [&live](const auto& entry) {
    return live.count(entry.first) == 0;
  });
  std::erase_if(function_ranges_, [&live](const auto& entry) {
    return live.count(entry.first) == 0;
  });
  std::erase_if(uses_dwarf_, [&live](const auto& entry) {
    return live.count(entry.first) == 0;
  });
  const auto stale = [&](size_t* bytes) {
    return [&, bytes](const auto& entry) {
      if (SameMapping(FindMapping(old_mappings, old_by_start, entry.first),
                      MappingFor(entry.first))) {
        return false;
      }
      *bytes -= entry.second.bytes;
      return true;
    };
  };
  std::erase_if(cache_, stale(&cache_bytes_));
  std::erase_if(old_cache_, stale(&old_cache_bytes_));
}

std::vector<SourceFrame> Symbolizer::Symbolize(uint64_t address) {
  Touch();
  auto it = cache_.find(address);
  if (it != cache_.end()) return it->second.frames;
  auto old = old_cache_.find(address);
  if (old != old_cache_.end()) {
    // Still asked for: back into the young generation.
    std::vector<SourceFrame> frames = std::move(old->second.frames);
    old_cache_bytes_ -= old->second.bytes;
    old_cache_.erase(old);
    return CacheInsert(address, std::move(frames));
  }
  if (Cancelled()) return {UnknownFrame(address)};
  if (names_only_) return SymbolizeName(address);
  return CacheInsert(address, SymbolizeUncached(address));
}

const std::vector<SourceFrame>& Symbolizer::CacheInsert(
    uint64_t address, std::vector<SourceFrame> frames) {
  const size_t bytes = CachedBytes(frames);
  if (!cache_.empty() &&
      cache_bytes_ + bytes > limits_.address_cache_bytes / 2) {
    // The young generation is full: it becomes the old one, and what the
    // old one still held was not asked for during a whole generation.
    addresses_evicted_ += old_cache_.size();
    old_cache_ = std::move(cache_);
    old_cache_bytes_ = cache_bytes_;
    cache_ = {};
    cache_bytes_ = 0;
  }
  cache_bytes_ += bytes;
  return cache_.emplace(address, CachedAddress{std::move(frames), bytes})
      .first->second.frames;
}

void Symbolizer::EvictUnitIndexes(const CompileUnitIndex* keep) {
  while (cu_index_bytes_ > limits_.unit_index_bytes && cu_indexes_.size() > 1) {
    auto victim = cu_indexes_.end();
    for (auto it = cu_indexes_.begin(); it != cu_indexes_.end(); ++it) {
      if (it->second.index.get() == keep) continue;
      if (victim == cu_indexes_.end() ||
          it->second.last_use < victim->second.last_use) {
        victim = it;
      }
    }
    cu_index_bytes_ -= victim->second.bytes;
    cu_indexes_.erase(victim);
    ++unit_indexes_evicted_;
  }
}

void Symbolizer::set_cancel(std::function<bool()> cancelled) {
  cancel_ = std::move(cancelled);
  cancelled_ = false;
  checks_since_cancel_set_ = 0;
}

bool Symbolizer::Cancelled() {
  if (!cancel_ || cancelled_) return cancelled_;
  if (checks_since_cancel_set_++ % 64 == 0) cancelled_ = cancel_();
  return cancelled_;
}

SourceFrame Symbolizer::UnknownFrame(uint64_t address,
                                     uint64_t function_start) {
  SourceFrame frame;
  if (const ProcessMapping* m = MappingFor(address)) {
    // The function's start is in the same segment as `address`, so the
    // mapping's offset applies to it even if it is mapped just below.
    frame.name = SanitizeUtf8(Basename(m->path) + "+" +
                              Hex(function_start - m->start + m->offset));
  } else {
    frame.name = Hex(address);
  }
  frame.system_name = frame.name;
  frame.unknown = true;
  return frame;
}

SymbolTable& Symbolizer::SymbolTableFor(Dwfl_Module* module) {
  std::unique_ptr<SymbolTable>& symbols = symbol_tables_[module];
  if (symbols == nullptr) symbols = std::make_unique<SymbolTable>(module);
  return *symbols;
}

FunctionRanges& Symbolizer::FunctionRangesFor(Dwfl_Module* module) {
  std::unique_ptr<FunctionRanges>& ranges = function_ranges_[module];
  if (ranges == nullptr) ranges = std::make_unique<FunctionRanges>(module);
  return *ranges;
}

SourceFrame Symbolizer::SymbolFrame(Dwfl_Module* module, uint64_t address) {
  const SymbolTable::Symbol* symbol = SymbolTableFor(module).Find(address);
  std::optional<uint64_t> start;
  if (symbol == nullptr || symbol->size == 0) {
    start = FunctionRangesFor(module).StartOf(address);
    // A symbol without a size (hand-written assembly) reaches up to the next
    // symbol, which in a stripped file's sparse .dynsym can be far: a
    // function .eh_frame shows starting in between is not that symbol's.
    if (symbol != nullptr && start && *start > symbol->address) {
      symbol = nullptr;
    }
  }
  if (symbol == nullptr) return UnknownFrame(address, start.value_or(address));
  SourceFrame frame;
  frame.system_name = SanitizeUtf8(symbol->name);
  frame.name = SanitizeUtf8(FunctionDisplayName(symbol->name));
  return frame;
}

void Symbolizer::QualifyPhysicalFrame(Dwfl_Module* module, uint64_t address,
                                      SourceFrame* frame) {
  // GCC gives functions with internal linkage (anonymous namespaces, members
  // of local classes) no DW_AT_linkage_name, so DWARF names them bare
  // ("Hold" for app::(anonymous namespace)::Hold). The symbol table keeps
  // their mangled name: use it when it names the same function.
  if (frame->system_name.starts_with("_Z")) return;
  const SymbolTable::Symbol* found = SymbolTableFor(module).Find(address);
  if (found == nullptr || !found->name.starts_with("_Z")) return;
  const std::string* symbol = &found->name;
  // GCC's clones (".isra.0", ".constprop.0", ".part.0", ".cold") are the
  // same function: demangle the name without the suffix.
  std::string_view mangled = *symbol;
  mangled = mangled.substr(0, mangled.find('.'));
  std::string qualified = SanitizeUtf8(FunctionDisplayName(mangled));
  if (!qualified.ends_with("::" + frame->name)) return;
  frame->name = std::move(qualified);
  frame->system_name = SanitizeUtf8(*symbol);
}

bool Symbolizer::UsesDwarf(Dwfl_Module* module) {
  auto [it, inserted] = uses_dwarf_.try_emplace(module, true);
  if (!inserted) return it->second;
  Dwarf_Addr bias = 0;
  uint64_t bytes = CompressedDwarfBytes(dwfl_module_getelf(module, &bias));
  // The separate debug file libdwfl would load, where it looks first
  // (Debian's -dbg packages put theirs there), read for its section headers
  // only. Not through libdwfl's own lookup: that attaches the file to the
  // module half set up, and symbols then get wrong addresses.
  const unsigned char* id = nullptr;
  GElf_Addr id_address = 0;
  const int id_bytes = dwfl_module_build_id(module, &id, &id_address);
  if (id_bytes > 1) {
    std::string path = "/usr/lib/debug/.build-id/";
    char hex[3];
    for (int i = 0; i < id_bytes; ++i) {
      std::snprintf(hex, sizeof(hex), "%02x", id[i]);
      path += hex;
      if (i == 0) path += '/';
    }
    path += ".debug";
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (Elf* debug = elf_begin(fd, ELF_C_READ_MMAP, nullptr)) {
        bytes += CompressedDwarfBytes(debug);
        elf_end(debug);
      }
      close(fd);
    }
  }
  it->second = bytes <= limits_.compressed_dwarf_bytes;
  return it->second;
}

Dwfl_Module* Symbolizer::ModuleAtLocked(uint64_t address) {
  Dwfl* dwfl = EnsureDwfl();
  // Code runs only in executable mappings. libdwfl also knows a module by
  // its other segments, which can outlive dlclose (seen under TSan), and
  // would name an unmapped address after the nearest symbol ("_fini").
  return dwfl != nullptr && MappingFor(address) != nullptr
             ? dwfl_addrmodule(dwfl, address)
             : nullptr;
}

std::vector<SourceFrame> Symbolizer::SymbolizeName(uint64_t address) {
  std::lock_guard<std::mutex> lock(LibdwMutex());
  Dwfl_Module* module = ModuleAtLocked(address);
  return {module != nullptr ? SymbolFrame(module, address)
                            : UnknownFrame(address)};
}

std::vector<SourceFrame> Symbolizer::SymbolizeUncached(uint64_t address) {
  std::lock_guard<std::mutex> lock(LibdwMutex());
  std::vector<SourceFrame> frames;
  Dwfl_Module* module = ModuleAtLocked(address);
  if (module == nullptr) {
    frames.push_back(UnknownFrame(address));
    return frames;
  }
  std::string file;
  int64_t line = 0;
  if (!UsesDwarf(module)) {
    frames.push_back(SymbolFrame(module, address));
    return frames;
  }
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(module, address, &bias);
  // For code no unit describes (crt1's _start, crtstuff, PLT stubs) libdw
  // can answer with a neighbouring unit; indexing it would cost that unit's
  // line table for nothing.
  if (cu != nullptr && dwarf_haspc(cu, address - bias) != 1) {
    frames.push_back(SymbolFrame(module, address));
    return frames;
  }
  if (cu != nullptr && IsAgentUnit(cu)) {
    // The agent's own code (its hooks on the host's threads, and its
    // threads) is named by function only: its line tables and unit indexes
    // would cost the host megabytes, a few more at each unit a rare sample
    // lands in (issue 16, item 3).
    frames.push_back(SymbolFrame(module, address));
    return frames;
  }
  if (Dwfl_Line* row = dwfl_module_getsrc(module, address)) {
    int lineno = 0;
    const char* src =
        dwfl_lineinfo(row, nullptr, &lineno, nullptr, nullptr, nullptr);
    if (src != nullptr) file = SanitizeUtf8(src);
    line = lineno;
  }
  if (cu != nullptr) {
    UnitIndexEntry& entry = cu_indexes_[{module, dwarf_dieoffset(cu)}];
    if (entry.index == nullptr) {
      entry.index = std::make_unique<CompileUnitIndex>(cu);
      entry.bytes = entry.index->MemoryBytes();
      cu_index_bytes_ += entry.bytes;
    }
    entry.last_use = ++use_tick_;
    CompileUnitIndex* index = entry.index.get();
    EvictUnitIndexes(index);  // `entry` may be gone; `index` is kept
    if (index->Lookup(address - bias, &file, &line, &frames)) {
      QualifyPhysicalFrame(module, address, &frames.back());
      return frames;
    }
  }
  // No DWARF (stripped library, no debuginfo package): the symbol table
  // still names the physical function.
  SourceFrame physical = SymbolFrame(module, address);
  physical.file = file;
  physical.line = line;
  frames.push_back(std::move(physical));
  return frames;
}

}  // namespace inprof::internal
