#include "agent/cpu/cpu_profile.h"

#include <algorithm>

#include "agent/symbolize/location_table.h"
#include "agent/symbolize/symbolizer.h"

namespace inprof::internal {

size_t StackKeyHash::operator()(const StackKey& key) const noexcept {
  uint64_t h = 0xcbf29ce484222325u ^ key.label_set;
  for (uint64_t pc : key.pcs) {
    h ^= pc;
    h *= 0x100000001b3u;
    h ^= h >> 29;
  }
  return static_cast<size_t>(h);
}

CpuProfileRecorder::CpuProfileRecorder(uint64_t start_monotonic_ns)
    : start_ns_(start_monotonic_ns) {}

void CpuProfileRecorder::OnSample(const RawSample& sample) {
  if (sample.timestamp_ns < start_ns_ || sample.depth == 0) return;
  StackKey key;
  key.pcs.assign(sample.pcs, sample.pcs + sample.depth);
  key.label_set = sample.label_set;
  counts_[std::move(key)] += sample.weight;
  tids_.insert(sample.tid);
  if (sample.truncated != 0) ++truncated_;
}

void CpuProfileRecorder::OnLost(uint64_t count) {
  lost_ += static_cast<int64_t>(count);
}

namespace {

// Deterministic output: samples sorted by count, then by stack.
std::vector<std::pair<const StackKey*, int64_t>> SortedStacks(
    const CpuProfileRecorder& recorder) {
  std::vector<std::pair<const StackKey*, int64_t>> stacks;
  stacks.reserve(recorder.counts().size());
  for (const auto& [key, count] : recorder.counts()) {
    stacks.emplace_back(&key, count);
  }
  std::sort(stacks.begin(), stacks.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    if (a.first->pcs != b.first->pcs) return a.first->pcs < b.first->pcs;
    return a.first->label_set < b.first->label_set;
  });
  return stacks;
}

}  // namespace

Profile BuildCpuProfile(const CpuProfileRecorder& recorder,
                        const CpuProfileInfo& info, Symbolizer* symbolizer) {
  Profile profile;
  const int64_t period = 1000000000 / info.hz;
  profile.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  profile.period_type = {"cpu", "nanoseconds"};
  profile.period = period;
  profile.time_nanos = info.start_unix_nanos;
  profile.duration_nanos = info.duration_nanos;
  profile.comments = info.comments;

  LocationTable locations(symbolizer, &profile);
  for (const auto& [key, count] : SortedStacks(recorder)) {
    if (symbolizer->cancelled()) break;  // the result is thrown away
    Sample sample;
    sample.location_ids.reserve(key->pcs.size());
    for (size_t i = 0; i < key->pcs.size(); ++i) {
      uint64_t address = i == 0 ? key->pcs[i] : key->pcs[i] - 1;
      sample.location_ids.push_back(locations.LocationId(address));
    }
    sample.values = {count, count * period};
    profile.samples.push_back(std::move(sample));
  }
  if (recorder.lost() > 0) {
    Sample lost;
    lost.location_ids = {locations.SyntheticLocationId(kLostSamplesFrame)};
    lost.values = {recorder.lost(), recorder.lost() * period};
    profile.samples.push_back(std::move(lost));
  }
  locations.Finish();
  return profile;
}

}  // namespace inprof::internal
