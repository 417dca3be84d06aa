#include "agent/cpu/thread_coverage.h"

// SIGNAL CONTEXT. ThreadCovered() runs inside the CPU signal handler;
// TryClaimThread() and ReleaseThreadClaim() are async-signal-safe too (plain
// atomics); the rest is marked.

#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>

namespace inprof::internal {
namespace {

// Linux's PID_MAX_LIMIT (include/linux/threads.h): 4M ids on 64-bit, so
// 512 KiB of address space per bitmap; the claims' bitmap follows the
// coverage's in the same mapping.
constexpr size_t kMaxTid = size_t{1} << 22;
constexpr size_t kWords = kMaxTid / 64;
constexpr size_t kMappedWords = 2 * kWords;

std::atomic<std::atomic<uint64_t>*> g_bits{nullptr};

}  // namespace

bool ThreadCovered(pid_t tid) noexcept {
  std::atomic<uint64_t>* bits = g_bits.load(std::memory_order_acquire);
  if (bits == nullptr || tid <= 0 || static_cast<size_t>(tid) >= kMaxTid) {
    return false;
  }
  const uint64_t word = bits[tid / 64].load(std::memory_order_relaxed);
  return (word >> (tid % 64)) & 1;
}

bool TryClaimThread(pid_t tid) noexcept {
  std::atomic<uint64_t>* bits = g_bits.load(std::memory_order_acquire);
  if (bits == nullptr || tid <= 0 || static_cast<size_t>(tid) >= kMaxTid) {
    return false;
  }
  const uint64_t mask = uint64_t{1} << (tid % 64);
  return (bits[kWords + tid / 64].fetch_or(mask, std::memory_order_acq_rel) &
          mask) == 0;
}

void ReleaseThreadClaim(pid_t tid) noexcept {
  std::atomic<uint64_t>* bits = g_bits.load(std::memory_order_acquire);
  if (bits == nullptr || tid <= 0 || static_cast<size_t>(tid) >= kMaxTid) {
    return;
  }
  const uint64_t mask = uint64_t{1} << (tid % 64);
  bits[kWords + tid / 64].fetch_and(~mask, std::memory_order_acq_rel);
}

// NOT SIGNAL CONTEXT BEGIN: mapping and updating the bitmap

bool InitThreadCoverage() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, [] {
    void* memory =
        mmap(nullptr, kMappedWords * sizeof(uint64_t), PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return;
    pthread_atfork(nullptr, nullptr, ClearThreadCoverage);
    g_bits.store(static_cast<std::atomic<uint64_t>*>(memory),
                 std::memory_order_release);
  });
  return g_bits.load(std::memory_order_acquire) != nullptr;
}

bool SetThreadCovered(pid_t tid, bool covered) {
  std::atomic<uint64_t>* bits = g_bits.load(std::memory_order_acquire);
  if (bits == nullptr || tid <= 0 || static_cast<size_t>(tid) >= kMaxTid) {
    return false;
  }
  const uint64_t mask = uint64_t{1} << (tid % 64);
  if (covered) {
    bits[tid / 64].fetch_or(mask, std::memory_order_relaxed);
  } else {
    bits[tid / 64].fetch_and(~mask, std::memory_order_relaxed);
  }
  return true;
}

void ClearThreadCoverage() {
  std::atomic<uint64_t>* bits = g_bits.load(std::memory_order_acquire);
  if (bits == nullptr) return;
  // Zero-fill-on-demand again: cheaper than writing 1 MiB, and it gives
  // the memory back.
  madvise(bits, kMappedWords * sizeof(uint64_t), MADV_DONTNEED);
}

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
