// CfiRules finds, for a code address, how to step to the caller's frame, in
// the compact form that covers nearly all x86-64 code a compiler emits: the
// canonical frame address (CFA) is RSP or RBP plus a constant, the return
// address is saved at CFA + k, and RBP is either untouched or saved at
// CFA + m. The rule comes from the module's .eh_frame (through the
// .eh_frame_hdr search table the AddressMap found), interpreted here once per
// address and then kept in a lock-free cache: a hashed table of 64 Ki
// rules (1 MiB), behind one page of the rules used last (direct-mapped),
// because a handler that runs once per 10 ms of a thread's CPU finds the
// table's lines and page-table entries evicted by the program (a cache and a
// TLB miss per frame, a third of the handler's time, measured with perf).
//
// Why: libunwind's own rule cache takes a lock with all signals masked for
// every frame (two rt_sigprocmask system calls per frame, most of the cost
// of an unwind). Anything this small interpreter does not handle (DWARF
// expressions, signal frames, PLT stubs, other CFA registers) is reported as
// unsupported and the caller unwinds with libunwind instead.
//
// Thread safety: Find() is lock-free and async-signal-safe; Flush() may run
// concurrently with it (entries of older generations are ignored).
#ifndef INPROF_AGENT_UNWIND_CFI_RULES_H_
#define INPROF_AGENT_UNWIND_CFI_RULES_H_

// SIGNAL CONTEXT. Find() and the interpreter run inside the CPU signal
// handler and inside allocation hooks; see unwind.h for the rules.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "agent/unwind/address_map.h"

namespace inprof::internal {

struct FrameRule {
  bool supported = false;
  bool outermost = false;   // the return address is undefined: stack ends
  bool cfa_is_rbp = false;  // else RSP
  int32_t cfa_offset = 0;
  int32_t ra_offset = 0;   // return address at CFA + ra_offset
  bool rbp_saved = false;  // RBP at CFA + rbp_offset, else unchanged
  int32_t rbp_offset = 0;
};

// Reads `length` bytes at `address` into `out`; false if unreadable.
using MemoryReader = bool (*)(uint64_t address, void* out, size_t length,
                              void* arg) noexcept;

class CfiRules {
 public:
  // Maps the cache, resident from the start (1 MiB). Not async-signal-safe.
  CfiRules();
  ~CfiRules();
  CfiRules(const CfiRules&) = delete;
  CfiRules& operator=(const CfiRules&) = delete;

  // The rule in force at `pc` (for a caller frame: its return address - 1).
  FrameRule Find(const UnwindModule& module, uint64_t pc, MemoryReader read,
                 void* arg) noexcept;

  // Forgets every cached rule (modules were unloaded).
  void Flush() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }

  // The hot page's entry for `pc`. Exposed for tests.
  static uint32_t HotSlot(uint64_t pc) noexcept;

  // Interprets the CFI for `pc` without the cache. Exposed for tests.
  static FrameRule Compute(const UnwindModule& module, uint64_t pc,
                           MemoryReader read, void* arg) noexcept;

 private:
  static constexpr uint32_t kCapacity = 1u << 16;
  static constexpr int kMaxProbe = 16;
  // The hot cache: one page, in front of the table.
  static constexpr uint32_t kHotCapacity = 4096 / 16;

  // 16 bytes: kCapacity entries take 1 MiB (a whole FrameRule per entry
  // took twice that). `value` holds the rule and the generation it was
  // found in (PackRule in the .cc); a rule that does not fit is not cached.
  struct Entry {
    std::atomic<uint64_t> key;  // pc; 0 empty, 1 being filled
    std::atomic<uint64_t> value;
  };

  // Direct-mapped, overwritten on a miss; `key` is the pc mixed with the
  // value (HotKey in the .cc), so a pair torn by two writers never matches.
  struct HotEntry {
    std::atomic<uint64_t> key;
    std::atomic<uint64_t> value;
  };

  static constexpr size_t kMappedBytes =
      sizeof(HotEntry) * kHotCapacity + sizeof(Entry) * kCapacity;

  // The hot page's entry for a pc of hash `hash` (PcHash in the .cc).
  static uint32_t HotIndex(uint64_t hash) noexcept;

  FrameRule FindInTable(const UnwindModule& module, uint64_t pc, uint64_t hash,
                        uint32_t generation, MemoryReader read, void* arg,
                        uint64_t* packed) noexcept;

  // kHotCapacity hot entries (one page), then kCapacity entries; null if
  // mmap failed.
  HotEntry* hot_ = nullptr;
  Entry* entries_ = nullptr;
  std::atomic<uint32_t> generation_{1};
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_CFI_RULES_H_
