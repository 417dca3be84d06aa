// Marks the agent's own threads (HTTP workers, the map refresher, the CPU
// collector), so that the contention profiles show the host's waiting, not
// the agent's idle workers waiting for requests.
//
// SIGNAL CONTEXT. IsAgentThread() is read inside lock slow paths: a plain
// initial-exec TLS load.
#ifndef INPROF_AGENT_BASE_AGENT_THREAD_H_
#define INPROF_AGENT_BASE_AGENT_THREAD_H_

namespace inprof::internal {

inline __attribute__((
    tls_model("initial-exec"))) thread_local bool t_agent_thread = false;

// Call first thing on a thread the agent creates.
inline void MarkAgentThread() noexcept { t_agent_thread = true; }

inline bool IsAgentThread() noexcept { return t_agent_thread; }

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_AGENT_THREAD_H_
