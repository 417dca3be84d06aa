// AddressMap is an immutable snapshot of the process's address space as the
// unwinder needs it: which ranges it may read (thread stacks, anonymous
// memory, loaded ELF segments) and, per loaded module, where its
// .eh_frame_hdr lookup table is. It is built on the collector thread (it
// allocates, reads /proc/self/maps and calls dl_iterate_phdr) so that the
// signal handler never calls into the loader: the dl_iterate_phdr deadlocks
// that every peer hit (LESSONS.md: gperftools #775/#1188, ClickHouse #60460).
//
// AddressMapHolder publishes the current snapshot to signal handlers with an
// atomic pointer and a reader count, so a new snapshot replaces the old one
// without locks on the reader side.
//
// Thread safety: AddressMap is immutable, hence thread-safe and its queries
// async-signal-safe. AddressMapHolder: Acquire/Release from any thread or
// signal handler; Publish() from one thread at a time.
#ifndef INPROF_AGENT_UNWIND_ADDRESS_MAP_H_
#define INPROF_AGENT_UNWIND_ADDRESS_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace inprof::internal {

// One loaded ELF object's code range and its binary-search table of FDEs.
struct UnwindModule {
  uint64_t text_start = 0;    // lowest executable address
  uint64_t text_end = 0;      // one past the highest executable address
  uint64_t eh_frame_hdr = 0;  // 0 when the module has no usable table
  uint64_t fde_table = 0;     // first (initial_loc, fde) pair
  uint64_t fde_count = 0;
  // The initial location (an offset from eh_frame_hdr) of every
  // kFdeIndexStride-th table entry, copied when the map is built: a search
  // of the table in a signal handler then costs one kernel read of at most
  // kFdeIndexStride entries instead of one per probe (cfi_rules.cc). Empty:
  // the whole table is searched.
  std::vector<int32_t> fde_index;

  // fde_index for signal handlers: its entries, read only.
  struct FdeIndexView {
    const int32_t* entries;
    uint64_t size;
  };
  FdeIndexView FdeIndex() const noexcept {
    return {fde_index.data(), fde_index.size()};
  }
};

inline constexpr uint64_t kFdeIndexStride = 32;

// The fde_index of a table of `count` (initial_location, fde) pairs of
// 4 bytes each at `table`, which must be readable directly. Not
// async-signal-safe.
std::vector<int32_t> SampleFdeTable(const uint8_t* table, uint64_t count);

struct AddressRange {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
};

class AddressMap {
 public:
  // Reads /proc/self/maps (anonymous memory and stacks) and the loader's
  // module list. Not async-signal-safe.
  static std::unique_ptr<AddressMap> Build();

  // For tests: a map made of the given pieces (sorted and merged here).
  AddressMap(std::vector<AddressRange> readable,
             std::vector<UnwindModule> modules);

  // True if [address, address + length) lies inside one readable range.
  // Async-signal-safe.
  bool IsReadable(uint64_t address, size_t length) const noexcept;

  // The readable range containing `address`, or an empty range.
  // Async-signal-safe.
  AddressRange RangeContaining(uint64_t address) const noexcept;

  // The module whose code contains `pc`, or nullptr. Async-signal-safe.
  const UnwindModule* ModuleFor(uint64_t pc) const noexcept;

  size_t readable_ranges() const { return readable_.size(); }
  size_t modules() const { return modules_.size(); }

 private:
  // Sorted, non-overlapping; adjacent mappings stay separate so that the
  // range holding a stack pointer is that stack's own mapping.
  std::vector<AddressRange> readable_;
  std::vector<UnwindModule> modules_;  // sorted by text_start
};

// The loader's module counters; they change on every dlopen/dlclose, so a
// cheap comparison tells the collector when to rebuild the map.
// Not async-signal-safe (takes the loader lock briefly).
struct LoaderGeneration {
  uint64_t adds = 0;
  uint64_t subs = 0;
  bool operator==(const LoaderGeneration&) const = default;
};
LoaderGeneration CurrentLoaderGeneration();

class AddressMapHolder {
 public:
  AddressMapHolder() = default;
  AddressMapHolder(const AddressMapHolder&) = delete;
  AddressMapHolder& operator=(const AddressMapHolder&) = delete;
  ~AddressMapHolder();

  // Pins the current map until Release(); nullptr if none was published.
  // Async-signal-safe.
  const AddressMap* Acquire() noexcept;
  void Release() noexcept;

  // Replaces the current map and frees the old one once no reader holds it.
  // Not async-signal-safe.
  void Publish(std::unique_ptr<AddressMap> map);

  // Set by a reader that met memory the map does not know (a new thread's
  // stack, a new module); the map is rebuilt soon after. True if this call
  // made the request (none was pending): the caller then wakes whoever
  // rebuilds. Async-signal-safe.
  bool RequestRefresh() noexcept {
    if (refresh_requested_.load(std::memory_order_relaxed)) return false;
    return !refresh_requested_.exchange(true, std::memory_order_relaxed);
  }
  bool RefreshRequested() const noexcept {
    return refresh_requested_.load(std::memory_order_relaxed);
  }
  bool TakeRefreshRequest() noexcept {
    return refresh_requested_.exchange(false, std::memory_order_relaxed);
  }

 private:
  // Read by signal handlers, written by Publish() (atomics only).
  std::atomic<const AddressMap*> current_{nullptr};
  std::atomic<int> readers_{0};
  std::atomic<bool> refresh_requested_{false};
  // Owned by the publishing thread.
  std::unique_ptr<AddressMap> owned_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_UNWIND_ADDRESS_MAP_H_
