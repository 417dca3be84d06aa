// The malloc shim: malloc, free and every operator new and delete, defined in
// the program itself in front of gperftools' tcmalloc, so that heap samples
// are taken without MallocHook. Installing any MallocHook hook makes every
// tcmalloc call leave its inlined fast path; the shim keeps that path and
// adds a thread-local countdown per allocation and a filter lookup per free
// (BENCHMARKS.md, "Heap sampling").
//
// Link it into the executable, with the shared libtcmalloc (a static
// libtcmalloc.a defines the same functions):
//   target_link_libraries(app PRIVATE inprof::agent inprof::malloc_shim)
// It is an object library, so its definitions always win over tcmalloc's
// and glibc's. Without a running agent it only forwards (and counts down).
//
// SIGNAL CONTEXT. These functions are malloc: no allocation of our own, no
// locks, no stdio. See agent/unwind/unwind.h for the rules.

#include <gperftools/tcmalloc.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "agent/heap/heap_hooks.h"

#define INPROF_SHIM extern "C" __attribute__((visibility("default")))
#define INPROF_SHIM_CXX __attribute__((visibility("default")))

// The agent finds the shim through this (a weak reference).
extern "C" __attribute__((visibility("default")))
const int inprof_malloc_shim_linked = 1;

namespace {

using inprof::internal::OnAllocation;
using inprof::internal::OnFree;

inline uint64_t Caller(void* return_address) {
  return reinterpret_cast<uint64_t>(return_address);
}

inline void* Allocated(void* ptr, size_t size, void* return_address) {
  if (ptr != nullptr) OnAllocation(ptr, size, Caller(return_address));
  return ptr;
}

}  // namespace

#define RA __builtin_return_address(0)

// NOT SIGNAL CONTEXT BEGIN: these definitions are the allocator's entry
// points themselves (the lint would read each as a call to malloc or new);
// their bodies only forward to tc_* and call the inline fast paths of
// heap_hooks.h, which the lint checks.

INPROF_SHIM void* malloc(size_t size) {
  return Allocated(tc_malloc(size), size, RA);
}

INPROF_SHIM void free(void* ptr) {
  OnFree(ptr);
  tc_free(ptr);
}

INPROF_SHIM void* calloc(size_t count, size_t size) {
  void* ptr = tc_calloc(count, size);
  return Allocated(ptr, count * size, RA);  // tc_calloc checked the product
}

INPROF_SHIM void* realloc(void* old, size_t size) {
  // Accounted as a free and an allocation, moved or not: the bucket is
  // keyed by size.
  OnFree(old);
  return Allocated(tc_realloc(old, size), size, RA);
}

INPROF_SHIM void* memalign(size_t alignment, size_t size) {
  return Allocated(tc_memalign(alignment, size), size, RA);
}

INPROF_SHIM void* aligned_alloc(size_t alignment, size_t size) {
  return Allocated(tc_memalign(alignment, size), size, RA);
}

INPROF_SHIM int posix_memalign(void** result, size_t alignment, size_t size) {
  int error = tc_posix_memalign(result, alignment, size);
  if (error == 0) Allocated(*result, size, RA);
  return error;
}

INPROF_SHIM void* valloc(size_t size) {
  return Allocated(tc_valloc(size), size, RA);
}

INPROF_SHIM void* pvalloc(size_t size) {
  return Allocated(tc_pvalloc(size), size, RA);
}

// --- C++ ---------------------------------------------------------------------

INPROF_SHIM_CXX void* operator new(size_t size) {
  return Allocated(tc_new(size), size, RA);
}
INPROF_SHIM_CXX void* operator new[](size_t size) {
  return Allocated(tc_newarray(size), size, RA);
}
INPROF_SHIM_CXX void* operator new(size_t size,
                                   const std::nothrow_t& t) noexcept {
  return Allocated(tc_new_nothrow(size, t), size, RA);
}
INPROF_SHIM_CXX void* operator new[](size_t size,
                                     const std::nothrow_t& t) noexcept {
  return Allocated(tc_newarray_nothrow(size, t), size, RA);
}
INPROF_SHIM_CXX void* operator new(size_t size, std::align_val_t a) {
  return Allocated(tc_new_aligned(size, a), size, RA);
}
INPROF_SHIM_CXX void* operator new[](size_t size, std::align_val_t a) {
  return Allocated(tc_newarray_aligned(size, a), size, RA);
}
INPROF_SHIM_CXX void* operator new(size_t size, std::align_val_t a,
                                   const std::nothrow_t& t) noexcept {
  return Allocated(tc_new_aligned_nothrow(size, a, t), size, RA);
}
INPROF_SHIM_CXX void* operator new[](size_t size, std::align_val_t a,
                                     const std::nothrow_t& t) noexcept {
  return Allocated(tc_newarray_aligned_nothrow(size, a, t), size, RA);
}

INPROF_SHIM_CXX void operator delete(void* p) noexcept {
  OnFree(p);
  tc_delete(p);
}
INPROF_SHIM_CXX void operator delete[](void* p) noexcept {
  OnFree(p);
  tc_deletearray(p);
}
INPROF_SHIM_CXX void operator delete(void* p, size_t size) noexcept {
  OnFree(p);
  tc_delete_sized(p, size);
}
INPROF_SHIM_CXX void operator delete[](void* p, size_t size) noexcept {
  OnFree(p);
  tc_deletearray_sized(p, size);
}
INPROF_SHIM_CXX void operator delete(void* p,
                                     const std::nothrow_t& t) noexcept {
  OnFree(p);
  tc_delete_nothrow(p, t);
}
INPROF_SHIM_CXX void operator delete[](void* p,
                                       const std::nothrow_t& t) noexcept {
  OnFree(p);
  tc_deletearray_nothrow(p, t);
}
INPROF_SHIM_CXX void operator delete(void* p, std::align_val_t a) noexcept {
  OnFree(p);
  tc_delete_aligned(p, a);
}
INPROF_SHIM_CXX void operator delete[](void* p, std::align_val_t a) noexcept {
  OnFree(p);
  tc_deletearray_aligned(p, a);
}
INPROF_SHIM_CXX void operator delete(void* p, size_t size,
                                     std::align_val_t a) noexcept {
  OnFree(p);
  tc_delete_sized_aligned(p, size, a);
}
INPROF_SHIM_CXX void operator delete[](void* p, size_t size,
                                       std::align_val_t a) noexcept {
  OnFree(p);
  tc_deletearray_sized_aligned(p, size, a);
}
INPROF_SHIM_CXX void operator delete(void* p, std::align_val_t a,
                                     const std::nothrow_t& t) noexcept {
  OnFree(p);
  tc_delete_aligned_nothrow(p, a, t);
}
INPROF_SHIM_CXX void operator delete[](void* p, std::align_val_t a,
                                       const std::nothrow_t& t) noexcept {
  OnFree(p);
  tc_deletearray_aligned_nothrow(p, a, t);
}

// NOT SIGNAL CONTEXT END
