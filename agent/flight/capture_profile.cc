#include "agent/flight/capture_profile.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "agent/cpu/cpu_profile.h"
#include "agent/symbolize/stack_samples.h"

namespace inprof::internal {

Profile BuildRequestCapture(const std::vector<RawSample>& samples,
                            const RequestCaptureInfo& info,
                            Symbolizer* symbolizer) {
  struct Totals {
    int64_t cpu_samples = 0;
    int64_t wall_nanos = 0;
  };
  std::map<std::pair<std::vector<uint64_t>, uint64_t>, Totals> by_stack;
  for (const RawSample& s : samples) {
    if (s.depth == 0) continue;
    Totals& totals =
        by_stack[{std::vector<uint64_t>(s.pcs, s.pcs + s.depth), s.label_set}];
    totals.cpu_samples += s.weight;  // 0 for a wall sample
    totals.wall_nanos += static_cast<int64_t>(s.wall_nanos);
  }
  const int64_t period = 1'000'000'000 / info.hz;
  Profile profile;
  profile.sample_types = {
      {"samples", "count"}, {"cpu", "nanoseconds"}, {"wall", "nanoseconds"}};
  profile.period_type = {"cpu", "nanoseconds"};
  profile.period = period;
  profile.time_nanos = info.start_unix_nanos;
  profile.duration_nanos = info.duration_nanos;
  profile.comments = info.comments;
  StackSampleBuilder builder(symbolizer, &profile);
  for (const auto& [key, totals] : by_stack) {
    if (builder.cancelled()) break;  // the result is thrown away
    builder.Add(
        key.first, StackSampleBuilder::kInterruptedPc, kLostSamplesFrame,
        {totals.cpu_samples, totals.cpu_samples * period, totals.wall_nanos},
        key.second);
  }
  builder.Finish();
  return profile;
}

}  // namespace inprof::internal
