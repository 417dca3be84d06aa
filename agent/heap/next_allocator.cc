#include "agent/heap/next_allocator.h"

// SIGNAL CONTEXT. Runs inside malloc, possibly before the C library is fully
// initialized: no allocation (the arena is static), no locks, no stdio; the
// one dlsym pass is marked. See agent/unwind/unwind.h for the rules.

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "agent/base/raw_log.h"

namespace inprof::internal {

const char* const kNextFnNames[kNextFnCount] = {
    "malloc",
    "free",
    "calloc",
    "realloc",
    "posix_memalign",
    "memalign",
    "aligned_alloc",
    "valloc",
    "pvalloc",
    "malloc_usable_size",
    "_Znwm",
    "_Znam",
    "_ZnwmRKSt9nothrow_t",
    "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv",
    "_ZdaPv",
    "_ZdlPvm",
    "_ZdaPvm",
    "_ZdlPvRKSt9nothrow_t",
    "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvSt11align_val_t",
    "_ZdaPvSt11align_val_t",
    "_ZdlPvmSt11align_val_t",
    "_ZdaPvmSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

void* g_next_fns[kNextFnCount] = {};
std::atomic<bool> g_next_ready{false};
std::atomic<void* (*)(size_t) noexcept> g_next_malloc{nullptr};
std::atomic<void (*)(void*) noexcept> g_next_free{nullptr};
alignas(4096) char g_bootstrap_arena[kBootstrapArenaBytes];

namespace {

enum ResolveState : int { kUnresolved, kResolving, kResolved };
std::atomic<int> g_resolve_state{kUnresolved};

std::atomic<size_t> g_arena_used{0};
std::atomic<uint64_t> g_arena_blocks{0};

// Each arena block is preceded by its size.
constexpr size_t kArenaHeader = 16;

// The C functions without which nothing can be forwarded.
bool HasTheEssentials(void* const* fns) {
  return fns[kMalloc] != nullptr && fns[kFree] != nullptr &&
         fns[kCalloc] != nullptr && fns[kRealloc] != nullptr &&
         fns[kPosixMemalign] != nullptr;
}

}  // namespace

bool ResolveNextAllocator() noexcept {
  int state = kUnresolved;
  if (!g_resolve_state.compare_exchange_strong(state, kResolving,
                                               std::memory_order_acq_rel)) {
    return state == kResolved;
  }
  // NOT SIGNAL CONTEXT BEGIN: the one lookup, at the process's first
  // allocation; its own allocations (dlsym's) reach the arena, because the
  // state says kResolving.
  void* fns[kNextFnCount];
  for (int i = 0; i < kNextFnCount; ++i) {
    fns[i] = dlsym(RTLD_NEXT, kNextFnNames[i]);
  }
  // NOT SIGNAL CONTEXT END
  if (!HasTheEssentials(fns)) {
    RawLog(
        "inprof: no allocator after the malloc front (dlsym(RTLD_NEXT, "
        "\"malloc\") found none); aborting");
    abort();
  }
  for (int i = 0; i < kNextFnCount; ++i) g_next_fns[i] = fns[i];
  g_next_malloc.store(
      reinterpret_cast<void* (*)(size_t) noexcept>(fns[kMalloc]),
      std::memory_order_release);
  g_next_free.store(reinterpret_cast<void (*)(void*) noexcept>(fns[kFree]),
                    std::memory_order_release);
  g_next_ready.store(true, std::memory_order_release);
  g_resolve_state.store(kResolved, std::memory_order_release);
  return true;
}

void* ArenaAllocate(size_t size, size_t alignment) noexcept {
  if (alignment < kArenaHeader) alignment = kArenaHeader;
  const uintptr_t base = reinterpret_cast<uintptr_t>(g_bootstrap_arena);
  size_t used = g_arena_used.load(std::memory_order_relaxed);
  for (;;) {
    uintptr_t start = base + used + kArenaHeader;
    uintptr_t block = (start + alignment - 1) & ~(uintptr_t{alignment} - 1);
    if (block < start || block - base > kBootstrapArenaBytes ||
        size > kBootstrapArenaBytes - (block - base)) {
      errno = ENOMEM;
      return nullptr;
    }
    size_t end = block - base + size;
    if (g_arena_used.compare_exchange_weak(used, end,
                                           std::memory_order_relaxed)) {
      *reinterpret_cast<size_t*>(block - kArenaHeader) = size;
      g_arena_blocks.fetch_add(1, std::memory_order_relaxed);
      return reinterpret_cast<void*>(block);  // .bss, never reused: zeroed
    }
  }
}

size_t ArenaBlockSize(const void* ptr) noexcept {
  return *reinterpret_cast<const size_t*>(static_cast<const char*>(ptr) -
                                          kArenaHeader);
}

ArenaStats BootstrapArenaStats() noexcept {
  ArenaStats stats;
  stats.blocks = g_arena_blocks.load(std::memory_order_relaxed);
  stats.bytes = g_arena_used.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace inprof::internal
