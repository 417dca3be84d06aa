// Marks the agent's own threads (HTTP workers, the map refresher, the CPU
// collector), so that the contention profiles show the host's waiting, not
// the agent's idle workers waiting for requests; and marks the stretches of
// agent code on any thread (unwinding a stack, recording a sample) during
// which the lock hooks must let pthread locks through untimed: libunwind's
// fallback path takes a lock, and timing it from inside a signal handler
// could meet a wait-board slot that the interrupted code holds.
//
// SIGNAL CONTEXT. Everything here is read or set inside signal handlers and
// lock slow paths: plain initial-exec TLS loads and stores.
#ifndef INPROF_AGENT_BASE_AGENT_THREAD_H_
#define INPROF_AGENT_BASE_AGENT_THREAD_H_

#include <sys/prctl.h>

namespace inprof::internal {

inline __attribute__((
    tls_model("initial-exec"))) thread_local bool t_agent_thread = false;

// Marks and names the calling thread (`name`: at most 15 characters,
// "inprof-..."). The agent's threads call it through StartAgentThread
// (agent_thread_start.h, which says why a thread names itself).
inline void MarkAgentThread(const char* name) noexcept {
  t_agent_thread = true;
  prctl(PR_SET_NAME, name, 0, 0, 0);
}

inline bool IsAgentThread() noexcept { return t_agent_thread; }

// The label CPU and goroutine profiles put, with the value "true", on the
// samples of those threads, so that `-tagignore` can leave the agent out.
inline constexpr char kAgentThreadLabel[] = "inprof_agent_thread";

inline __attribute__((
    tls_model("initial-exec"))) thread_local bool t_in_agent_code = false;

// True while this thread runs agent code that the lock hooks must ignore.
inline bool InAgentCode() noexcept { return t_in_agent_code; }

// Marks the current scope as agent code (nests). Async-signal-safe.
class AgentCodeScope {
 public:
  AgentCodeScope() noexcept : was_(t_in_agent_code) { t_in_agent_code = true; }
  ~AgentCodeScope() { t_in_agent_code = was_; }
  AgentCodeScope(const AgentCodeScope&) = delete;
  AgentCodeScope& operator=(const AgentCodeScope&) = delete;

 private:
  bool was_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_AGENT_THREAD_H_
