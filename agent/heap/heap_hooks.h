// The per-allocation entry points of the heap sampler, shared by the two
// ways allocations reach it: tcmalloc's MallocHook hooks (installed by
// HeapSampler when nothing better is linked) and the malloc shim
// (inprof::malloc_shim, agent/heap/malloc_shim.cc), which sits in front of
// tcmalloc's own fast path and costs far less. The fast paths are inline:
// a thread-local countdown and a branch per allocation, a filter lookup per
// free.
#ifndef INPROF_AGENT_HEAP_HEAP_HOOKS_H_
#define INPROF_AGENT_HEAP_HEAP_HOOKS_H_

// SIGNAL CONTEXT. Everything here runs inside malloc and free; see
// agent/unwind/unwind.h for the rules.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "agent/heap/heap_tables.h"

// Bytes this thread may still allocate before its next sample. Zero on a
// new thread, so its first allocation goes to the slow path, which draws.
// (__thread: no dynamic initialization, so no TLS wrapper call.)
extern __thread int64_t inprof_heap_countdown
    __attribute__((tls_model("initial-exec")));

// Defined by the malloc shim only: its presence (a weak reference in the
// agent) tells the agent not to install tcmalloc's hooks as well.
extern "C" __attribute__((weak)) const int inprof_malloc_shim_linked;

namespace inprof::internal {

// The tables frees are checked against; null until a sampler starts.
extern std::atomic<HeapTables*> g_heap_tables;

// Takes a sample if this thread's countdown ran out. `caller` is a return
// address in the allocating stack: frames inside it (the hook machinery)
// are not recorded.
void AllocationSlowPath(const void* ptr, size_t size, uint64_t caller) noexcept;

inline void OnAllocation(const void* ptr, size_t size,
                         uint64_t caller) noexcept {
  inprof_heap_countdown -= static_cast<int64_t>(size);
  if (__builtin_expect(inprof_heap_countdown > 0, 1)) return;
  AllocationSlowPath(ptr, size, caller);
}

inline void OnFree(const void* ptr) noexcept {
  HeapTables* tables = g_heap_tables.load(std::memory_order_relaxed);
  if (ptr == nullptr || tables == nullptr || !tables->MaybeLive(ptr)) return;
  tables->FreeIfLive(ptr);
}

inline bool MallocShimLinked() { return &inprof_malloc_shim_linked != nullptr; }

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_HOOKS_H_
