// AutoCaptureSettings: when a request counts as slow, per endpoint, and
// whether auto-capture is on; set from Options / INPROF_* at start and
// changed at run time by POST /debug/pprof/autocapture (README, "Slow
// requests"). Changes are validated as a whole: a bad one changes nothing.
//
// Thread safety: a value type (thread-compatible).
#ifndef INPROF_AGENT_FLIGHT_AUTOCAPTURE_SETTINGS_H_
#define INPROF_AGENT_FLIGHT_AUTOCAPTURE_SETTINGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inprof/status.h"

namespace inprof::internal {

struct AutoCaptureSettings {
  // Largest threshold accepted: an hour.
  static constexpr int64_t kMaxThresholdMs = 3'600'000;
  // Endpoints with a threshold of their own, at most.
  static constexpr size_t kMaxEndpoints = 256;

  bool enabled = false;
  // Requests of endpoints without a threshold of their own are slow past
  // this; 0: they are never slow.
  int64_t threshold_ms = 0;
  // Thresholds of single endpoints (the label value, e.g. "GET /users").
  std::map<std::string, int64_t> endpoint_threshold_ms;

  // The bounds of the captures auto-capture leaves (the UI's own captures
  // have theirs): a storm of slow requests must not become a storm of
  // profiling work or memory.
  static constexpr int kMaxMaxCaptures = 1000;
  static constexpr int64_t kMinMaxBytes = int64_t{1} << 20;
  static constexpr int64_t kMaxMaxBytes = int64_t{1} << 30;
  static constexpr double kMinPerSecond = 0.01;
  static constexpr double kMaxPerSecond = 100;
  static constexpr int kMaxHangMultiple = 1000;
  // Slow requests' captures kept, newest first; 1..kMaxMaxCaptures.
  int max_captures = 16;
  // Their bytes together (the newest is kept even if larger alone).
  int64_t max_bytes = int64_t{32} << 20;
  // Captures begun per second in the long run, at most 2 s worth at once
  // (Burst()); kMinPerSecond..kMaxPerSecond.
  double captures_per_second = 2;
  // A request still running at this multiple of its threshold is captured
  // live, and its capture completed in place when it ends; 0: never; else
  // 2..kMaxHangMultiple.
  int hang_multiple = 10;
  // Off (0) by default: each capture also holds a whole-process CPU profile
  // of the this-many ms after the slow request ended (for slowness that came
  // from the rest of the process), one at a time; 0..kMaxProcessProfileMs.
  static constexpr int kMaxProcessProfileMs = 60'000;
  int process_profile_ms = 0;

  // The threshold of `endpoint` in nanoseconds; 0: never slow.
  int64_t ThresholdNanos(std::string_view endpoint) const;

  // Captures that may begin at once: two seconds' worth, at least one.
  double Burst() const;

  // JSON for GET /debug/pprof/autocapture.
  std::string ToJson() const;

  bool operator==(const AutoCaptureSettings&) const = default;
};

// The settings of Options (threshold and per-endpoint thresholds, in ms;
// `limits`: the limit parameters below, e.g. {"max_captures", "8"}),
// validated as a POST's would be.
StatusOr<AutoCaptureSettings> AutoCaptureSettingsFrom(
    int64_t threshold_ms, const std::map<std::string, int64_t>& endpoints,
    const std::vector<std::pair<std::string, std::string>>& limits = {});

// The settings after a POST's query parameters (`params`):
//   threshold_ms=N           the threshold (of `endpoint` if given); N > 0
//                            also turns auto-capture on; 0 removes it
//   endpoint=NAME            the endpoint threshold_ms applies to
//   enabled=0|1              turns auto-capture off or on
//   max_captures=N           limits (AutoCaptureSettings): captures kept,
//   max_bytes=N              their bytes, captures begun per second (a
//   captures_per_second=X    decimal), the multiple of a threshold at which
//   hang_multiple=N          a running request is captured live (0: never)
//   process_profile_ms=N     a whole-process CPU profile after each capture
// No parameter at all is valid (changes nothing); removing the last
// threshold turns auto-capture off. Errors (kInvalidArgument, one line
// naming the parameter): unknown or repeated names, values out of range,
// endpoint= without threshold_ms=, enabled=1 with no threshold.
StatusOr<AutoCaptureSettings> ApplyAutoCaptureParams(
    const AutoCaptureSettings& current,
    const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_FLIGHT_AUTOCAPTURE_SETTINGS_H_
