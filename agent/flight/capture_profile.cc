#include "agent/flight/capture_profile.h"

#include <map>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "agent/cpu/cpu_profile.h"
#include "agent/symbolize/stack_samples.h"

namespace inprof::internal {
namespace {

// How one thread's measured CPU time is spread over its samples' stacks.
// Its CPU clock (RawSample.cpu_nanos, summed over every sample) says how
// much CPU the thread used for the request, timer signals lost or not; its
// timer samples say where: each gets its own share scaled by
// measured / measured-at-timer-samples. A thread no timer signal reached
// (too little CPU, or its signals all merged) has its CPU on the stacks of
// its wall samples instead, the only stacks seen.
struct ThreadCpu {
  int64_t measured = 0;          // over all its samples
  int64_t at_timer_samples = 0;  // over its CPU samples only

  double Scale() const {
    return at_timer_samples == 0
               ? 0
               : static_cast<double>(measured) / at_timer_samples;
  }
};

bool IsWallSample(const RawSample& s) { return s.wall_nanos != 0; }
bool IsWait(const RawSample& s) { return s.wait_count != 0; }

// RawSample.wait_count is in units of 1/1024 event (unbiased sampling).
int64_t WaitEvents(uint64_t count) {
  return static_cast<int64_t>((count + 512) / 1024);
}

std::unordered_map<uint32_t, ThreadCpu> CpuByThread(
    const std::vector<RawSample>& samples) {
  std::unordered_map<uint32_t, ThreadCpu> threads;
  for (const RawSample& s : samples) {
    ThreadCpu& thread = threads[s.tid];
    thread.measured += static_cast<int64_t>(s.cpu_nanos);
    if (!IsWallSample(s) && !IsWait(s)) {
      thread.at_timer_samples += static_cast<int64_t>(s.cpu_nanos);
    }
  }
  return threads;
}

// The CPU time sample `s` stands for in the capture.
double CpuShare(const RawSample& s, const ThreadCpu& thread) {
  if (thread.at_timer_samples == 0) {
    return IsWallSample(s) ? static_cast<double>(s.cpu_nanos) : 0;
  }
  return IsWallSample(s) ? 0
                         : static_cast<double>(s.cpu_nanos) * thread.Scale();
}

}  // namespace

Profile BuildRequestCapture(const std::vector<RawSample>& samples,
                            const RequestCaptureInfo& info,
                            Symbolizer* symbolizer) {
  struct Totals {
    int64_t cpu_samples = 0;
    double cpu_nanos = 0;
    int64_t wall_nanos = 0;
    uint64_t wait_count = 0;  // x 1024 (RawSample.wait_count)
    int64_t wait_nanos = 0;
  };
  const std::unordered_map<uint32_t, ThreadCpu> threads = CpuByThread(samples);
  // By stack, label set and whether the stack is a wait's (return
  // addresses only: contention hooks walk from their own frame).
  std::map<std::tuple<std::vector<uint64_t>, uint64_t, bool>, Totals> by_stack;
  for (const RawSample& s : samples) {
    // No stack: its CPU time is on the thread's other samples (Scale).
    if (s.depth == 0) continue;
    Totals& totals = by_stack[{std::vector<uint64_t>(s.pcs, s.pcs + s.depth),
                               s.label_set, IsWait(s)}];
    totals.cpu_samples += s.weight;  // 0 for a wall sample
    totals.cpu_nanos += CpuShare(s, threads.at(s.tid));
    totals.wall_nanos += static_cast<int64_t>(s.wall_nanos);
    totals.wait_count += s.wait_count;
    totals.wait_nanos += static_cast<int64_t>(s.wait_nanos);
  }
  const int64_t period = 1'000'000'000 / info.hz;
  Profile profile;
  profile.sample_types = {{"samples", "count"},
                          {"cpu", "nanoseconds"},
                          {"wall", "nanoseconds"},
                          {"contentions", "count"},
                          {"delay", "nanoseconds"}};
  // Where the request's time went is what a capture is for: pprof's
  // default view (otherwise the last type).
  profile.default_sample_type = "wall";
  profile.period_type = {"cpu", "nanoseconds"};
  profile.period = period;
  profile.time_nanos = info.start_unix_nanos;
  profile.duration_nanos = info.duration_nanos;
  profile.comments = info.comments;
  StackSampleBuilder builder(symbolizer, &profile);
  for (const auto& [key, totals] : by_stack) {
    if (builder.cancelled()) break;  // the result is thrown away
    const auto& [pcs, label_set, wait] = key;
    builder.Add(
        pcs,
        wait ? StackSampleBuilder::kAllReturnAddresses
             : StackSampleBuilder::kInterruptedPc,
        kLostSamplesFrame,
        {totals.cpu_samples, static_cast<int64_t>(totals.cpu_nanos),
         totals.wall_nanos, WaitEvents(totals.wait_count), totals.wait_nanos},
        label_set);
  }
  builder.Finish();
  return profile;
}

}  // namespace inprof::internal
