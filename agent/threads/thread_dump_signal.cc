#include "agent/threads/thread_dump_signal.h"

// SIGNAL CONTEXT. HandleThreadDumpSignal() and AnswerOnAgentStack() run
// inside the thread-dump signal handler on any thread: no allocation, no
// locks, no stdio; errno is saved and restored; thread_locals are trivial
// and initial-exec.
//
// Stack use: as the CPU handler (agent/cpu/signal_handler.cc), the entry
// does only plain loads and atomics on the interrupted stack and runs the
// rest, including every call that goes through a PLT slot (syscall), on an
// agent stack (agent/unwind/agent_stack.h). All agent stacks busy: the slot
// is answered without frames (no_agent_stack) and the collector asks again.

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/base/agent_thread.h"
#include "agent/base/futex.h"
#include "agent/base/thread_labels.h"
#include "agent/unwind/agent_stack.h"
#include "agent/unwind/stack_walker.h"

namespace inprof::internal {
namespace {

std::atomic<ThreadDumpTarget*> g_target{nullptr};
std::atomic<int> g_in_flight{0};

struct AnswerCall {
  ThreadDumpTarget* target;
  ThreadDumpSlot* slot;
  uint64_t armed;  // the state word the slot must still hold
  uint64_t generation;
  const ucontext_t* context;
};

// The thread's request record, read from its own TLS.
void FillRequest(ThreadDumpSlot& slot) noexcept {
  slot.label_set = CurrentLabelSet();
  slot.request_id = CurrentRequestId();
  slot.request_start_ns = t_request_start_ns;
  slot.agent_thread = IsAgentThread();
}

void Publish(const AnswerCall& call) noexcept {
  call.slot->state.store(SlotState(call.generation, kSlotDone),
                         std::memory_order_release);
  call.target->answers->fetch_add(1, std::memory_order_release);
}

// Runs on an agent stack.
void AnswerOnAgentStack(void* raw) noexcept {
  const AnswerCall& call = *static_cast<const AnswerCall*>(raw);
  const int saved_errno = errno;
  ThreadDumpSlot& slot = *call.slot;
  const uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  uint64_t expected = call.armed;
  // Only the thread the slot was armed for answers it.
  if (slot.tid.load(std::memory_order_relaxed) == tid &&
      slot.state.compare_exchange_strong(
          expected, SlotState(call.generation, kSlotWriting),
          std::memory_order_acquire, std::memory_order_relaxed)) {
    FillRequest(slot);
    slot.no_agent_stack = false;
    StackWalk walk =
        call.target->walker->Walk(*call.context, slot.pcs, kThreadDumpMaxDepth);
    slot.depth = walk.depth;
    slot.truncated = walk.truncated;
    Publish(call);
    FutexWake(*call.target->answers);
  }
  errno = saved_errno;
}

void HandleThreadDumpSignal(int, siginfo_t* info, void* context) {
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  ThreadDumpTarget* target = g_target.load(std::memory_order_seq_cst);
  // Only our own collector's requests: SI_QUEUE from this process.
  if (target != nullptr && info != nullptr && context != nullptr &&
      info->si_code == SI_QUEUE && info->si_pid == target->pid) {
    const uint64_t value = reinterpret_cast<uint64_t>(info->si_value.sival_ptr);
    const size_t index = value & (kThreadDumpMaxSlots - 1);
    const uint64_t generation = value >> 16;
    if (index < target->slot_count) {
      ThreadDumpSlot& slot = target->slots[index];
      const uint64_t armed = SlotState(generation, kSlotArmed);
      if (slot.state.load(std::memory_order_acquire) == armed) {
        AnswerCall call{target, &slot, armed, generation,
                        static_cast<const ucontext_t*>(context)};
        if (!RunOnAgentStack(AnswerOnAgentStack, &call)) {
          // No stack to walk on: answer without frames (the collector
          // retries), and without a syscall, so unchecked by tid: the
          // generation in the value is the armed one.
          uint64_t expected = armed;
          if (slot.state.compare_exchange_strong(
                  expected, SlotState(generation, kSlotWriting),
                  std::memory_order_acquire, std::memory_order_relaxed)) {
            FillRequest(slot);
            slot.no_agent_stack = true;
            slot.depth = 0;
            slot.truncated = false;
            Publish(call);  // the collector's wait wakes on its own soon
          }
        }
      }
    }
  }
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace

void SetThreadDumpTarget(ThreadDumpTarget* target) noexcept {
  g_target.store(target, std::memory_order_seq_cst);
}

int ThreadDumpHandlersInFlight() noexcept {
  return g_in_flight.load(std::memory_order_seq_cst);
}

void (*ThreadDumpHandlerEntry())(int, siginfo_t*, void*) {
  return HandleThreadDumpSignal;
}

}  // namespace inprof::internal
