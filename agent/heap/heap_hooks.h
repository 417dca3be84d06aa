// The per-allocation entry points of the heap sampler, shared by the two
// ways allocations reach it: the malloc front (agent/heap/malloc_front.cc),
// which sits in front of whatever allocator the process runs on, and
// tcmalloc's MallocHook hooks, installed by HeapSampler only when the front
// is not the process's malloc (tcmalloc preloaded before
// libinprof_preload.so): hooks cost every malloc tcmalloc's fast path. The
// fast paths are inline: a thread-local countdown and a branch per
// allocation, one load from a static 8 KiB granule map per free.
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

namespace inprof::internal {

// The tables frees are checked against; null until a sampler starts.
extern std::atomic<HeapTables*> g_heap_tables;

// Which way allocations reach the sampler (HeapSampler::Start decides):
// true for the malloc front, false for tcmalloc's hooks. Allocations coming
// the other way are not sampled.
extern std::atomic<bool> g_sample_front;

// The allocation path's own functions (the malloc front's entry points and
// the sampler's slow path) are placed in one section, so that a sample's
// stack starts at the first frame outside it without the fast paths having
// to carry their return address.
#define INPROF_HEAP_PATH __attribute__((section("inprof_heap_path")))

// Whether `pc` is in a function marked INPROF_HEAP_PATH.
bool InHeapPath(uint64_t pc) noexcept;

// Takes a sample if this thread's countdown ran out. `caller` is a return
// address in the allocating stack: frames inside it (the hook machinery)
// are not recorded; 0 (the front) drops the frames in INPROF_HEAP_PATH
// functions instead. `from_front`: called by the malloc front, not a hook.
INPROF_HEAP_PATH void AllocationSlowPath(const void* ptr, size_t size,
                                         uint64_t caller,
                                         bool from_front) noexcept;

inline void OnAllocation(const void* ptr, size_t size, uint64_t caller,
                         bool from_front) noexcept {
  inprof_heap_countdown -= static_cast<int64_t>(size);
  if (__builtin_expect(inprof_heap_countdown > 0, 1)) return;
  AllocationSlowPath(ptr, size, caller, from_front);
}

inline void OnFree(const void* ptr) noexcept {
  if (__builtin_expect(!InSampledGranule(ptr), 1)) return;
  HeapTables* tables = g_heap_tables.load(std::memory_order_relaxed);
  if (ptr == nullptr || tables == nullptr || !tables->MaybeLive(ptr)) return;
  tables->FreeIfLive(ptr);
}

// False in builds with AddressSanitizer or ThreadSanitizer, which have no
// front (malloc_front.cc says why).
bool MallocFrontCompiledIn();

// Whether the front's malloc and operator new are the process's (not
// another object's before ours). Not async-signal-safe (dlsym, once).
bool MallocFrontInUse();

// Whether the front's C++ operators call the next malloc and free directly
// because the next operators are libstdc++'s (set by MallocFrontInUse()).
bool MallocFrontSkipsStandardOperators();

// Whether the front's C++ operators call the next allocator's own operators
// directly, with nothing around the call, because they come from that
// allocator (tcmalloc's) and never reach our malloc (set by
// MallocFrontInUse()).
bool MallocFrontCallsNextOperatorsDirectly();
// Whether the front's operator new of that NextFn id (next_allocator.h)
// calls the next one directly: its probe at start found that it does not
// allocate through our malloc family (jemalloc's aligned news call
// aligned_alloc, and keep the scope that stops a second count).
bool MallocFrontCallsNextNewDirectly(int id);

// The malloc the front forwards to (tcmalloc's, glibc's...).
void* MallocFrontNextMalloc();

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_HEAP_HOOKS_H_
