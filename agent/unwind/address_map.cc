#include "agent/unwind/address_map.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace inprof::internal {
namespace {

constexpr uint64_t kPageSize = 4096;

uint64_t PageDown(uint64_t a) { return a & ~(kPageSize - 1); }
uint64_t PageUp(uint64_t a) { return PageDown(a + kPageSize - 1); }

std::string ReadProcSelfMaps() {
  std::string text;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[16384];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

// Anonymous memory only: thread stacks, the main stack and the heap. Reading
// a file-backed mapping past its file's end raises SIGBUS, and device
// mappings may have side effects, so those are never readable here; loaded
// ELF segments are added from the loader's own list instead.
bool IsAnonymousReadable(std::string_view perms, std::string_view inode,
                         std::string_view path) {
  if (perms.empty() || perms[0] != 'r') return false;
  if (inode != "0") return false;
  if (path.empty() || path == "[stack]" || path == "[heap]") return true;
  return path.starts_with("[anon:") || path.starts_with("[stack:");
}

void AddAnonymousRanges(std::vector<AddressRange>* ranges) {
  std::string maps = ReadProcSelfMaps();
  size_t pos = 0;
  while (pos < maps.size()) {
    size_t eol = maps.find('\n', pos);
    if (eol == std::string::npos) eol = maps.size();
    std::string_view line(maps.data() + pos, eol - pos);
    pos = eol + 1;
    // start-end perms offset dev inode [path]
    std::string_view fields[6];
    size_t field = 0, i = 0;
    while (field < 6 && i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t begin = i;
      if (field == 5) {
        i = line.size();
      } else {
        while (i < line.size() && line[i] != ' ') ++i;
      }
      fields[field++] = line.substr(begin, i - begin);
    }
    if (field < 5 || !IsAnonymousReadable(fields[1], fields[4], fields[5])) {
      continue;
    }
    std::string range(fields[0]);
    char* dash = nullptr;
    uint64_t start = strtoull(range.c_str(), &dash, 16);
    if (dash == nullptr || *dash != '-') continue;
    uint64_t end = strtoull(dash + 1, nullptr, 16);
    if (end > start) ranges->push_back({start, end});
  }
}

// .eh_frame_hdr (LSB 5.0 §10.6.2): version, three pointer encodings, then
// eh_frame_ptr, fde_count and a table of (initial_location, fde) pairs as
// 4-byte offsets from the header. Only that common layout is accepted; a
// module with another one unwinds by frame pointers. `segment_end` ends the
// loaded segment holding the header: the table is sampled for fde_index
// only if it fits there (the loader holds the module while we read it).
void ParseEhFrameHdr(uint64_t hdr, uint64_t segment_end, UnwindModule* module) {
  if (segment_end - hdr < 12) return;
  const auto* bytes = reinterpret_cast<const uint8_t*>(hdr);
  constexpr uint8_t kPcrelSdata4 = 0x1b, kUdata4 = 0x03, kDatarelSdata4 = 0x3b;
  if (bytes[0] != 1 || bytes[2] != kUdata4 || bytes[3] != kDatarelSdata4) {
    return;
  }
  if (bytes[1] != kPcrelSdata4 && bytes[1] != 0x0b /* sdata4 */) return;
  uint32_t count;
  std::memcpy(&count, bytes + 8, sizeof(count));
  module->eh_frame_hdr = hdr;
  module->fde_table = hdr + 12;
  module->fde_count = count;
  if (segment_end > module->fde_table &&
      count <= (segment_end - module->fde_table) / 8) {
    module->fde_index = SampleFdeTable(
        reinterpret_cast<const uint8_t*>(module->fde_table), count);
  }
}

struct ModuleScan {
  std::vector<AddressRange>* readable;
  std::vector<UnwindModule>* modules;
};

int AddModule(dl_phdr_info* info, size_t, void* data) {
  auto* scan = static_cast<ModuleScan*>(data);
  UnwindModule module;
  module.text_start = UINT64_MAX;
  uint64_t eh_frame_hdr = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_GNU_EH_FRAME) {
      eh_frame_hdr = info->dlpi_addr + ph.p_vaddr;
    }
  }
  uint64_t eh_frame_segment_end = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uint64_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_R) != 0) {
      scan->readable->push_back({PageDown(start), PageUp(start + ph.p_memsz)});
    }
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      module.text_start = std::min<uint64_t>(module.text_start, start);
      module.text_end = std::max<uint64_t>(module.text_end, start + ph.p_memsz);
    }
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_R) != 0 &&
        eh_frame_hdr >= start && eh_frame_hdr - start < ph.p_filesz) {
      eh_frame_segment_end = start + ph.p_filesz;
    }
  }
  if (module.text_start == UINT64_MAX) return 0;
  if (eh_frame_hdr != 0 && eh_frame_segment_end != 0) {
    ParseEhFrameHdr(eh_frame_hdr, eh_frame_segment_end, &module);
  }
  scan->modules->push_back(std::move(module));
  return 0;
}

std::vector<AddressRange> SortAndMerge(std::vector<AddressRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const AddressRange& a, const AddressRange& b) {
              return a.start < b.start;
            });
  std::vector<AddressRange> merged;
  for (const AddressRange& r : ranges) {
    if (!merged.empty() && r.start < merged.back().end) {
      merged.back().end = std::max(merged.back().end, r.end);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

int ReadGeneration(dl_phdr_info* info, size_t size, void* data) {
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    auto* generation = static_cast<LoaderGeneration*>(data);
    generation->adds = info->dlpi_adds;
    generation->subs = info->dlpi_subs;
  }
  return 1;  // the counters are the same on every entry: stop at the first
}

}  // namespace

std::vector<int32_t> SampleFdeTable(const uint8_t* table, uint64_t count) {
  std::vector<int32_t> index;
  index.reserve((count + kFdeIndexStride - 1) / kFdeIndexStride);
  for (uint64_t i = 0; i < count; i += kFdeIndexStride) {
    int32_t initial;
    std::memcpy(&initial, table + i * 8, sizeof(initial));
    index.push_back(initial);
  }
  return index;
}

std::unique_ptr<AddressMap> AddressMap::Build() {
  std::vector<AddressRange> readable;
  std::vector<UnwindModule> modules;
  AddAnonymousRanges(&readable);
  ModuleScan scan{&readable, &modules};
  dl_iterate_phdr(AddModule, &scan);
  return std::make_unique<AddressMap>(std::move(readable), std::move(modules));
}

AddressMap::AddressMap(std::vector<AddressRange> readable,
                       std::vector<UnwindModule> modules)
    : readable_(SortAndMerge(std::move(readable))),
      modules_(std::move(modules)) {
  std::sort(modules_.begin(), modules_.end(),
            [](const UnwindModule& a, const UnwindModule& b) {
              return a.text_start < b.text_start;
            });
}

AddressRange AddressMap::RangeContaining(uint64_t address) const noexcept {
  // Last range whose start <= address.
  size_t lo = 0, hi = readable_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (readable_[mid].start <= address) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0 || address >= readable_[lo - 1].end) return AddressRange{};
  return readable_[lo - 1];
}

bool AddressMap::IsReadable(uint64_t address, size_t length) const noexcept {
  AddressRange r = RangeContaining(address);
  return r.end != 0 && address + length <= r.end && address + length >= address;
}

const UnwindModule* AddressMap::ModuleFor(uint64_t pc) const noexcept {
  size_t lo = 0, hi = modules_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (modules_[mid].text_start <= pc) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return nullptr;
  const UnwindModule& m = modules_[lo - 1];
  return pc < m.text_end ? &m : nullptr;
}

LoaderGeneration CurrentLoaderGeneration() {
  LoaderGeneration generation;
  dl_iterate_phdr(ReadGeneration, &generation);
  return generation;
}

AddressMapHolder::~AddressMapHolder() {
  current_.store(nullptr, std::memory_order_seq_cst);
  while (readers_.load(std::memory_order_seq_cst) != 0) sched_yield();
}

const AddressMap* AddressMapHolder::Acquire() noexcept {
  readers_.fetch_add(1, std::memory_order_seq_cst);
  return current_.load(std::memory_order_seq_cst);
}

void AddressMapHolder::Release() noexcept {
  readers_.fetch_sub(1, std::memory_order_seq_cst);
}

void AddressMapHolder::Publish(std::unique_ptr<AddressMap> map) {
  current_.store(map.get(), std::memory_order_seq_cst);
  // A reader that pinned the old map incremented readers_ before loading the
  // pointer; once the count is seen at zero, later readers see the new map.
  // Handlers are short (tens of microseconds), so this wait is brief.
  while (readers_.load(std::memory_order_seq_cst) != 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  owned_ = std::move(map);
}

}  // namespace inprof::internal
