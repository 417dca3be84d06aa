#include "agent/heap/heap_profile.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <string_view>
#include <tuple>

#include "agent/base/clock.h"
#include "agent/profile/snapshot_records.h"
#include "agent/symbolize/legacy_text.h"
#include "agent/symbolize/stack_samples.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {
namespace {

struct RecordTraits {
  static auto Key(const HeapRecord& r) {
    return std::tie(r.pcs, r.size, r.label_set);
  }
  static void Add(HeapRecord& into, const HeapRecord& from, int64_t sign) {
    into.alloc_weight += sign * from.alloc_weight;
    into.free_weight += sign * from.free_weight;
    into.alloc_bytes_weight += sign * from.alloc_bytes_weight;
    into.free_bytes_weight += sign * from.free_bytes_weight;
    into.allocs_raw += sign * from.allocs_raw;
    into.frees_raw += sign * from.frees_raw;
    into.alloc_bytes_raw += sign * from.alloc_bytes_raw;
    into.free_bytes_raw += sign * from.free_bytes_raw;
  }
  static bool IsZero(const HeapRecord& r) {
    return r.alloc_weight == 0 && r.free_weight == 0 &&
           r.alloc_bytes_weight == 0 && r.free_bytes_weight == 0;
  }
};

// True if `name` is `prefix` followed by one or more word characters.
bool IsPrefixedWord(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return false;
  for (char c : name.substr(prefix.size())) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Frames of the allocator itself, pruned from the leaf end of heap stacks.
// Matched by hand, not by std::regex: this runs for every heap profile's
// frames, and <regex> alone cost the agent's build seconds.
bool IsAllocatorFrame(const std::string& name) {
  static constexpr std::string_view kExact[] = {"malloc",
                                                "calloc",
                                                "realloc",
                                                "free",
                                                "valloc",
                                                "pvalloc",
                                                "memalign",
                                                "aligned_alloc",
                                                "posix_memalign",
                                                "operator new",
                                                "operator new[]",
                                                "reallocarray",
                                                "malloc_usable_size"};
  for (std::string_view exact : kExact) {
    if (name == exact) return true;
  }
  static constexpr std::string_view kWordPrefixes[] = {
      "__libc_", "__GI_",       "__interceptor_",
      "tc_",     "MallocHook_", "inprof_front_"};
  for (std::string_view prefix : kWordPrefixes) {
    if (IsPrefixedWord(name, prefix)) return true;
  }
  return name.starts_with("tcmalloc::") || name.starts_with("MallocHook::");
}

bool IsAllocatorModule(const std::string& path) {
  return path.find("libtcmalloc") != std::string::npos;
}

// How many leading frames of `pcs` belong to the allocator; never all.
size_t AllocatorFrames(const std::vector<uint64_t>& pcs,
                       Symbolizer* symbolizer) {
  size_t skip = 0;
  for (; skip + 1 < pcs.size(); ++skip) {
    uint64_t address = pcs[skip] - 1;
    const ProcessMapping* mapping = symbolizer->MappingFor(address);
    if (mapping != nullptr && IsAllocatorModule(mapping->path)) continue;
    std::vector<SourceFrame> frames = symbolizer->Symbolize(address);
    // The outermost function of an inlined chain decides.
    if (frames.empty() || !IsAllocatorFrame(frames.back().name)) break;
  }
  return skip;
}

// Converts a sum of weights (kWeightOne units) to a count, truncating as Go.
int64_t Unweight(int64_t weighted) {
  return weighted / static_cast<int64_t>(kWeightOne);
}

}  // namespace

HeapSnapshot TakeHeapSnapshot(const HeapTables& tables, int64_t rate) {
  HeapSnapshot snapshot;
  snapshot.rate = rate;
  tables.ForEachBucket([&](const HeapTables::BucketView& view) {
    HeapRecord r;
    r.pcs.assign(view.pcs.begin(), view.pcs.end());
    r.size = view.size;
    r.label_set = view.label_set;
    const HeapBucketCounts& c = view.counts;
    r.alloc_weight = static_cast<int64_t>(c.alloc_weight);
    r.free_weight = static_cast<int64_t>(c.free_weight);
    r.alloc_bytes_weight = static_cast<int64_t>(c.alloc_bytes_weight);
    r.free_bytes_weight = static_cast<int64_t>(c.free_bytes_weight);
    r.allocs_raw = static_cast<int64_t>(c.allocs);
    r.frees_raw = static_cast<int64_t>(c.frees);
    r.alloc_bytes_raw = static_cast<int64_t>(c.alloc_bytes_raw);
    r.free_bytes_raw = static_cast<int64_t>(c.free_bytes_raw);
    snapshot.records.push_back(std::move(r));
  });
  snapshot.unix_nanos = UnixNanos();
  SortAndMergeRecords<RecordTraits>(snapshot.records);
  return snapshot;
}

HeapSnapshot SubtractHeapSnapshots(const HeapSnapshot& later,
                                   const HeapSnapshot& earlier) {
  HeapSnapshot delta;
  delta.rate = later.rate;
  delta.unix_nanos = later.unix_nanos;
  delta.records = SubtractRecords<RecordTraits>(later.records, earlier.records);
  return delta;
}

Profile BuildHeapProfile(const HeapSnapshot& snapshot, HeapProfileKind kind,
                         int64_t duration_nanos,
                         const std::vector<std::string>& comments,
                         Symbolizer* symbolizer) {
  Profile profile;
  profile.sample_types = {{"alloc_objects", "count"},
                          {"alloc_space", "bytes"},
                          {"inuse_objects", "count"},
                          {"inuse_space", "bytes"}};
  profile.period_type = {"space", "bytes"};
  profile.period = snapshot.rate;
  profile.time_nanos = snapshot.unix_nanos;
  profile.duration_nanos = duration_nanos;
  profile.comments = comments;
  if (kind == HeapProfileKind::kAllocs) {
    profile.default_sample_type = "alloc_space";
  }

  StackSampleBuilder samples(symbolizer, &profile);
  for (const HeapRecord& r : snapshot.records) {
    if (samples.cancelled()) break;  // the result is thrown away
    const std::span<const uint64_t> pcs(r.pcs);
    Sample& sample = samples.Add(
        pcs.subspan(pcs.empty() ? 0 : AllocatorFrames(r.pcs, symbolizer)),
        StackSampleBuilder::kAllReturnAddresses, kHeapOverflowFrame,
        {Unweight(r.alloc_weight), Unweight(r.alloc_bytes_weight),
         Unweight(r.alloc_weight - r.free_weight),
         Unweight(r.alloc_bytes_weight - r.free_bytes_weight)},
        r.label_set);
    // The table-full record mixes every size: it has no `bytes` label.
    if (!r.pcs.empty()) {
      Label bytes;
      bytes.key = "bytes";
      bytes.num = static_cast<int64_t>(r.size);
      sample.labels.push_back(std::move(bytes));
    }
  }
  samples.Finish();
  return profile;
}

std::string HeapProfileText(const HeapSnapshot& snapshot,
                            Symbolizer* symbolizer) {
  int64_t inuse = 0, inuse_bytes = 0, allocs = 0, alloc_bytes = 0;
  for (const HeapRecord& r : snapshot.records) {
    inuse += r.allocs_raw - r.frees_raw;
    inuse_bytes += r.alloc_bytes_raw - r.free_bytes_raw;
    allocs += r.allocs_raw;
    alloc_bytes += r.alloc_bytes_raw;
  }
  // As Go: equal totals would make pprof's legacy parser read a 2-column
  // profile.
  if (alloc_bytes == inuse_bytes) ++alloc_bytes;
  std::string out;
  char line[512];
  std::snprintf(
      line, sizeof(line), "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld\n",
      static_cast<long long>(inuse), static_cast<long long>(inuse_bytes),
      static_cast<long long>(allocs), static_cast<long long>(alloc_bytes),
      static_cast<long long>(2 * snapshot.rate));
  out += line;
  // As Go's writeHeapInternal: records by in-use bytes, largest first (ties
  // keep the snapshot's order, so the text is deterministic).
  std::vector<const HeapRecord*> order;
  order.reserve(snapshot.records.size());
  for (const HeapRecord& r : snapshot.records) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(),
                   [](const HeapRecord* a, const HeapRecord* b) {
                     return a->alloc_bytes_raw - a->free_bytes_raw >
                            b->alloc_bytes_raw - b->free_bytes_raw;
                   });
  for (const HeapRecord* record : order) {
    const HeapRecord& r = *record;
    if (symbolizer->cancelled()) break;  // the result is thrown away
    std::snprintf(line, sizeof(line), "%lld: %lld [%lld: %lld]",
                  static_cast<long long>(r.allocs_raw - r.frees_raw),
                  static_cast<long long>(r.alloc_bytes_raw - r.free_bytes_raw),
                  static_cast<long long>(r.allocs_raw),
                  static_cast<long long>(r.alloc_bytes_raw));
    out += line;
    const size_t first = r.pcs.empty() ? 0 : AllocatorFrames(r.pcs, symbolizer);
    AppendLegacyStack(out, std::span<const uint64_t>(r.pcs).subspan(first),
                      kHeapOverflowFrame, r.label_set, symbolizer);
    out += '\n';
  }
  std::snprintf(line, sizeof(line),
                "# inprof: sampling rate %lld bytes; values above are raw "
                "sampled counts\n",
                static_cast<long long>(snapshot.rate));
  out += line;
  return out;
}

}  // namespace inprof::internal
