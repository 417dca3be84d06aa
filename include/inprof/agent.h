// -----------------------------------------------------------------------------
// File: inprof/agent.h
// -----------------------------------------------------------------------------
//
// The inprof agent: an HTTP endpoint inside your process that serves
// Go-compatible pprof profiles (`go tool pprof http://host:port/debug/pprof/
// profile` works as against a Go service).
//
// Example (the two lines):
//
//   auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
//   if (!agent.ok()) std::fprintf(stderr, "%s\n",
//   agent.status().ToString().c_str());
//
// The agent runs until the handle is destroyed. CPU timers run only while
// someone is fetching a CPU profile; between requests the agent costs an idle
// HTTP thread.
//
#ifndef INPROF_AGENT_H_
#define INPROF_AGENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "inprof/export.h"
#include "inprof/status.h"

namespace inprof {

// Options
//
// Configuration of an Agent. A plain struct: every field has a documented
// default, and FromEnvironment() overlays INPROF_* variables on the defaults.
//
// Thread safety: thread-compatible (a value type).
struct INPROF_EXPORT Options {
  // Address to bind. The default serves only this machine; set "0.0.0.0"
  // deliberately (profiles reveal code structure). Env: INPROF_ADDR=host:port.
  std::string host = "127.0.0.1";

  // TCP port; 0 picks any free port (read it back with Agent::port()).
  // Env: INPROF_ADDR=host:port or INPROF_PORT.
  int port = 6060;

  // CPU sampling rate in samples per second of CPU time, per thread; 1..1000.
  // Linux delivers per-thread CPU timers on the scheduler tick, so rates above
  // CONFIG_HZ (often 250) are capped by the kernel. Env: INPROF_HZ.
  int hz = 100;

  // Upper bound for /debug/pprof/profile?seconds=N. Env: INPROF_MAX_SECONDS.
  int max_profile_seconds = 300;

  // Signal used for CPU sampling. Start() refuses if the host already handles
  // it. Env: INPROF_SIGNAL (a number, or "SIGPROF").
  int cpu_signal = 0;  // 0 means SIGPROF.

  // Deepest stack recorded per sample; deeper stacks keep their leaf-most
  // frames. 1..128. Env: INPROF_MAX_STACK_DEPTH.
  int max_stack_depth = 128;

  // Defaults overlaid with the INPROF_* environment variables above. A
  // malformed variable is reported by Start() (see env_error), so a typo is
  // never silently ignored.
  static Options FromEnvironment();

  // Heap profiling (needs tcmalloc as the process's malloc): mean bytes
  // allocated between two sampled allocations, as Go's MemProfileRate.
  // 0 turns sampling off; 1 samples every allocation. 0..1073741824.
  // Changeable at run time: SetHeapSampleRate(), or POST
  // /debug/heap/rate?bytes=N. Env: INPROF_HEAP_RATE.
  int64_t heap_sample_rate = 512 * 1024;

  // Contention profiling (/debug/pprof/block and /debug/pprof/mutex) of
  // inprof::Mutex, SharedMutex and ConditionVariable (inprof/mutex.h), and
  // of every pthread lock when the interposer is linked or preloaded.
  //
  // Block profile, as Go's runtime.SetBlockProfileRate: a wait of at least
  // this many nanoseconds is always recorded, a shorter one with probability
  // wait/rate (and weighted to stay unbiased). 0 turns it off.
  // 0..1099511627776. Env: INPROF_BLOCK_RATE.
  int64_t block_profile_rate = 10000;

  // Mutex profile, as Go's runtime.SetMutexProfileFraction: on average one
  // contended unlock in this many is recorded, with the waiting it caused.
  // 0 turns it off; 1 records every one. 0..1048576.
  // Env: INPROF_MUTEX_FRACTION.
  //
  // Both are changeable at run time (SetBlockProfileRate(),
  // SetMutexProfileFraction(), or POST /debug/contention/rate), and both
  // are bounded in cost: under heavy contention the agent samples less
  // (about 250 samples a second per profile at most), weighting what it
  // keeps so that totals stay unbiased.
  int64_t mutex_profile_fraction = 10;

  // Slow requests (README, "Slow requests"). While auto-capture is on, each
  // request (outermost inprof::RequestScope, include/inprof/request.h) is
  // timed and judged against its endpoint's threshold; /metrics shows the
  // latency histograms and slow counts by endpoint. A threshold above 0 turns
  // auto-capture on; 0..3600000 ms. Changeable at run time with
  // POST /debug/pprof/autocapture?threshold_ms=N.
  // Env: INPROF_AUTOCAPTURE_THRESHOLD_MS.
  int64_t autocapture_threshold_ms = 0;

  // Thresholds of single endpoints (the `endpoint` label, e.g. "GET /users"),
  // in ms, over autocapture_threshold_ms; at most 256. Env:
  // INPROF_AUTOCAPTURE_ENDPOINTS="GET /users=100;GET /search=500".
  std::map<std::string, int64_t> autocapture_endpoint_threshold_ms;

  // Limits of auto-capture (also POST /debug/pprof/autocapture?max_captures=N
  // &max_bytes=N&captures_per_second=X&hang_multiple=N). Slow requests'
  // captures kept, 1..1000, oldest dropped first; env
  // INPROF_AUTOCAPTURE_MAX_CAPTURES.
  int autocapture_max_captures = 16;
  // Their bytes together, 1 MiB..1 GiB; env INPROF_AUTOCAPTURE_MAX_BYTES.
  int64_t autocapture_max_bytes = int64_t{32} << 20;
  // Captures begun per second in the long run (two seconds' worth at once),
  // 0.01..100: a storm of slow requests is not a storm of profiling work.
  // Env INPROF_AUTOCAPTURE_PER_SECOND.
  double autocapture_captures_per_second = 2;
  // A request still running at this multiple of its threshold is captured
  // live (a hang), and the capture completed in place when it ends; 0:
  // never, else 2..1000. Env INPROF_AUTOCAPTURE_HANG_MULTIPLE.
  int autocapture_hang_multiple = 10;
  // Off (0) by default: each slow request's capture also holds a
  // whole-process CPU profile of the this-many ms after the request ended
  // (/debug/pprof/captures/ID?process=1), for slowness that came from the
  // rest of the process; one at a time, 0..60000. Also POST
  // /debug/pprof/autocapture?process_profile_ms=N; env
  // INPROF_AUTOCAPTURE_PROCESS_PROFILE_MS.
  int autocapture_process_profile_ms = 0;

  // Exposure (README, "Security"). The agent answers only to requests whose
  // Host header, if any, names 127.0.0.1, localhost, [::1], `host`, or one
  // of these names (with or without a port); others are refused with 403
  // (DNS rebinding). "*" allows any name. Env: INPROF_ALLOWED_HOSTS, names
  // separated by commas.
  std::vector<std::string> allowed_hosts;

  // When not empty, every request must carry this token, as
  // `Authorization: Bearer TOKEN`, as the password of HTTP Basic
  // authentication (`go tool pprof http://inprof:TOKEN@127.0.0.1:6060/...`,
  // and browsers, which ask for it), or as a `token=TOKEN` query parameter
  // (/debug/pprof/ui?token=TOKEN). Otherwise 401. Letters, digits and -._~
  // only, at most 256 characters. Env: INPROF_TOKEN.
  std::string token;

  // Connections open at once, waiting or being served; one more is answered
  // 503 and closed at once. The agent also keeps to an eighth of the
  // process's RLIMIT_NOFILE, so that the host keeps most of its file
  // descriptors whatever clients do. 1..4096. Env: INPROF_MAX_CONNECTIONS.
  int max_connections = 64;

  // Set by FromEnvironment() when a variable could not be parsed; Start()
  // fails with this message. Empty when all is well.
  std::string env_error;
};

// Agent
//
// A running agent: an HTTP server on its own thread plus the CPU sampler.
// Obtain one with Start(); destroying it (or moving a new value into it)
// stops the server, stops every timer, and restores the signal handler that
// was installed before Start().
//
// Ownership: move-only handle; the process may hold at most one running
// Agent at a time (Start() fails with kFailedPrecondition otherwise).
//
// Thread safety: thread-safe; destroy it from one thread only.
class INPROF_EXPORT Agent {
 public:
  // Binds the HTTP port, installs the CPU-profiling signal handler and starts
  // serving. On failure (port in use, bad address, signal already handled by
  // the host, invalid options) returns a non-OK status with a one-line reason
  // and leaves no thread, timer or signal handler behind.
  [[nodiscard]] static StatusOr<Agent> Start(const Options& options);

  Agent(Agent&&) noexcept;
  Agent& operator=(Agent&&) noexcept;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  ~Agent();

  // The TCP port actually bound.
  int port() const;

  // "http://127.0.0.1:6060" — the base URL of the endpoints.
  std::string url() const;

  // Changes the heap sampling rate (see Options::heap_sample_rate); takes
  // effect at each thread's next sample. kUnimplemented when the process
  // does not run on tcmalloc, kInvalidArgument for a rate out of range.
  [[nodiscard]] Status SetHeapSampleRate(int64_t bytes);

  // Change the contention sampling (see Options::block_profile_rate and
  // Options::mutex_profile_fraction); take effect at the next contended
  // lock. kInvalidArgument for a value out of range.
  [[nodiscard]] Status SetBlockProfileRate(int64_t nanos);
  [[nodiscard]] Status SetMutexProfileFraction(int64_t fraction);

  // Stops everything now; the destructor does the same. Idempotent.
  void Stop();

  class Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inprof

#endif  // INPROF_AGENT_H_
