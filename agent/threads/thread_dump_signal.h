// The thread-dump signal's handler and the preallocated slots it writes
// into. The collector (thread_dumper.h) arms a slot for a thread, sends the
// thread the dump signal with the slot's index and generation as the
// signal's value (rt_tgsigqueueinfo, SI_QUEUE), and the handler, on that
// thread, walks its own stack into the slot: no allocation, no lock, and a
// signal that is late, stray or from another process finds no armed slot
// and does nothing.
//
// A slot goes kIdle -> kArmed (collector) -> kWriting (handler) -> kDone
// (handler) -> kIdle (collector, after copying it). A collector that gives
// up on a thread takes kArmed back to kIdle; a handler that already moved
// the slot to kWriting finishes it, and the slot is reclaimed later. The
// state word carries the arming's generation, so that a handler can only
// claim the arming it was sent for.
//
// Ownership: the slots and the target live for the whole process once
// published (a late signal may still run on them); thread_dumper.cc owns
// them.
// Thread safety: the handler runs on any thread; the setters are called by
// one collector at a time.
#ifndef INPROF_AGENT_THREADS_THREAD_DUMP_SIGNAL_H_
#define INPROF_AGENT_THREADS_THREAD_DUMP_SIGNAL_H_

// SIGNAL CONTEXT. The handler of thread_dump_signal.cc runs on any thread
// of the host, at any instruction; see agent/base/thread_labels.h for the
// rules.

#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace inprof::internal {

class StackWalker;

// Frames kept per thread (Go's goroutine profile keeps fewer).
inline constexpr int kThreadDumpMaxDepth = 64;

enum ThreadDumpPhase : uint64_t {
  kSlotIdle = 0,
  kSlotArmed = 1,
  kSlotWriting = 2,
  kSlotDone = 3,
};

// A slot's state word: generation in the high bits, phase in the low two.
constexpr uint64_t SlotState(uint64_t generation, ThreadDumpPhase phase) {
  return (generation << 2) | phase;
}
constexpr ThreadDumpPhase SlotPhase(uint64_t state) {
  return static_cast<ThreadDumpPhase>(state & 3);
}
constexpr uint64_t SlotGeneration(uint64_t state) { return state >> 2; }

// One thread's answer.
struct ThreadDumpSlot {
  std::atomic<uint64_t> state{0};
  // The thread the arming is for; written before kArmed is published.
  std::atomic<uint32_t> tid{0};
  // Written by the handler between kWriting and kDone.
  int32_t depth = 0;
  bool truncated = false;
  bool agent_thread = false;
  bool no_agent_stack = false;  // every agent stack was busy: no frames
  uint64_t label_set = 0;
  uint64_t request_id = 0;
  uint64_t request_start_ns = 0;  // MonotonicNanos; 0: untimed or none
  uint64_t pcs[kThreadDumpMaxDepth] = {};
};

// What the handler writes into and wakes.
struct ThreadDumpTarget {
  StackWalker* walker = nullptr;
  int32_t pid = 0;  // only this process's requests are answered
  ThreadDumpSlot* slots = nullptr;
  size_t slot_count = 0;
  // Incremented and futex-woken by every answer.
  std::atomic<uint32_t>* answers = nullptr;
};

// The signal value that names slot `index` armed with `generation`.
constexpr uint64_t ThreadDumpSignalValue(size_t index, uint64_t generation) {
  return (generation << 16) | index;
}
inline constexpr size_t kThreadDumpMaxSlots = 1u << 16;

// Publishes (or, with nullptr, withdraws) what the handler writes into.
void SetThreadDumpTarget(ThreadDumpTarget* target) noexcept;

// Handlers running now (after SetThreadDumpTarget(nullptr), wait for 0
// before the walker may go away).
int ThreadDumpHandlersInFlight() noexcept;

// The handler, for sigaction (SA_SIGINFO).
void (*ThreadDumpHandlerEntry())(int, siginfo_t*, void*);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_THREADS_THREAD_DUMP_SIGNAL_H_
