// The allocator behind the malloc front (agent/heap/malloc_front.cc): the
// next definition of each allocation function after the object the front
// lives in (the program, libinprof.so or libinprof_preload.so), found with
// dlsym(RTLD_NEXT) on first use. That is tcmalloc when it is linked or
// preloaded after us, jemalloc likewise, a sanitizer's runtime, else glibc.
//
// Until the lookup is done (the first allocation of the process, usually
// inside the dynamic loader), and for the lookup's own allocations (dlsym may
// allocate), blocks come from a static bootstrap arena. Freeing an arena
// block does nothing; realloc moves it to the next allocator. Other threads
// that allocate while the lookup runs use the arena too instead of waiting,
// so that a thread holding the loader's lock can never wait for one that
// needs it.
//
// Thread safety: all functions are thread-safe and lock-free.
#ifndef INPROF_AGENT_HEAP_NEXT_ALLOCATOR_H_
#define INPROF_AGENT_HEAP_NEXT_ALLOCATOR_H_

// SIGNAL CONTEXT. Everything here runs inside malloc and free; see
// agent/unwind/unwind.h for the rules.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace inprof::internal {

// The functions the front forwards to, by index into the resolved table.
// The C++ operators forward to the next operator, not to malloc, so that the
// next allocator's own rules hold (a sanitizer's new/delete mismatch
// reports, tcmalloc's sized delete).
enum NextFn : int {
  kMalloc,
  kFree,
  kCalloc,
  kRealloc,
  kPosixMemalign,
  kMemalign,
  kAlignedAlloc,
  kValloc,
  kPvalloc,
  kMallocUsableSize,
  kNew,                     // operator new(size_t)
  kNewArray,                // operator new[](size_t)
  kNewNothrow,              // operator new(size_t, nothrow_t)
  kNewArrayNothrow,         // operator new[](size_t, nothrow_t)
  kNewAligned,              // operator new(size_t, align_val_t)
  kNewArrayAligned,         // operator new[](size_t, align_val_t)
  kNewAlignedNothrow,       // operator new(size_t, align_val_t, nothrow_t)
  kNewArrayAlignedNothrow,  // operator new[](size_t, align_val_t, nothrow_t)
  kDelete,                  // operator delete(void*)
  kDeleteArray,
  kDeleteSized,  // operator delete(void*, size_t)
  kDeleteArraySized,
  kDeleteNothrow,  // operator delete(void*, nothrow_t)
  kDeleteArrayNothrow,
  kDeleteAligned,  // operator delete(void*, align_val_t)
  kDeleteArrayAligned,
  kDeleteSizedAligned,  // operator delete(void*, size_t, align_val_t)
  kDeleteArraySizedAligned,
  kDeleteAlignedNothrow,  // operator delete(void*, align_val_t, nothrow_t)
  kDeleteArrayAlignedNothrow,
  kNextFnCount
};

// Symbol names, indexed by NextFn.
extern const char* const kNextFnNames[kNextFnCount];

// The resolved table; valid once g_next_ready is true. An entry is null when
// no object after the front defines that function (the front then builds it
// from the C functions).
extern void* g_next_fns[kNextFnCount];
extern std::atomic<bool> g_next_ready;

// The next malloc and free on their own, for the fast paths: one load
// each, null until the table is ready. (noexcept: a call to either can be a
// tail call.)
extern std::atomic<void* (*)(size_t) noexcept> g_next_malloc;
extern std::atomic<void (*)(void*) noexcept> g_next_free;

// Resolves the table if no thread has; true once it is ready. False while
// this or another thread is resolving it: the caller uses the arena.
bool ResolveNextAllocator() noexcept;

// The next allocator's function `id`, or null before the table is ready
// (and for entries the next objects lack).
template <typename Fn>
inline Fn NextFunction(NextFn id) noexcept {
  if (__builtin_expect(!g_next_ready.load(std::memory_order_acquire), 0) &&
      !ResolveNextAllocator()) {
    return nullptr;
  }
  return reinterpret_cast<Fn>(g_next_fns[id]);
}

// --- The bootstrap arena
// ------------------------------------------------------

inline constexpr size_t kBootstrapArenaBytes = size_t{1} << 20;
// Hidden: its address is a constant offset from the code, not a load.
extern char g_bootstrap_arena[kBootstrapArenaBytes]
    __attribute__((visibility("hidden")));

// A zeroed block of `size` bytes aligned to `alignment` (a power of two; at
// least 16 is used), or null with errno ENOMEM when the arena is spent.
void* ArenaAllocate(size_t size, size_t alignment) noexcept;

inline bool InArena(const void* ptr) noexcept {
  return reinterpret_cast<uintptr_t>(ptr) -
             reinterpret_cast<uintptr_t>(g_bootstrap_arena) <
         kBootstrapArenaBytes;
}

// The size an arena block was allocated with.
size_t ArenaBlockSize(const void* ptr) noexcept;

struct ArenaStats {
  uint64_t blocks = 0;  // arena blocks handed out since the process started
  uint64_t bytes = 0;   // arena bytes used, padding and headers included
};
ArenaStats BootstrapArenaStats() noexcept;

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HEAP_NEXT_ALLOCATOR_H_
