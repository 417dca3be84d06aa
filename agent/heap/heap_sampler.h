// HeapSampler samples the process's allocations as Go samples its heap
// (ARCHITECTURE.md decision 4, pprof-spec.md §2.10): each thread counts down
// a random number of bytes, exponentially distributed with mean `rate`; the
// allocation that crosses zero is sampled with its stack and remembered until
// freed. Each sample carries its weight 1 / (1 - exp(-size / rate)), the
// inverse of its probability of being sampled, so totals are unbiased even
// after the rate changes.
//
// Allocations reach it through the malloc front (malloc_front.cc, in front
// of any allocator) when the front is the process's malloc; otherwise
// through tcmalloc's MallocHook new/delete hooks, installed at Start(). The
// per-allocation cost is a thread-local decrement and a branch; the per-free
// cost a lookup in a 64 KiB filter. No environment variable is needed.
//
// Ownership: at most one HeapSampler per process (the hooks are global);
// borrows the TcmallocApi (null when the process does not run on tcmalloc)
// and the StackWalker, which must outlive it. The tables (HeapTables) are
// process-lifetime; Start() clears them.
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_HEAP_HEAP_SAMPLER_H_
#define INPROF_AGENT_HEAP_HEAP_SAMPLER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "agent/heap/heap_hooks.h"
#include "agent/heap/heap_tables.h"
#include "agent/heap/tcmalloc_api.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/status.h"

namespace inprof::internal {

// Go's runtime.MemProfileRate default.
inline constexpr int64_t kDefaultHeapSampleRate = 512 * 1024;

// Which way allocations reach the sampler.
enum class AllocationSource {
  kAuto,           // the malloc front if it is in use, else tcmalloc's hooks
  kTcmallocHooks,  // tcmalloc's hooks only (tests drive them by hand)
};

struct HeapSamplerStats {
  uint64_t samples = 0;     // allocations sampled
  uint64_t untracked = 0;   // sampled, but the live table was full
  uint64_t overflowed = 0;  // sampled into the overflow bucket
  uint64_t live_blocks = 0;
  uint64_t nanos_in_sampler = 0;  // time spent taking samples
};

class HeapSampler {
 public:
  // Starts sampling. `rate`: mean bytes between samples; 1 = every
  // allocation; 0 = off. Without the front, tcmalloc's hooks are installed,
  // but not while the rate is 0 (the hooks alone cost every malloc its fast
  // path); once installed, they stay until the sampler is destroyed, so that
  // frees of sampled blocks are still tracked after set_rate(0).
  // Unimplemented when neither the front nor `tcmalloc` is there.
  [[nodiscard]] static StatusOr<std::unique_ptr<HeapSampler>> Start(
      const TcmallocApi* tcmalloc, StackWalker* walker, int64_t rate,
      AllocationSource source = AllocationSource::kAuto);

  HeapSampler(const HeapSampler&) = delete;
  HeapSampler& operator=(const HeapSampler&) = delete;
  // Removes the hooks and waits for hooks still running.
  ~HeapSampler();

  // Takes effect at each thread's next sample.
  [[nodiscard]] Status set_rate(int64_t rate);
  int64_t rate() const { return rate_.load(std::memory_order_relaxed); }

  const HeapTables& tables() const { return *tables_; }
  // How allocations reach the sampler: "malloc front" when the front is the
  // process's malloc, else "tcmalloc hooks".
  const char* source() const {
    return use_front_ ? "malloc front" : "tcmalloc hooks";
  }
  HeapSamplerStats stats() const;

 private:
  HeapSampler(const TcmallocApi* tcmalloc, StackWalker* walker,
              HeapTables* tables, int64_t rate, bool use_front);
  // Installs tcmalloc's hooks unless they are in or the front is in use.
  [[nodiscard]] Status InstallHooksLocked();

  friend void SampleAllocation(HeapSampler&, const void*, uint64_t,
                               uint64_t) noexcept;

  const TcmallocApi* const tcmalloc_;
  const bool use_front_;  // else tcmalloc's hooks
  StackWalker* const walker_;
  HeapTables* const tables_;
  std::atomic<int64_t> rate_;
  std::mutex hooks_mu_;
  bool hooks_installed_ = false;  // guarded by hooks_mu_
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> untracked_{0};
  std::atomic<uint64_t> nanos_{0};
};

// Validates a sampling rate for Options, the environment and the HTTP
// endpoint: 0 (off) .. 1 GiB.
[[nodiscard]] Status ValidateHeapSampleRate(int64_t rate);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_SAMPLER_H_
