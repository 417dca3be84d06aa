#include "agent/cpu/cpu_profile.h"

#include <algorithm>

#include "agent/base/agent_thread.h"
#include "agent/symbolize/stack_samples.h"
#include "agent/symbolize/symbolizer.h"
#include "agent/symbolize/utf8.h"

namespace inprof::internal {

size_t StackKeyHash::operator()(const StackKeyView& key) const noexcept {
  uint64_t h = 0xcbf29ce484222325u ^ key.label_set ^ key.agent_thread;
  for (uint64_t pc : key.pcs) {
    h ^= pc;
    h *= 0x100000001b3u;
    h ^= h >> 29;
  }
  return static_cast<size_t>(h);
}

size_t StackKeyHash::operator()(const StackKey& key) const noexcept {
  return (*this)(StackKeyView{key.pcs, key.label_set, key.agent_thread});
}

bool StackKeyEqual::operator()(const StackKeyView& a,
                               const StackKey& b) const noexcept {
  return a.label_set == b.label_set && a.agent_thread == b.agent_thread &&
         std::equal(a.pcs.begin(), a.pcs.end(), b.pcs.begin(), b.pcs.end());
}

// Room for a 30 s profile of a few busy threads without rehashing while
// the collector drains (each rehash walks every stack counted so far).
CpuProfileRecorder::CpuProfileRecorder(uint64_t start_monotonic_ns)
    : start_ns_(start_monotonic_ns) {
  counts_.reserve(4096);
}

void CpuProfileRecorder::OnSample(const RawSample& sample) {
  // Weight 0: a wall-clock sample (the flight recorder's), no CPU time.
  if (sample.timestamp_ns < start_ns_ || sample.depth == 0 ||
      sample.weight == 0) {
    return;
  }
  const StackKeyView view{
      std::span<const uint64_t>(sample.pcs, static_cast<size_t>(sample.depth)),
      sample.label_set, sample.agent_thread != 0};
  if (auto it = counts_.find(view); it != counts_.end()) {
    it->second += sample.weight;
  } else {
    counts_.emplace(StackKey{{view.pcs.begin(), view.pcs.end()},
                             view.label_set,
                             view.agent_thread},
                    sample.weight);
  }
  periods_by_thread_[sample.tid] += sample.weight;
  if (sample.truncated != 0) ++truncated_;
}

void CpuProfileRecorder::OnLost(uint64_t count) {
  lost_ += static_cast<int64_t>(count);
}

namespace {

// Deterministic output: the host's samples before the agent's threads' (see
// NamesOnlyScope), each sorted by count, then by stack.
std::vector<std::pair<const StackKey*, int64_t>> SortedStacks(
    const CpuProfileRecorder& recorder) {
  std::vector<std::pair<const StackKey*, int64_t>> stacks;
  stacks.reserve(recorder.counts().size());
  for (const auto& [key, count] : recorder.counts()) {
    stacks.emplace_back(&key, count);
  }
  std::sort(stacks.begin(), stacks.end(), [](const auto& a, const auto& b) {
    if (a.first->agent_thread != b.first->agent_thread) {
      return b.first->agent_thread;
    }
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

  StackSampleBuilder samples(symbolizer, &profile);
  for (const auto& [key, count] : SortedStacks(recorder)) {
    if (samples.cancelled()) break;  // the result is thrown away
    const NamesOnlyScope names_only(symbolizer, key->agent_thread);
    // The recorder keeps no empty stack, so the pseudo-frame is never used.
    Sample& sample =
        samples.Add(key->pcs, StackSampleBuilder::kInterruptedPc,
                    kLostSamplesFrame, {count, count * period}, key->label_set);
    if (key->agent_thread) {
      sample.labels.push_back(Label{kAgentThreadLabel, "true", 0, ""});
    }
  }
  if (recorder.lost() > 0) {
    samples.AddPseudoFrame(kLostSamplesFrame,
                           {recorder.lost(), recorder.lost() * period});
  }
  for (const UnsampledThread& thread : info.unsampled) {
    const int64_t nanos = thread.unsampled_ns;
    Sample& sample = samples.AddPseudoFrame(
        kUnsampledCpuFrame, {(nanos + period / 2) / period, nanos});
    sample.labels.push_back(
        Label{kUnsampledThreadNameLabel, SanitizeUtf8(thread.name), 0, ""});
    sample.labels.push_back(Label{kUnsampledThreadIdLabel, "", thread.tid, ""});
  }
  samples.Finish();
  return profile;
}

}  // namespace inprof::internal
