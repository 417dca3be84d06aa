// Arrays mapped once with mmap for the lock-free sample tables (heap,
// contention): never moved or freed, not resident until touched.
#ifndef INPROF_AGENT_BASE_MAPPED_ARRAY_H_
#define INPROF_AGENT_BASE_MAPPED_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>

namespace inprof::internal {

// `count` zeroed T's, or nullptr if the mapping failed. Not for signal
// context (mmap is, but callers map at start-up).
template <typename T>
T* MapArray(size_t count) {
  void* memory = mmap(nullptr, sizeof(T) * count, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return memory == MAP_FAILED ? nullptr : static_cast<T*>(memory);
}

// Gives the pages back: zero-filled on next touch, and not resident until.
template <typename T>
void ZeroArray(T* array, size_t count) {
  madvise(array, sizeof(T) * count, MADV_DONTNEED);
}

// Makes the pages resident and writable now, where a first touch inside a
// hook would take two faults (a read maps the shared zero page; the write
// that follows replaces it and flushes every CPU's TLB by interrupt). For
// arrays indexed by hash, which a busy process ends up touching in full
// anyway. Best effort: on a kernel older than 5.14 the pages fault in as
// before.
template <typename T>
void PopulateArray(T* array, size_t count) {
#ifdef MADV_POPULATE_WRITE  // glibc 2.35 and later
  madvise(array, sizeof(T) * count, MADV_POPULATE_WRITE);
#else
  (void)array;
  (void)count;
#endif
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_MAPPED_ARRAY_H_
