#include "agent/sources/contention_source.h"

namespace inprof::internal {

ContentionProfileSource::ContentionProfileSource(
    ContentionKind kind, const ContentionProfiler* profiler,
    SharedSymbolizer* symbolizer)
    : kind_(kind), profiler_(profiler), symbolizer_(symbolizer) {}

std::string_view ContentionProfileSource::name() const {
  return kind_ == ContentionKind::kMutex ? "mutex" : "block";
}

StatusOr<ContentionSnapshot> ContentionProfileSource::Snapshot(
    const ProfileRequest& request, int64_t* duration_nanos) const {
  return SnapshotFor(
      request,
      [this] { return TakeContentionSnapshot(profiler_->table(kind_), kind_); },
      SubtractContentionSnapshots, duration_nanos);
}

StatusOr<Profile> ContentionProfileSource::Build(
    const ProfileRequest& request) {
  int64_t duration_nanos = 0;
  StatusOr<ContentionSnapshot> snapshot = Snapshot(request, &duration_nanos);
  if (!snapshot.ok()) return snapshot.status();
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return BuildContentionProfile(*snapshot, duration_nanos, Comments(), s);
  });
}

StatusOr<std::string> ContentionProfileSource::Text(
    const ProfileRequest& request) {
  int64_t duration_nanos = 0;
  StatusOr<ContentionSnapshot> snapshot = Snapshot(request, &duration_nanos);
  if (!snapshot.ok()) return snapshot.status();
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return ContentionProfileText(*snapshot, s);
  });
}

std::vector<std::string> ContentionProfileSource::Comments() const {
  const bool mutex = kind_ == ContentionKind::kMutex;
  ContentionKindStats stats = profiler_->stats(kind_);
  const std::string interposer = profiler_->interposer();
  std::vector<std::string> comments = {
      mutex ? "inprof mutex profile: one contended unlock in " +
                  std::to_string(profiler_->mutex_fraction()) +
                  " recorded, with the waiting it caused"
            : "inprof block profile: waits of " +
                  std::to_string(profiler_->block_rate()) +
                  " ns or more recorded, shorter ones sampled",
      "sources: inprof::Mutex/SharedMutex/ConditionVariable" +
          (interposer.empty()
               ? std::string("; no pthread interposer (std::mutex and "
                             "third-party locks are not seen)")
               : "; pthread interposer " + interposer),
      "agent totals since start: samples=" + std::to_string(stats.samples) +
          " overflowed=" + std::to_string(stats.overflowed) +
          " budget_doublings=" + std::to_string(stats.budget_shift) +
          " sampling_ms=" + std::to_string(stats.nanos_sampling / 1000000),
  };
  if (mutex) {
    comments.push_back(
        "waiting not charged to an unlocker (wait-board "
        "collisions): " +
        std::to_string(stats.unattributed_nanos) + " ns");
  }
  return comments;
}

}  // namespace inprof::internal
