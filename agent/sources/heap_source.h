// The "heap" and "allocs" profiles (Go's names and sample types): one
// source class, two kinds, over the heap sampler's tables.
#ifndef INPROF_AGENT_SOURCES_HEAP_SOURCE_H_
#define INPROF_AGENT_SOURCES_HEAP_SOURCE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/heap/heap_profile.h"
#include "agent/heap/heap_sampler.h"
#include "agent/sources/profile_source.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {

// HeapProfileSource
//
// Ownership: borrows `sampler` (null when heap sampling could not start in
// this process: every Collect() then answers kUnimplemented with
// `unavailable`, which says how to enable it) and `symbolizer`.
//
// Thread safety: thread-safe.
class HeapProfileSource : public ProfileSource {
 public:
  HeapProfileSource(HeapProfileKind kind, const HeapSampler* sampler,
                    std::string unavailable, SharedSymbolizer* symbolizer);

  std::string_view name() const override;
  StatusOr<Profile> Build(const ProfileRequest& request) override;
  StatusOr<std::string> Text(const ProfileRequest& request) override;

 private:
  // The snapshot `request` asks for; *duration_nanos as SnapshotFor's.
  StatusOr<HeapSnapshot> Snapshot(const ProfileRequest& request,
                                  int64_t* duration_nanos) const;
  std::vector<std::string> Comments() const;

  const HeapProfileKind kind_;
  const HeapSampler* const sampler_;
  const std::string unavailable_;
  SharedSymbolizer* const symbolizer_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_HEAP_SOURCE_H_
