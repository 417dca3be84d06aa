// The profile of one slow request's capture: its CPU samples and its
// wall-clock samples (wall_sampler.h), by stack and label set, with the
// sample types samples/count, cpu/nanoseconds and wall/nanoseconds (the
// last is pprof's default: where the request's time went, on CPU or not).
// cpu/nanoseconds is each thread's own CPU clock (RawSample.cpu_nanos)
// spread over its timer samples' stacks, not samples x period: timer
// signals go missing when the cores are contended, the clock does not.
// The request's waits (block events: agent/contention/request_waits.h) add
// contentions/count and delay/nanoseconds, Go's block profile's types.
//
// Thread safety: thread-compatible (the caller serializes the Symbolizer).
#ifndef INPROF_AGENT_FLIGHT_CAPTURE_PROFILE_H_
#define INPROF_AGENT_FLIGHT_CAPTURE_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "agent/cpu/raw_sample.h"
#include "agent/profile/profile.h"

namespace inprof::internal {

class Symbolizer;

struct RequestCaptureInfo {
  int hz = 100;  // the CPU sampling rate
  int64_t start_unix_nanos = 0;
  int64_t duration_nanos = 0;
  std::vector<std::string> comments;
};

// `samples`: the request's, CPU and wall mixed, in any order.
Profile BuildRequestCapture(const std::vector<RawSample>& samples,
                            const RequestCaptureInfo& info,
                            Symbolizer* symbolizer);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_CAPTURE_PROFILE_H_
