// CpuProfileRecorder is the sink behind one /debug/pprof/profile request: it
// counts samples per (stack, label set) from its start on. BuildCpuProfile
// turns the counts into a symbolized pprof profile with the sample types,
// period and times Go's CPU profiles carry (pprof-spec.md §2.9).
//
// Thread safety: the recorder is called by the CpuSampler under its mutex
// while subscribed; read it only after Unsubscribe(). BuildCpuProfile is
// thread-compatible (the caller serializes use of the Symbolizer).
#ifndef INPROF_AGENT_CPU_CPU_PROFILE_H_
#define INPROF_AGENT_CPU_CPU_PROFILE_H_

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/cpu/cpu_sampler.h"
#include "agent/cpu/raw_sample.h"
#include "agent/cpu/unsampled_cpu.h"
#include "agent/profile/profile.h"

namespace inprof::internal {

class Symbolizer;

// A stack exactly as sampled: pcs[0] is the interrupted pc, the rest are
// return addresses; plus the thread's label-set id and whether the thread is
// one of the agent's own.
struct StackKey {
  std::vector<uint64_t> pcs;
  uint64_t label_set = 0;
  bool agent_thread = false;
  bool operator==(const StackKey&) const = default;
};

// A sample's stack as the ring holds it, looked up without copying it into
// a StackKey (a vector allocated per sample) when it is already counted.
struct StackKeyView {
  std::span<const uint64_t> pcs;
  uint64_t label_set = 0;
  bool agent_thread = false;
};

struct StackKeyHash {
  using is_transparent = void;
  size_t operator()(const StackKey& key) const noexcept;
  size_t operator()(const StackKeyView& key) const noexcept;
};

struct StackKeyEqual {
  using is_transparent = void;
  bool operator()(const StackKey& a, const StackKey& b) const noexcept {
    return a == b;
  }
  bool operator()(const StackKeyView& a, const StackKey& b) const noexcept;
  bool operator()(const StackKey& a, const StackKeyView& b) const noexcept {
    return (*this)(b, a);
  }
};

using StackCounts =
    std::unordered_map<StackKey, int64_t, StackKeyHash, StackKeyEqual>;

class CpuProfileRecorder : public CpuSampleSink {
 public:
  // Counts samples whose timestamp is at or after `start_monotonic_ns`.
  explicit CpuProfileRecorder(uint64_t start_monotonic_ns);

  void OnSample(const RawSample& sample) override;
  void OnLost(uint64_t count) override;

  const StackCounts& counts() const { return counts_; }
  int64_t lost() const { return lost_; }
  int64_t truncated() const { return truncated_; }
  // Distinct threads that contributed at least one sample.
  size_t threads() const { return periods_by_thread_.size(); }
  // The periods each thread's samples stand for (weights summed), by tid.
  const std::unordered_map<uint32_t, int64_t>& periods_by_thread() const {
    return periods_by_thread_;
  }

 private:
  const uint64_t start_ns_;
  StackCounts counts_;
  std::unordered_map<uint32_t, int64_t> periods_by_thread_;
  int64_t lost_ = 0;
  int64_t truncated_ = 0;
};

struct CpuProfileInfo {
  int hz = 100;
  int64_t start_unix_nanos = 0;
  int64_t duration_nanos = 0;
  std::vector<std::string> comments;
  // Threads whose CPU time exceeded their samples (unsampled_cpu.h).
  std::vector<UnsampledThread> unsampled;
};

// The frame name under which lost samples are reported, like Go's
// runtime/pprof.lostProfileEvent.
inline constexpr char kLostSamplesFrame[] = "inprof.LostSamples";

// The frame under which a thread's CPU time that no timer signalled is
// reported (unsampled_cpu.h): one sample per such thread, labelled
// kUnsampledThreadNameLabel and kUnsampledThreadIdLabel (numeric).
inline constexpr char kUnsampledCpuFrame[] = "inprof.UnsampledCPU";
inline constexpr char kUnsampledThreadNameLabel[] = "thread_name";
inline constexpr char kUnsampledThreadIdLabel[] = "thread_id";

// Builds the (unencoded) profile. Sample values: samples/count and
// cpu/nanoseconds = count * period; an inprof.UnsampledCPU sample has the
// thread's unsampled nanoseconds and their count of periods, rounded. Caller
// frames get return address - 1 so they symbolize to the call site
// (pprof-spec.md §2.5). The agent's own threads' samples carry the label
// kAgentThreadLabel = "true" and are named by function only (no file, line
// or inlined frames: NamesOnlyScope), after the host's.
Profile BuildCpuProfile(const CpuProfileRecorder& recorder,
                        const CpuProfileInfo& info, Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_CPU_PROFILE_H_
