// Unwinder walks the stack of an interrupted thread from its signal context.
//
// It drives libunwind through a private address space whose accessors (a) take
// registers from the signal's ucontext, (b) read memory only through the
// kernel (process_vm_readv on our own pid), copying the pages above the stack
// pointer once per unwind and other memory in small cached blocks, and only
// where the AddressMap or the interrupted stack says memory may be, so that
// memory unmapped since the map was built (a coroutine stack the host gave
// back, a stale range, a corrupt frame pointer) yields an error instead of
// SIGSEGV, and (c) find unwind tables in the AddressMap's module list instead
// of calling dl_iterate_phdr. So the handler never takes the loader lock,
// never faults on a bad frame, and a bad frame costs one truncated sample.
// Where the kernel refuses that syscall (some seccomp profiles), reads are
// direct and limited to mapped memory. A thread walking its own stack (a
// heap or contention sample at a known call site, or a CPU sample of the
// thread the signal interrupted) reads that live stack directly: only the
// span from its stack pointer to its stack's top, which it is running on,
// so nothing there can be unmapped. This is libunwind's
// "remote" mode aimed at our own process, as perf uses it on copied stacks.
//
// Ownership: owns the libunwind address space; AddressMaps are borrowed.
// Thread safety: Init() and the destructor from one thread while no handler
// runs; Unwind() from any number of signal handlers at once (libunwind's
// global cache takes its own lock with signals masked).
#ifndef INPROF_AGENT_UNWIND_UNWIND_H_
#define INPROF_AGENT_UNWIND_UNWIND_H_

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

#include <ucontext.h>

#include <cstdint>

#include "agent/unwind/address_map.h"
#include "agent/unwind/cfi_rules.h"
#include "inprof/status.h"

namespace inprof::internal {

struct UnwindResult {
  int depth = 0;               // entries written to pcs
  bool truncated = false;      // stopped at a frame it could not trust
  bool unknown_stack = false;  // the stack pointer is outside the map
  bool unknown_code = false;   // the interrupted pc is in no known module
};

class Unwinder {
 public:
  Unwinder();
  Unwinder(const Unwinder&) = delete;
  Unwinder& operator=(const Unwinder&) = delete;
  ~Unwinder();

  // Creates the address space and warms libunwind up by unwinding the
  // calling thread once. Not async-signal-safe.
  [[nodiscard]] Status Init(const AddressMap& map);

  // Writes the interrupted pc, then return addresses, into pcs[0..max_depth).
  // `own_stack_top`: nonzero when the context is the calling thread's own
  // (StackWalker::WalkHere, or a signal on this thread) and [context's sp,
  // own_stack_top) is known to be its live stack: words there are read
  // directly, not through the kernel. Async-signal-safe.
  UnwindResult Unwind(const ucontext_t& context, const AddressMap& map,
                      uint64_t* pcs, int max_depth,
                      uint64_t own_stack_top = 0) const noexcept;

  // Forgets cached unwind rules, after modules were unloaded.
  // Not async-signal-safe.
  void FlushCache();

  // The CFI fast path (cfi_rules.h) is on by default; off, every unwind
  // goes through libunwind. For tests and benchmarks that compare the two.
  void set_fast_path(bool on) { fast_path_ = on; }

  // Whether Unwinders created from now on start with the fast path on. For
  // tests that drive the libunwind path through a whole agent.
  static void SetDefaultFastPath(bool on);

 private:
  bool FastUnwind(const ucontext_t& context, const AddressMap& map,
                  void* accessor_args, uint64_t* pcs, int max_depth,
                  UnwindResult* result) const noexcept;

  void* address_space_ = nullptr;  // unw_addr_space_t
  // Mutable: the rule cache fills itself from inside const unwinds.
  mutable CfiRules rules_;
  bool fast_path_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_UNWIND_H_
