#include "agent/sources/heap_source.h"

#include <utility>

namespace inprof::internal {

HeapProfileSource::HeapProfileSource(HeapProfileKind kind,
                                     const HeapSampler* sampler,
                                     std::string unavailable,
                                     SharedSymbolizer* symbolizer)
    : kind_(kind),
      sampler_(sampler),
      unavailable_(std::move(unavailable)),
      symbolizer_(symbolizer) {}

std::string_view HeapProfileSource::name() const {
  return kind_ == HeapProfileKind::kAllocs ? "allocs" : "heap";
}

StatusOr<HeapSnapshot> HeapProfileSource::Snapshot(
    const ProfileRequest& request, int64_t* duration_nanos) const {
  if (sampler_ == nullptr) return UnimplementedError(unavailable_);
  return SnapshotFor(
      request,
      [this] { return TakeHeapSnapshot(sampler_->tables(), sampler_->rate()); },
      SubtractHeapSnapshots, duration_nanos);
}

StatusOr<Profile> HeapProfileSource::Build(const ProfileRequest& request) {
  int64_t duration_nanos = 0;
  StatusOr<HeapSnapshot> snapshot = Snapshot(request, &duration_nanos);
  if (!snapshot.ok()) return snapshot.status();
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return BuildHeapProfile(*snapshot, kind_, duration_nanos, Comments(), s);
  });
}

StatusOr<std::string> HeapProfileSource::Text(const ProfileRequest& request) {
  int64_t duration_nanos = 0;
  StatusOr<HeapSnapshot> snapshot = Snapshot(request, &duration_nanos);
  if (!snapshot.ok()) return snapshot.status();
  return symbolizer_->Build(request.cancelled, [&](Symbolizer* s) {
    return HeapProfileText(*snapshot, s);
  });
}

std::vector<std::string> HeapProfileSource::Comments() const {
  HeapSamplerStats stats = sampler_->stats();
  return {
      std::string("inprof heap profile: ") + sampler_->source() +
          ", one sample per " + std::to_string(sampler_->rate()) +
          " bytes allocated on average",
      "agent totals since start: samples=" + std::to_string(stats.samples) +
          " live_sampled_blocks=" + std::to_string(stats.live_blocks) +
          " untracked=" + std::to_string(stats.untracked) +
          " overflowed=" + std::to_string(stats.overflowed) +
          " sampler_ms=" + std::to_string(stats.nanos_in_sampler / 1000000),
  };
}

}  // namespace inprof::internal
