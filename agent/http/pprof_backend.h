// PprofBackend is what the /debug/pprof handlers call to get their data. The
// agent wires real implementations (the CPU pipeline, the symbolizer); tests
// wire fakes. Keeping this seam a plain struct of std::functions keeps the
// HTTP layer free of profiling logic (ARCHITECTURE.md decision 9).
#ifndef INPROF_AGENT_HTTP_PPROF_BACKEND_H_
#define INPROF_AGENT_HTTP_PPROF_BACKEND_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::internal {

// PprofBackend
//
// Ownership: handlers hold a copy; whatever the functions capture must
// outlive the HttpServer they are installed in.
//
// Thread safety: the functions are called concurrently from several HTTP
// worker threads and must be thread-safe.
struct PprofBackend {
  // Returns the gzip-compressed profile.proto of the CPU profile over
  // `seconds` (1..max_profile_seconds); blocks about that long. The backend
  // should poll `client_gone()` (cheap: one poll(2) after the first call) a
  // few times per second and return early (with whatever it collected, or
  // any Status) once it returns true: the requester disconnected or the
  // server is stopping. `client_gone` is valid only during the call.
  //
  // Errors map to HTTP statuses (agent/http/responses.h): kUnavailable
  // (e.g. the profiler is busy or cannot start) and kFailedPrecondition
  // (e.g. CPU profiling is disabled in this process) → 503; kInvalidArgument
  // → 400; kNotFound → 404; kInternal → 500. An empty function → 503.
  std::function<StatusOr<std::string>(int seconds,
                                      const std::function<bool()>& client_gone)>
      cpu_profile;

  // A named profile other than the CPU profile (heap, allocs, block,
  // mutex). `seconds` 0:
  // cumulative since start; N > 0: the difference over the next N seconds
  // (poll `client_gone` as for cpu_profile). `debug` nonzero: Go's legacy
  // text form instead of gzipped profile.proto. kUnimplemented (→ 501) when
  // the profile cannot exist in this process, with how to enable it.
  struct NamedProfileRequest {
    std::string name;
    int seconds = 0;
    int debug = 0;
    std::function<bool()> client_gone;
  };
  std::function<StatusOr<std::string>(const NamedProfileRequest&)>
      named_profile;

  // Profile `name` (cpu, heap, allocs, mutex, block) in memory, for the UI
  // (it draws from it without encoding and decoding it again): `seconds` as
  // for cpu_profile and named_profile (0 for the cumulative profile),
  // errors as theirs.
  std::function<StatusOr<Profile>(const std::string& name, int seconds,
                                  const std::function<bool()>& client_gone)>
      profile;

  // The heap sampling rate (mean bytes between samples), read and set at
  // run time by /debug/heap/rate. Set returns the previous rate.
  std::function<StatusOr<int64_t>()> heap_rate;
  std::function<StatusOr<int64_t>(int64_t bytes)> set_heap_rate;

  // The contention sampling (/debug/contention/rate): block profile rate in
  // nanoseconds and mutex profile fraction. Set changes those given
  // (nullopt: unchanged) and returns the previous pair.
  struct ContentionRates {
    int64_t block_rate_nanos = 0;
    int64_t mutex_fraction = 0;
  };
  std::function<StatusOr<ContentionRates>()> contention_rates;
  std::function<StatusOr<ContentionRates>(std::optional<int64_t> block_nanos,
                                          std::optional<int64_t> fraction)>
      set_contention_rates;

  // /debug/pprof/autocapture: the settings as JSON, and a change from a
  // POST's parameters (in order), validated as a whole: kInvalidArgument
  // (→ 400) leaves the settings as they were; else the new settings' JSON.
  std::function<std::string()> autocapture;
  std::function<StatusOr<std::string>(
      const std::vector<std::pair<std::string, std::string>>& params)>
      set_autocapture;

  // Baselines of typical requests per endpoint, to diff a slow request's
  // capture against (agent/flight/baselines.h): served by
  // /debug/pprof/captures/ID?baseline=1 and the UI. Empty functions: none.
  struct RequestBaselines {
    // True once `endpoint` has a baseline.
    std::function<bool(const std::string& endpoint)> exists;
    // Its gzipped profile.proto; kNotFound (-> 404) when none yet.
    std::function<StatusOr<std::string>(const std::string& endpoint)> profile;
  };
  RequestBaselines request_baselines;

  // /debug/allocator: the allocator's figures as JSON, its own report as
  // text, and a release of free memory to the OS (JSON of what changed).
  std::function<std::string()> allocator_json;
  std::function<std::string()> allocator_text;
  std::function<std::string()> release_allocator_memory;

  // /debug/pools: the object pools' statistics as JSON and as a text table.
  std::function<std::string()> pools_json;
  std::function<std::string()> pools_text;

  // /metrics: the Prometheus text exposition.
  std::function<std::string()> metrics;

  // Returns the name of the function containing `address`, or "" if unknown
  // (for /debug/pprof/symbol). An empty function means "nothing is known".
  std::function<std::string(uint64_t address)> symbol_name;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_PPROF_BACKEND_H_
