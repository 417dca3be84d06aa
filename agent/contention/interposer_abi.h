// The contract between the pthread interposer (agent/contention/
// interposer.cc: linked into the program as inprof::contention_interposer, or
// preloaded as libinprof_contention.so) and the agent. The interposer only
// forwards; the agent finds it by name at start and plugs its hooks in, so
// the two can come from separate builds, and a process whose agent never
// starts just runs the real lock functions.
//
// A plain C layout with a version number: bump kInterposerAbi when it
// changes, and the agent ignores an interposer of another version.
#ifndef INPROF_AGENT_CONTENTION_INTERPOSER_ABI_H_
#define INPROF_AGENT_CONTENTION_INTERPOSER_ABI_H_

#include <atomic>
#include <cstdint>

extern "C" {

// Room for the agent's per-wait state, on the waiting thread's stack.
struct InprofWaitToken {
  uint64_t words[4];
};

// Implemented by the agent; see agent/contention/contention_profiler.h for
// the meaning of each (BeginContentionWait, EndContentionWait, ChargeUnlock,
// RecordMutexDelay). All are async-signal-safe and never block.
struct InprofContentionHooks {
  void (*begin_wait)(const void* lock, InprofWaitToken* token);
  void (*end_wait)(InprofWaitToken* token, uint64_t caller);
  uint64_t (*charge_unlock)(const void* lock);
  void (*record_mutex_delay)(uint64_t delay_nanos, uint64_t caller);
};

struct InprofContentionInterposer {
  uint32_t abi_version;
  const char* how;  // "linked" or "preloaded"
  // Null until an agent starts; the wrappers read it on every call.
  std::atomic<const InprofContentionHooks*> hooks;
};

}  // extern "C"

namespace inprof::internal {
inline constexpr uint32_t kInterposerAbi = 1;
inline constexpr char kInterposerSymbol[] = "inprof_contention_interposer_v1";
}  // namespace inprof::internal

#endif  // INPROF_AGENT_CONTENTION_INTERPOSER_ABI_H_
