#include "agent/heap/allocator_stats.h"

#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "agent/base/json_string.h"

namespace inprof::internal {
namespace {

// tcmalloc's numeric properties, under our names (gperftools 2.10
// malloc_extension.h documents each).
constexpr std::pair<const char*, const char*> kTcmallocProperties[] = {
    {"bytes_in_use", "generic.current_allocated_bytes"},
    {"heap_size", "generic.heap_size"},
    {"total_physical_bytes", "generic.total_physical_bytes"},
    {"pageheap_free_bytes", "tcmalloc.pageheap_free_bytes"},
    {"pageheap_unmapped_bytes", "tcmalloc.pageheap_unmapped_bytes"},
    {"central_cache_free_bytes", "tcmalloc.central_cache_free_bytes"},
    {"transfer_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes"},
    {"thread_cache_free_bytes", "tcmalloc.thread_cache_free_bytes"},
    {"current_total_thread_cache_bytes",
     "tcmalloc.current_total_thread_cache_bytes"},
    {"max_total_thread_cache_bytes", "tcmalloc.max_total_thread_cache_bytes"},
};

std::string TcmallocReport(const TcmallocApi& tcmalloc) {
  std::string report(64 * 1024, '\0');
  tcmalloc.get_stats(report.data(), static_cast<int>(report.size()));
  report.resize(report.find('\0'));
  return report;
}

// tcmalloc reports its metadata only in the text report:
// "MALLOC: +     12345678 (   11.8 MiB) Bytes in malloc metadata".
uint64_t TcmallocMetadataBytes(const std::string& report) {
  const size_t label = report.find(") Bytes in malloc metadata");
  if (label == std::string::npos) return 0;
  const size_t line_start = report.rfind('\n', label);
  const size_t begin = line_start == std::string::npos ? 0 : line_start + 1;
  std::string_view line(report.data() + begin, label - begin);
  if (!line.starts_with("MALLOC:")) return 0;
  line.remove_prefix(7);
  auto skip_spaces = [&line] {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line[0])))
      line.remove_prefix(1);
  };
  skip_spaces();
  if (!line.empty() && line[0] == '+') line.remove_prefix(1);
  skip_spaces();
  uint64_t value = 0;
  auto [end, error] =
      std::from_chars(line.data(), line.data() + line.size(), value);
  if (error != std::errc() || end == line.data() || *end != ' ') return 0;
  return value;
}

AllocatorStats TcmallocStats(const TcmallocApi& tcmalloc) {
  AllocatorStats stats;
  stats.allocator = "tcmalloc";
  stats.version = "gperftools";
  if (tcmalloc.version != nullptr) {
    int major = 0, minor = 0;
    const char* patch = nullptr;
    stats.version = tcmalloc.version(&major, &minor, &patch);
  }
  for (const auto& [name, property] : kTcmallocProperties) {
    size_t value = 0;
    if (tcmalloc.get_numeric_property(property, &value)) {
      stats.values.emplace_back(name, value);
    }
  }
  stats.values.emplace_back("metadata_bytes",
                            TcmallocMetadataBytes(TcmallocReport(tcmalloc)));
  return stats;
}

AllocatorStats GlibcStats() {
  struct mallinfo2 info = mallinfo2();
  AllocatorStats stats;
  stats.allocator = "glibc";
  stats.version = std::string("glibc ") + gnu_get_libc_version();
  stats.values = {
      {"bytes_in_use", info.uordblks + info.hblkhd},
      {"heap_size", info.arena + info.hblkhd},
      {"arena_bytes", info.arena},
      {"mmap_bytes", info.hblkhd},
      {"mmap_chunks", info.hblks},
      {"free_bytes", info.fordblks},
      {"free_chunks", info.ordblks},
      {"fastbin_free_bytes", info.fsmblks},
      {"releasable_bytes", info.keepcost},
  };
  return stats;
}

// The figures a release changes, as a JSON object.
std::string ReleaseFigures(const AllocatorStats& stats) {
  std::string out = "{";
  for (const auto& [name, value] : stats.values) {
    if (name == "bytes_in_use" || name == "heap_size") continue;
    if (out.size() > 1) out += ", ";
    out += JsonString(name) + ": " + std::to_string(value);
  }
  return out + "}";
}

}  // namespace

uint64_t AllocatorStats::Get(const std::string& name) const {
  for (const auto& [key, value] : values) {
    if (key == name) return value;
  }
  return 0;
}

AllocatorStats ReadAllocatorStats(const TcmallocApi* tcmalloc) {
  return tcmalloc != nullptr ? TcmallocStats(*tcmalloc) : GlibcStats();
}

std::string AllocatorStatsJson(const AllocatorStats& stats) {
  std::string out = "{\"allocator\": " + JsonString(stats.allocator) +
                    ", \"version\": " + JsonString(stats.version);
  for (const auto& [name, value] : stats.values) {
    out += ", " + JsonString(name) + ": " + std::to_string(value);
  }
  return out + "}\n";
}

std::string AllocatorReport(const TcmallocApi* tcmalloc) {
  if (tcmalloc != nullptr) return TcmallocReport(*tcmalloc);
  char* buffer = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&buffer, &size);
  if (stream == nullptr) return "malloc_info: cannot open a memory stream\n";
  malloc_info(0, stream);
  fclose(stream);
  std::string report(buffer, size);
  free(buffer);
  return report;
}

std::string ReleaseFreeMemory(const TcmallocApi* tcmalloc) {
  AllocatorStats before = ReadAllocatorStats(tcmalloc);
  uint64_t released = 0;
  if (tcmalloc != nullptr) {
    tcmalloc->release_free_memory();
  } else {
    malloc_trim(0);
  }
  AllocatorStats after = ReadAllocatorStats(tcmalloc);
  if (tcmalloc != nullptr) {
    uint64_t was = before.Get("pageheap_unmapped_bytes");
    uint64_t now = after.Get("pageheap_unmapped_bytes");
    released = now > was ? now - was : 0;
  } else {
    // glibc does not count what it returned; the fall of its mapped heap is
    // the estimate (free chunks it madvise()d inside arenas do not show).
    uint64_t was = before.Get("heap_size"), now = after.Get("heap_size");
    released = was > now ? was - now : 0;
  }
  return "{\"released_bytes\": " + std::to_string(released) +
         ", \"before\": " + ReleaseFigures(before) +
         ", \"after\": " + ReleaseFigures(after) + "}\n";
}

}  // namespace inprof::internal
