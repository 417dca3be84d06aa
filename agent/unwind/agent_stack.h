// Agent stacks: a fixed pool of roomy stacks that the signal handler and the
// sampling hooks run their work on, instead of on the interrupted thread's
// stack.
//
// Why: the interrupted stack may be a 4 KiB coroutine stack or an 8 KiB
// sigaltstack, with the kernel's signal frame (about 3 KiB with AVX-512
// state) already on it. Unwinding needs kilobytes (libunwind's cursor alone
// is 1 KiB; its DWARF interpreter and a lazily bound call into the dynamic
// linker, which saves the full XSAVE state, take several more). On an agent
// stack the interrupted stack only carries the handler's entry frame
// (measured by tests/agent/cpu/handler_stack_test.cc and stated in the
// README), and a burst that finds every agent stack busy costs
// one counted sample, never the process.
//
// Ownership: the pool is process-wide, mapped once by InitAgentStacks() and
// never unmapped (a late signal may still be running on it).
// Thread safety: RunOnAgentStack() is lock-free and async-signal-safe; the
// rest is thread-safe and not async-signal-safe.
#ifndef INPROF_AGENT_UNWIND_AGENT_STACK_H_
#define INPROF_AGENT_UNWIND_AGENT_STACK_H_

// SIGNAL CONTEXT. RunOnAgentStack() runs inside the CPU signal handler and
// inside allocation and lock hooks; see unwind.h for the rules.

#include <cstddef>

namespace inprof::internal {

// Maps the pool (64 stacks, each with a guard page below it). Idempotent.
// False if the memory could not be mapped: RunOnAgentStack then always
// refuses. Not async-signal-safe.
bool InitAgentStacks();

// Runs fn(arg) on a free agent stack, or directly when the calling thread
// already runs on one. Returns false, without running fn, when none is free
// (or the pool was never mapped): the caller counts a lost sample.
// Async-signal-safe.
bool RunOnAgentStack(void (*fn)(void*), void* arg) noexcept;

// The deepest any agent stack has been used, in bytes (the lowest non-zero
// word of each fresh, zero-filled stack). For tests and sizing.
size_t AgentStackHighWater();

// The usable size of one agent stack.
size_t AgentStackSize();

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_AGENT_STACK_H_
