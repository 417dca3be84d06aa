// SampleRing carries RawSamples from the signal handlers of every thread to
// the one collector thread. It is a bounded multi-producer, single-consumer
// queue in the style of Dmitry Vyukov's bounded MPMC queue: each slot has a
// sequence number that says whose turn it is, so a writer never waits for a
// reader and a full ring costs a counted drop, never a block.
//
//   writers (handlers)            reader (collector)
//   claim slot: CAS write_pos_ -> fill -> publish seq = pos + 1
//                                    read when seq == pos + 1, then free the
//                                    slot for the next lap: seq = pos + size
//
// Ownership: owns its slots, allocated once by the constructor.
// Thread safety: TryWrite()/Commit() from any thread or signal handler;
// Drain() from one thread at a time (the caller serializes).
#ifndef INPROF_AGENT_CPU_SAMPLE_RING_H_
#define INPROF_AGENT_CPU_SAMPLE_RING_H_

// SIGNAL CONTEXT. Code in this file runs inside the CPU-profiling signal
// handler, on any thread, at any instruction of the host: inside malloc,
// inside libunwind, during thread exit. Rules:
//   - no allocation (no new/malloc, no std::string/vector growth, no
//   std::function)
//   - no locks; lock-free atomics only
//   - no stdio/iostream/fmt; log with RawLog() (write(2) to stderr)
//   - errno is saved and restored by the handler entry point
//   - every function is noexcept and does not throw
//   - thread_local only of trivial types, initial-exec TLS model
// Checked by tests/lint/signal_context_test and the ThreadSanitizer job.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "agent/cpu/raw_sample.h"

namespace inprof::internal {

class SampleRing {
 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit SampleRing(size_t capacity);
  SampleRing(const SampleRing&) = delete;
  SampleRing& operator=(const SampleRing&) = delete;

  // A claimed slot, to be filled and then published with Commit().
  struct Claim {
    RawSample* sample = nullptr;
    uint64_t position = 0;
  };

  // Claims the next free slot; sample == nullptr (and a counted drop) when
  // the ring is full. Async-signal-safe.
  Claim TryClaim() noexcept;

  // Publishes a slot claimed by TryClaim(). Async-signal-safe.
  void Commit(const Claim& claim) noexcept;

  // Calls visit(const RawSample&) for every published sample, in claim
  // order, and frees their slots; stops at the first slot still being
  // written. Returns the number visited. Not async-signal-safe (one reader).
  template <typename Visitor>
  size_t Drain(Visitor&& visit);

  // Samples dropped because the ring was full.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  size_t capacity() const { return mask_ + 1; }

 private:
  struct Slot {
    std::atomic<uint64_t> sequence;
    RawSample sample;
  };

  // Immutable after construction.
  const size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // Shared by every writer (atomics only).
  alignas(64) std::atomic<uint64_t> write_pos_{0};
  std::atomic<uint64_t> dropped_{0};
  // Owned by the single reader.
  alignas(64) uint64_t read_pos_ = 0;
};

template <typename Visitor>
size_t SampleRing::Drain(Visitor&& visit) {
  size_t visited = 0;
  for (;;) {
    Slot& slot = slots_[read_pos_ & mask_];
    if (slot.sequence.load(std::memory_order_acquire) != read_pos_ + 1) {
      return visited;
    }
    visit(static_cast<const RawSample&>(slot.sample));
    slot.sequence.store(read_pos_ + mask_ + 1, std::memory_order_release);
    ++read_pos_;
    ++visited;
  }
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_CPU_SAMPLE_RING_H_
