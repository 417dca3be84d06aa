// The calling thread's request record, read by the samplers and stamped on
// every sample (docs/ARCHITECTURE.md): the label-set id (0: no labels; an
// index into agent/labels/label_registry.h) and the request id (0: not in a
// request). inprof::RequestScope and inprof::AdoptRequest set both.
#ifndef INPROF_AGENT_BASE_THREAD_LABELS_H_
#define INPROF_AGENT_BASE_THREAD_LABELS_H_

// SIGNAL CONTEXT. Code in this file runs inside the CPU-profiling signal
// handler, on any thread, at any instruction of the host: inside malloc,
// inside libunwind, during thread exit. Rules:
//   - no allocation (no new/malloc, no std::string/vector growth, no
//   std::function)
//   - no locks; lock-free atomics only
//   - no stdio/iostream/fmt; log with RawLog() (write(2) to stderr)
//   - errno is saved and restored by the handler entry point
//   - every function is noexcept and does not throw
//   - thread_local only of trivial types, initial-exec TLS model
// Checked by tests/lint/signal_context_test and the ThreadSanitizer job.

#include <atomic>
#include <cstdint>

namespace inprof::internal {

// Initial-exec TLS: reading it is a plain load, safe in a signal handler
// (the general-dynamic model may call __tls_get_addr, which can allocate).
inline __attribute__((
    tls_model("initial-exec"))) thread_local uint64_t t_label_set = 0;

// Async-signal-safe.
inline uint64_t CurrentLabelSet() noexcept { return t_label_set; }

// Async-signal-safe.
inline void SetCurrentLabelSet(uint64_t id) noexcept { t_label_set = id; }

inline __attribute__((
    tls_model("initial-exec"))) thread_local uint64_t t_request_id = 0;

// Async-signal-safe.
inline uint64_t CurrentRequestId() noexcept { return t_request_id; }

// Async-signal-safe.
inline void SetCurrentRequestId(uint64_t id) noexcept { t_request_id = id; }

// When the thread's outermost request started (MonotonicNanos), or 0 when
// requests are not being timed (no observer: agent/labels/request_observer.h).
inline __attribute__((
    tls_model("initial-exec"))) thread_local uint64_t t_request_start_ns = 0;

// When the thread's wall time was last accounted for (MonotonicNanos): set
// as it starts working for a request (its own or an adopted one), advanced
// by each wall sample, which stands for the time since (wall_signal.h). A
// wall signal the kernel merged into a pending one is then not time lost,
// only resolution: the next sample covers the gap. Atomic because the
// handler interrupts the thread that writes it (same thread: relaxed).
inline __attribute__((
    tls_model("initial-exec"))) thread_local std::atomic<uint64_t>
    t_wall_mark_ns{0};

// Async-signal-safe.
inline void MarkWallTime(uint64_t now_ns) noexcept {
  t_wall_mark_ns.store(now_ns, std::memory_order_relaxed);
}

// The wall time since the mark, advancing it to `now_ns`; 0 without a mark
// or if the clock did not move. Async-signal-safe.
inline uint64_t TakeWallTimeSinceMark(uint64_t now_ns) noexcept {
  const uint64_t mark =
      t_wall_mark_ns.exchange(now_ns, std::memory_order_relaxed);
  return mark != 0 && now_ns > mark ? now_ns - mark : 0;
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_THREAD_LABELS_H_
