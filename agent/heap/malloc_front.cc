// The malloc front: malloc, free, the rest of the C allocation functions and
// every operator new and delete, defined by the agent so that heap samples
// are taken with whatever allocator the process runs on (glibc's, tcmalloc,
// jemalloc), without MallocHook and without relinking the allocator. Each
// function counts the allocation down towards the thread's next sample
// (heap_hooks.h: a thread-local decrement and a branch; a filter lookup per
// free) and forwards to the same function of the next allocator
// (next_allocator.h).
//
// It is part of libinprof (pulled in by HeapSampler, which names
// MallocFrontInUse()) and of libinprof_preload.so. It takes effect when its
// malloc is the process's malloc: linked into the program (always first), or
// a shared library loaded before the allocator's. MallocFrontInUse() checks
// that at run time; when it does not hold (tcmalloc preloaded before
// libinprof_preload.so), the sampler falls back to tcmalloc's hooks.
//
// Calls that reach the front twice for one allocation (libstdc++'s operator
// new calls malloc, which is ours again) are counted once, by the outer
// call: the operator restores the countdown the inner call spent, and
// t_in_operator keeps the inner call from sampling. A free reaching the
// front twice is looked up twice; the second finds nothing.
//
// The fast paths are what every allocation pays (BENCHMARKS.md, "Heap
// sampling against a build without inprof"): malloc is the next malloc, a
// thread-local decrement and a branch; free is one load from a static granule
// map (heap_tables.h) and the next free. Everything else is out of line.
//
// Not in a build with AddressSanitizer or ThreadSanitizer: their runtimes
// are the process's allocator themselves, and they call malloc while they
// initialize, before instrumented code (the sampler's) may run. There the
// front is absent and MallocFrontInUse() is false.
//
// SIGNAL CONTEXT. These functions are malloc: no allocation of our own, no
// locks, no stdio. See agent/unwind/unwind.h for the rules.

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "agent/heap/heap_hooks.h"
#include "agent/heap/next_allocator.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)

namespace inprof::internal {
bool MallocFrontCompiledIn() { return false; }
bool MallocFrontInUse() { return false; }
bool MallocFrontSkipsStandardOperators() { return false; }
bool MallocFrontCallsNextOperatorsDirectly() { return false; }
bool MallocFrontCallsNextNewDirectly(int) { return false; }
void* MallocFrontNextMalloc() { return nullptr; }
}  // namespace inprof::internal

#else  // the front

namespace inprof::internal {
namespace {

using MallocFn = void* (*)(size_t);
using FreeFn = void (*)(void*) noexcept;

// The next malloc and free, set once MallocFrontInUse() found that every
// next C++ operator is libstdc++'s own, which is malloc or aligned_alloc
// with the new-handler loop, and free: the front's operators then do
// exactly that with the next allocator's C functions, one call instead of
// three (ours, libstdc++'s, ours again for its malloc). Blocks from either
// way free the same way. Null: forward to the next operators.
std::atomic<MallocFn> g_operator_malloc{nullptr};
std::atomic<FreeFn> g_operator_free{nullptr};

// The next allocator's C++ operators that the front's operators call
// directly, by NextFn; null for the others. Set once MallocFrontInUse() found
// that the next operators are an allocator's own (tcmalloc's, jemalloc's:
// defined by the object that defines the next malloc): every delete, and the
// operator news a probe found not to come back through our malloc family
// (jemalloc's aligned news call aligned_alloc: they keep the scope, or
// their blocks would be counted twice). Through the scope and two more
// calls, the operators cost 3-5 % of the CPU on the mixed benchmark on
// tcmalloc (BENCHMARKS.md, "Heap sampling against a build without
// inprof"). One load per operator says which way it goes.
std::atomic<void*> g_direct_fns[kNextFnCount] = {};

// Set while a C++ operator of the front runs the next allocator's operator.
__attribute__((tls_model("initial-exec"))) thread_local bool t_in_operator =
    false;

// Around the next allocator's operator: what it allocates through our
// malloc is not counted (the countdown is put back) and not sampled.
class OperatorScope {
 public:
  OperatorScope() noexcept
      : was_(t_in_operator), countdown_(inprof_heap_countdown) {
    t_in_operator = true;
  }
  ~OperatorScope() {
    inprof_heap_countdown = countdown_;
    t_in_operator = was_;
  }
  OperatorScope(const OperatorScope&) = delete;
  OperatorScope& operator=(const OperatorScope&) = delete;

 private:
  bool was_;
  int64_t countdown_;
};

// The countdown ran out: sample, unless this is an operator's inner call
// (its scope puts the countdown back) or the allocation failed (the next
// allocation samples). The sample's stack starts below INPROF_HEAP_PATH.
INPROF_HEAP_PATH __attribute__((noinline)) void* CountedSlowPath(
    void* ptr, size_t size) noexcept {
  if (ptr != nullptr && !t_in_operator) {
    AllocationSlowPath(ptr, size, /*caller=*/0, /*from_front=*/true);
  }
  return ptr;
}

inline void* Counted(void* ptr, size_t size) noexcept {
  inprof_heap_countdown -= static_cast<int64_t>(size);
  if (__builtin_expect(inprof_heap_countdown > 0, 1)) return ptr;
  return CountedSlowPath(ptr, size);
}

// Counts `size` before the allocation when that does not end the
// countdown, so that the allocator's call can be the last thing the front
// does (a tail call: no frame, nothing after it returns). False: nothing is
// counted, and the caller takes the way through Counted, which samples.
// (An allocation that then fails has still been counted: the next sample
// comes that much earlier, which no profile can tell.)
__attribute__((always_inline)) inline bool CountedAhead(size_t size) noexcept {
  const int64_t left = inprof_heap_countdown - static_cast<int64_t>(size);
  if (__builtin_expect(left <= 0, 0)) return false;
  inprof_heap_countdown = left;
  return true;
}

inline void Uncounted(void* ptr) noexcept { OnFree(ptr); }

using CallocFn = void* (*)(size_t, size_t);
using ReallocFn = void* (*)(void*, size_t);
using PosixMemalignFn = int (*)(void**, size_t, size_t);
using MemalignFn = void* (*)(size_t, size_t);
using UsableSizeFn = size_t (*)(void*);

// From the auxiliary vector: sysconf may allocate.
size_t PageSize() noexcept { return getauxval(AT_PAGESZ); }

// An aligned block from the next allocator, by the first function it has.
void* NextAligned(NextFn preferred, size_t alignment, size_t size) noexcept {
  if (auto fn = NextFunction<MemalignFn>(preferred)) return fn(alignment, size);
  auto posix = NextFunction<PosixMemalignFn>(kPosixMemalign);
  if (posix == nullptr) return ArenaAllocate(size, alignment);
  void* ptr = nullptr;
  int error = posix(&ptr, alignment, size);
  if (error != 0) {
    errno = error;
    return nullptr;
  }
  return ptr;
}

// Before the next allocator is known (or while this thread looks it up).
__attribute__((noinline)) void* MallocSlowPath(size_t size) noexcept {
  if (auto fn = NextFunction<MallocFn>(kMalloc)) return fn(size);
  return ArenaAllocate(size, 16);
}

__attribute__((always_inline)) inline void* Malloc(size_t size) noexcept {
  auto fn = g_next_malloc.load(std::memory_order_acquire);
  return __builtin_expect(fn != nullptr, 1) ? fn(size) : MallocSlowPath(size);
}

// Out of line, so that the fast path of malloc saves no register.
INPROF_HEAP_PATH __attribute__((noinline)) void* MallocCountedAfter(
    size_t size) noexcept {
  return Counted(Malloc(size), size);
}

__attribute__((noinline)) void FreeSlowPath(void* ptr) noexcept {
  if (ptr == nullptr || InArena(ptr)) return;
  // Null only while another thread resolves the table, for a block that
  // came from elsewhere: kept rather than given to the wrong allocator.
  if (auto fn = NextFunction<FreeFn>(kFree)) fn(ptr);
}

__attribute__((always_inline)) inline void Free(void* ptr) noexcept {
  FreeFn fn = g_next_free.load(std::memory_order_acquire);
  if (__builtin_expect(fn != nullptr && !InArena(ptr), 1)) {
    fn(ptr);  // free(nullptr) does nothing
    return;
  }
  FreeSlowPath(ptr);
}

// A free in a granule where a sampled block starts: looked up, then freed.
INPROF_HEAP_PATH __attribute__((noinline)) void FreeInSampledGranule(
    void* ptr) noexcept {
  OnFree(ptr);
  Free(ptr);
}

void* Realloc(void* old, size_t size) noexcept {
  if (old == nullptr || !InArena(old)) {
    if (auto fn = NextFunction<ReallocFn>(kRealloc)) return fn(old, size);
  }
  // An arena block (or the table is not ready): move it.
  void* ptr = Malloc(size);
  if (ptr != nullptr && old != nullptr) {
    size_t old_size = ArenaBlockSize(old);
    memcpy(ptr, old, old_size < size ? old_size : size);
  }
  return ptr;
}

// --- C++ operators
// -------------------------------------------------------------

// NOT SIGNAL CONTEXT BEGIN: operator new throws as the standard says; it is
// never what a C allocation (the only kind a handler may make) reaches.
// What the standard says operator new does, for the next objects that have
// no operator new of their own (a C program under libinprof_preload.so).
void* NewByMalloc(size_t size, size_t alignment, bool nothrow) {
  if (size == 0) size = 1;
  for (;;) {
    void* ptr =
        alignment > 16 ? NextAligned(kMemalign, alignment, size) : Malloc(size);
    if (ptr != nullptr) return ptr;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    try {
      handler();
    } catch (const std::bad_alloc&) {
      if (nothrow) return nullptr;
      throw;
    }
  }
}
// NOT SIGNAL CONTEXT END

// The next allocator's own operator, inside an OperatorScope.
template <typename... Args>
__attribute__((noinline)) void* ForwardNewToNext(NextFn id, size_t size,
                                                 size_t alignment, bool nothrow,
                                                 Args... args) {
  using Fn = void* (*)(size_t, Args...);
  OperatorScope scope;
  Fn fn = NextFunction<Fn>(id);
  return fn != nullptr ? fn(size, args...)
                       : NewByMalloc(size, alignment, nothrow);
}

// libstdc++'s operator new done with the next malloc `fn` (alignments up to
// 16). malloc(0) is a unique block on glibc; where it is null, the
// standard's way asks for one byte.
__attribute__((always_inline)) inline void* NewWithMalloc(MallocFn fn,
                                                          size_t size,
                                                          size_t alignment,
                                                          bool nothrow) {
  if (void* ptr = fn(size); __builtin_expect(ptr != nullptr, 1)) return ptr;
  return NewByMalloc(size, alignment, nothrow);
}

template <typename... Args>
__attribute__((always_inline)) inline void* ForwardNew(NextFn id, size_t size,
                                                       size_t alignment,
                                                       bool nothrow,
                                                       Args... args) {
  MallocFn fn = g_operator_malloc.load(std::memory_order_relaxed);
  if (__builtin_expect(fn != nullptr && alignment <= 16, 1)) {
    return NewWithMalloc(fn, size, alignment, nothrow);
  }
  if (fn != nullptr) return NewByMalloc(size, alignment, nothrow);
  using Fn = void* (*)(size_t, Args...);
  if (auto next = reinterpret_cast<Fn>(
          g_direct_fns[id].load(std::memory_order_relaxed))) {
    return next(size, args...);
  }
  return ForwardNewToNext(id, size, alignment, nothrow, args...);
}

// Out of line, so that the fast path of New saves no register.
template <typename... Args>
INPROF_HEAP_PATH __attribute__((noinline)) void* NewCountedAfter(
    NextFn id, size_t size, size_t alignment, bool nothrow, Args... args) {
  return Counted(ForwardNew(id, size, alignment, nothrow, args...), size);
}

// An operator new of the front. Counted ahead when the countdown allows:
// the allocator's own operator is then a tail call, and the next malloc in
// place of libstdc++'s operator is one call and a check. Else forwarded
// and counted after, which samples.
template <typename... Args>
__attribute__((always_inline)) inline void* New(NextFn id, size_t size,
                                                size_t alignment, bool nothrow,
                                                Args... args) {
  using Fn = void* (*)(size_t, Args...);
  auto direct =
      reinterpret_cast<Fn>(g_direct_fns[id].load(std::memory_order_relaxed));
  if (direct != nullptr && CountedAhead(size)) return direct(size, args...);
  MallocFn fn = g_operator_malloc.load(std::memory_order_relaxed);
  if (fn != nullptr && alignment <= 16 && CountedAhead(size)) {
    return NewWithMalloc(fn, size, alignment, nothrow);
  }
  return NewCountedAfter(id, size, alignment, nothrow, args...);
}

template <typename... Args>
__attribute__((noinline)) void ForwardDeleteToNext(NextFn id, void* ptr,
                                                   Args... args) noexcept {
  if (InArena(ptr)) return;
  using Fn = void (*)(void*, Args...);
  OperatorScope scope;
  Fn fn = NextFunction<Fn>(id);
  if (fn != nullptr) {
    fn(ptr, args...);
  } else {
    Free(ptr);
  }
}

// A delete the fast path does not finish: a sampled granule, an arena block,
// or operators that are not libstdc++'s.
template <typename... Args>
INPROF_HEAP_PATH __attribute__((noinline)) void ForwardDeleteSlowPath(
    NextFn id, void* ptr, Args... args) noexcept {
  Uncounted(ptr);
  if (g_operator_free.load(std::memory_order_relaxed) != nullptr) {
    Free(ptr);
  } else if (ptr != nullptr) {
    ForwardDeleteToNext(id, ptr, args...);
  }
}

template <typename... Args>
__attribute__((always_inline)) inline void ForwardDelete(
    NextFn id, void* ptr, Args... args) noexcept {
  using Fn = void (*)(void*, Args...) noexcept;
  auto direct =
      reinterpret_cast<Fn>(g_direct_fns[id].load(std::memory_order_relaxed));
  FreeFn fn = g_operator_free.load(std::memory_order_relaxed);
  if (__builtin_expect(!InSampledGranule(ptr) && !InArena(ptr), 1)) {
    if (direct != nullptr) {
      direct(ptr, args...);  // the allocator's delete takes nullptr too
      return;
    }
    if (fn != nullptr) {
      fn(ptr);  // free(nullptr) does nothing
      return;
    }
  }
  ForwardDeleteSlowPath(id, ptr, args...);
}

}  // namespace
}  // namespace inprof::internal

using inprof::internal::Counted;
using inprof::internal::ForwardDelete;
using inprof::internal::New;
using inprof::internal::NextFn;
using inprof::internal::Uncounted;
namespace in = inprof::internal;

// Weak: an allocator linked statically into the same program
// (libtcmalloc.a before libinprof.a on the link line) keeps its own
// definitions; the front then stands aside (MallocFrontInUse() is false) and
// the sampler uses tcmalloc's hooks, instead of the link failing.
#define INPROF_FRONT \
  extern "C" INPROF_HEAP_PATH __attribute__((visibility("default"), weak))
#define INPROF_FRONT_CXX \
  INPROF_HEAP_PATH __attribute__((visibility("default"), weak))

// NOT SIGNAL CONTEXT BEGIN: these definitions are the allocator's entry
// points themselves (the lint would read each as a call to malloc or new);
// their bodies only forward, and call the inline fast paths of heap_hooks.h,
// which the lint checks.

// The front's malloc under a name of its own, so that MallocFrontInUse() can
// compare it with what the process's "malloc" resolves to.
extern "C" INPROF_HEAP_PATH __attribute__((visibility("hidden"))) void*
inprof_front_malloc(size_t size) noexcept {
  auto fn = in::g_next_malloc.load(std::memory_order_acquire);
  if (__builtin_expect(fn != nullptr, 1) && in::CountedAhead(size)) {
    return fn(size);  // a tail call
  }
  return in::MallocCountedAfter(size);
}

INPROF_FRONT void* malloc(size_t size) noexcept
    __attribute__((alias("inprof_front_malloc")));  // (weak, as the others)

INPROF_FRONT void free(void* ptr) noexcept {
  if (__builtin_expect(in::InSampledGranule(ptr), 0)) {
    in::FreeInSampledGranule(ptr);
    return;
  }
  in::Free(ptr);
}

INPROF_FRONT void* calloc(size_t count, size_t size) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  auto fn = in::NextFunction<in::CallocFn>(in::kCalloc);
  void* ptr = fn != nullptr ? fn(count, size) : in::ArenaAllocate(bytes, 16);
  return Counted(ptr, bytes);
}

INPROF_FRONT void* realloc(void* old, size_t size) noexcept {
  // Accounted as a free and an allocation, moved or not: the bucket is
  // keyed by size. realloc(p, 0) frees p and may return null.
  Uncounted(old);
  return Counted(in::Realloc(old, size), size);
}

INPROF_FRONT void* reallocarray(void* old, size_t count, size_t size) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  Uncounted(old);
  return Counted(in::Realloc(old, bytes), bytes);
}

INPROF_FRONT int posix_memalign(void** result, size_t alignment,
                                size_t size) noexcept {
  auto fn = in::NextFunction<in::PosixMemalignFn>(in::kPosixMemalign);
  if (fn == nullptr) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
        alignment % sizeof(void*) != 0) {
      return EINVAL;
    }
    *result = in::ArenaAllocate(size, alignment);
    return *result != nullptr ? 0 : ENOMEM;
  }
  int error = fn(result, alignment, size);
  if (error == 0) Counted(*result, size);
  return error;
}

INPROF_FRONT void* memalign(size_t alignment, size_t size) noexcept {
  return Counted(in::NextAligned(in::kMemalign, alignment, size), size);
}

INPROF_FRONT void* aligned_alloc(size_t alignment, size_t size) noexcept {
  return Counted(in::NextAligned(in::kAlignedAlloc, alignment, size), size);
}

INPROF_FRONT void* valloc(size_t size) noexcept {
  auto fn = in::NextFunction<in::MallocFn>(in::kValloc);
  void* ptr = fn != nullptr
                  ? fn(size)
                  : in::NextAligned(in::kMemalign, in::PageSize(), size);
  return Counted(ptr, size);
}

INPROF_FRONT void* pvalloc(size_t size) noexcept {
  const size_t page = in::PageSize();
  auto fn = in::NextFunction<in::MallocFn>(in::kPvalloc);
  size_t rounded = (size + page - 1) & ~(page - 1);
  void* ptr =
      fn != nullptr ? fn(size) : in::NextAligned(in::kMemalign, page, rounded);
  return Counted(ptr, rounded);
}

INPROF_FRONT size_t malloc_usable_size(void* ptr) noexcept {
  if (ptr == nullptr) return 0;
  if (in::InArena(ptr)) return in::ArenaBlockSize(ptr);
  auto fn = in::NextFunction<in::UsableSizeFn>(in::kMallocUsableSize);
  return fn != nullptr ? fn(ptr) : 0;
}

// --- C++
// -----------------------------------------------------------------------

namespace {

inline size_t Align(std::align_val_t alignment) {
  return static_cast<size_t>(alignment);
}

}  // namespace

INPROF_FRONT_CXX void* operator new(size_t size) {
  return New(in::kNew, size, 16, false);
}
INPROF_FRONT_CXX void* operator new[](size_t size) {
  return New(in::kNewArray, size, 16, false);
}
INPROF_FRONT_CXX void* operator new(size_t size,
                                    const std::nothrow_t& t) noexcept {
  return New<const std::nothrow_t&>(in::kNewNothrow, size, 16, true, t);
}
INPROF_FRONT_CXX void* operator new[](size_t size,
                                      const std::nothrow_t& t) noexcept {
  return New<const std::nothrow_t&>(in::kNewArrayNothrow, size, 16, true, t);
}
INPROF_FRONT_CXX void* operator new(size_t size, std::align_val_t a) {
  return New(in::kNewAligned, size, Align(a), false, a);
}
INPROF_FRONT_CXX void* operator new[](size_t size, std::align_val_t a) {
  return New(in::kNewArrayAligned, size, Align(a), false, a);
}
INPROF_FRONT_CXX void* operator new(size_t size, std::align_val_t a,
                                    const std::nothrow_t& t) noexcept {
  return New<std::align_val_t, const std::nothrow_t&>(
      in::kNewAlignedNothrow, size, Align(a), true, a, t);
}
INPROF_FRONT_CXX void* operator new[](size_t size, std::align_val_t a,
                                      const std::nothrow_t& t) noexcept {
  return New<std::align_val_t, const std::nothrow_t&>(
      in::kNewArrayAlignedNothrow, size, Align(a), true, a, t);
}

INPROF_FRONT_CXX void operator delete(void* p) noexcept {
  ForwardDelete(in::kDelete, p);
}
INPROF_FRONT_CXX void operator delete[](void* p) noexcept {
  ForwardDelete(in::kDeleteArray, p);
}
INPROF_FRONT_CXX void operator delete(void* p, size_t size) noexcept {
  ForwardDelete(in::kDeleteSized, p, size);
}
INPROF_FRONT_CXX void operator delete[](void* p, size_t size) noexcept {
  ForwardDelete(in::kDeleteArraySized, p, size);
}
INPROF_FRONT_CXX void operator delete(void* p,
                                      const std::nothrow_t& t) noexcept {
  ForwardDelete<const std::nothrow_t&>(in::kDeleteNothrow, p, t);
}
INPROF_FRONT_CXX void operator delete[](void* p,
                                        const std::nothrow_t& t) noexcept {
  ForwardDelete<const std::nothrow_t&>(in::kDeleteArrayNothrow, p, t);
}
INPROF_FRONT_CXX void operator delete(void* p, std::align_val_t a) noexcept {
  ForwardDelete(in::kDeleteAligned, p, a);
}
INPROF_FRONT_CXX void operator delete[](void* p, std::align_val_t a) noexcept {
  ForwardDelete(in::kDeleteArrayAligned, p, a);
}
INPROF_FRONT_CXX void operator delete(void* p, size_t size,
                                      std::align_val_t a) noexcept {
  ForwardDelete(in::kDeleteSizedAligned, p, size, a);
}
INPROF_FRONT_CXX void operator delete[](void* p, size_t size,
                                        std::align_val_t a) noexcept {
  ForwardDelete(in::kDeleteArraySizedAligned, p, size, a);
}
INPROF_FRONT_CXX void operator delete(void* p, std::align_val_t a,
                                      const std::nothrow_t& t) noexcept {
  ForwardDelete<std::align_val_t, const std::nothrow_t&>(
      in::kDeleteAlignedNothrow, p, a, t);
}
INPROF_FRONT_CXX void operator delete[](void* p, std::align_val_t a,
                                        const std::nothrow_t& t) noexcept {
  ForwardDelete<std::align_val_t, const std::nothrow_t&>(
      in::kDeleteArrayAlignedNothrow, p, a, t);
}

// NOT SIGNAL CONTEXT END

namespace inprof::internal {

// NOT SIGNAL CONTEXT BEGIN: asked by the agent at start, not in malloc.
bool MallocFrontCompiledIn() { return true; }

namespace {

// Whether every next C++ operator the process has is libstdc++'s.
bool NextOperatorsAreStandard() {
  if (NextFunction<void*>(kMalloc) == nullptr) return false;
  bool any = false;
  for (int id = kNew; id < kNextFnCount; ++id) {
    void* fn = g_next_fns[id];
    if (fn == nullptr) continue;  // the front builds it from malloc already
    Dl_info info;
    if (dladdr(fn, &info) == 0 || info.dli_fname == nullptr) return false;
    const char* slash = strrchr(info.dli_fname, '/');
    const char* name = slash != nullptr ? slash + 1 : info.dli_fname;
    if (strncmp(name, "libstdc++.so", 12) != 0) return false;
    any = true;
  }
  return any;
}

// Whether the next C++ operators all come from the object that defines the
// next malloc: an allocator's own operators, which allocate with its
// internals (libstdc++'s are malloc and free, and are not this).
bool NextOperatorsAreTheAllocators() {
  Dl_info allocator;
  if (dladdr(NextFunction<void*>(kMalloc), &allocator) == 0) return false;
  bool any = false;
  for (int id = kNew; id < kNextFnCount; ++id) {
    void* fn = g_next_fns[id];
    if (fn == nullptr) continue;  // the front builds it from malloc already
    Dl_info info;
    if (dladdr(fn, &info) == 0 || info.dli_fbase != allocator.dli_fbase) {
      return false;
    }
    any = true;
  }
  return any;
}

// Puts the thread's countdown back however the probe ends.
class CountdownGuard {
 public:
  CountdownGuard() noexcept : saved_(inprof_heap_countdown) {}
  ~CountdownGuard() { inprof_heap_countdown = saved_; }
  CountdownGuard(const CountdownGuard&) = delete;
  CountdownGuard& operator=(const CountdownGuard&) = delete;

 private:
  int64_t saved_;
};

// Whether the next operator `new_id` allocates through the process's
// malloc family (our front), seen by our countdown moving: then its inner
// call must not be counted again, and the scope stays. The block goes back
// through `delete_id`, which takes the same extra arguments. A throw or a
// missing operator answers yes (the scope stays).
template <typename... Args>
bool ComesBackThroughUs(NextFn new_id, NextFn delete_id,
                        Args... args) noexcept {
  using NewFn = void* (*)(size_t, Args...);
  using DeleteFn = void (*)(void*, Args...) noexcept;
  auto next_new = reinterpret_cast<NewFn>(g_next_fns[new_id]);
  auto next_delete = reinterpret_cast<DeleteFn>(g_next_fns[delete_id]);
  if (next_new == nullptr || next_delete == nullptr) return true;
  constexpr int64_t kUntouched = int64_t{1} << 50;
  CountdownGuard guard;
  inprof_heap_countdown = kUntouched;
  try {
    void* block = next_new(64, args...);
    const bool came_back = inprof_heap_countdown != kUntouched;
    next_delete(block, args...);
    return came_back;
  } catch (...) {
    return true;
  }
}

// The operator news (bits of 1 << NextFn) that do not come back through
// our malloc family, each probed with its own arguments.
uint32_t DirectNews() noexcept {
  const std::align_val_t a{64};
  const std::nothrow_t& nt = std::nothrow;
  using NT = const std::nothrow_t&;
  const std::pair<NextFn, bool> probes[] = {
      {kNew, ComesBackThroughUs(kNew, kDelete)},
      {kNewArray, ComesBackThroughUs(kNewArray, kDeleteArray)},
      {kNewNothrow, ComesBackThroughUs<NT>(kNewNothrow, kDeleteNothrow, nt)},
      {kNewArrayNothrow,
       ComesBackThroughUs<NT>(kNewArrayNothrow, kDeleteArrayNothrow, nt)},
      {kNewAligned, ComesBackThroughUs(kNewAligned, kDeleteAligned, a)},
      {kNewArrayAligned,
       ComesBackThroughUs(kNewArrayAligned, kDeleteArrayAligned, a)},
      {kNewAlignedNothrow,
       ComesBackThroughUs<std::align_val_t, NT>(kNewAlignedNothrow,
                                                kDeleteAlignedNothrow, a, nt)},
      {kNewArrayAlignedNothrow,
       ComesBackThroughUs<std::align_val_t, NT>(
           kNewArrayAlignedNothrow, kDeleteArrayAlignedNothrow, a, nt)},
  };
  uint32_t direct = 0;
  for (const auto& [id, came_back] : probes) {
    if (!came_back) direct |= uint32_t{1} << id;
  }
  return direct;
}

}  // namespace

bool MallocFrontInUse() {
  static const bool in_use = [] {
    // malloc by address (our own name for it is hidden, so it cannot
    // resolve elsewhere); operator new by the object that defines it.
    void* process_malloc = dlsym(RTLD_DEFAULT, "malloc");
    void* process_new = dlsym(RTLD_DEFAULT, "_Znwm");
    Dl_info ours, theirs;
    const bool front =
        process_malloc == reinterpret_cast<void*>(&inprof_front_malloc) &&
        process_new != nullptr &&
        dladdr(reinterpret_cast<void*>(&inprof_front_malloc), &ours) &&
        dladdr(process_new, &theirs) && ours.dli_fbase == theirs.dli_fbase;
    if (front && NextOperatorsAreStandard()) {
      g_operator_free.store(NextFunction<FreeFn>(kFree));
      g_operator_malloc.store(NextFunction<MallocFn>(kMalloc));
    } else if (front && NextOperatorsAreTheAllocators()) {
      const uint32_t news = DirectNews();
      for (int id = kNew; id < kNextFnCount; ++id) {
        const bool is_new = id < kDelete;
        if (is_new && ((news >> id) & 1) == 0) continue;
        g_direct_fns[id].store(g_next_fns[id], std::memory_order_relaxed);
      }
    }
    return front;
  }();
  return in_use;
}

bool MallocFrontSkipsStandardOperators() {
  return g_operator_malloc.load(std::memory_order_relaxed) != nullptr;
}

bool MallocFrontCallsNextOperatorsDirectly() {
  return g_direct_fns[kDelete].load(std::memory_order_relaxed) != nullptr;
}

bool MallocFrontCallsNextNewDirectly(int id) {
  return g_direct_fns[id].load(std::memory_order_relaxed) != nullptr;
}

void* MallocFrontNextMalloc() { return NextFunction<void*>(kMalloc); }
// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal

#endif  // the front
