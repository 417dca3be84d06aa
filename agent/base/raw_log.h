// RawLog writes one line to stderr with write(2): no allocation, no locks, no
// stdio, so it may be called from the signal handler and allocation hooks.
#ifndef INPROF_AGENT_BASE_RAW_LOG_H_
#define INPROF_AGENT_BASE_RAW_LOG_H_

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

namespace inprof::internal {

// Writes "inprof: " + message + "\n" to stderr, truncated at 256 bytes.
// Async-signal-safe.
void RawLog(const char* message) noexcept;

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_RAW_LOG_H_
