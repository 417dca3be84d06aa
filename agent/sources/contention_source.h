// The "mutex" and "block" profiles (Go's names and sample types): one
// source class, two kinds, over the contention profiler's tables.
#ifndef INPROF_AGENT_SOURCES_CONTENTION_SOURCE_H_
#define INPROF_AGENT_SOURCES_CONTENTION_SOURCE_H_

#include <string>
#include <string_view>
#include <vector>

#include "agent/contention/contention_profile.h"
#include "agent/contention/contention_profiler.h"
#include "agent/sources/profile_source.h"
#include "agent/sources/shared_symbolizer.h"

namespace inprof::internal {

// ContentionProfileSource
//
// Ownership: borrows `profiler` and `symbolizer`.
//
// Thread safety: thread-safe.
class ContentionProfileSource : public ProfileSource {
 public:
  ContentionProfileSource(ContentionKind kind,
                          const ContentionProfiler* profiler,
                          SharedSymbolizer* symbolizer);

  std::string_view name() const override;
  StatusOr<Profile> Build(const ProfileRequest& request) override;
  StatusOr<std::string> Text(const ProfileRequest& request) override;

 private:
  // The snapshot `request` asks for; *duration_nanos as SnapshotFor's.
  StatusOr<ContentionSnapshot> Snapshot(const ProfileRequest& request,
                                        int64_t* duration_nanos) const;
  std::vector<std::string> Comments() const;

  const ContentionKind kind_;
  const ContentionProfiler* const profiler_;
  SharedSymbolizer* const symbolizer_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_CONTENTION_SOURCE_H_
