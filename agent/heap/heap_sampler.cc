#include "agent/heap/heap_sampler.h"

#include <pthread.h>

// SIGNAL CONTEXT. NewHook(), DeleteHook() and what they call run inside
// malloc and free, on any thread, possibly inside a signal handler that
// allocates: no allocation, no locks, no stdio; thread_locals are trivial and
// initial-exec. The rest is marked. See agent/unwind/unwind.h for the rules.

#include <time.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <thread>

#include "agent/base/agent_thread.h"
#include "agent/base/clock.h"
#include "agent/base/fast_random.h"
#include "agent/base/thread_labels.h"
#include "agent/heap/heap_hooks.h"

__thread int64_t inprof_heap_countdown = 0;

namespace inprof::internal {

std::atomic<HeapTables*> g_heap_tables{nullptr};

namespace {

// The sampler the hooks report to; cleared before the hooks are removed.
std::atomic<HeapSampler*> g_sampler{nullptr};
// Slow-path hook calls in progress; the destructor waits for zero.
std::atomic<int> g_in_flight{0};

// False until this thread drew its first sampling point.
__attribute__((tls_model("initial-exec"))) thread_local bool t_started = false;
// Set while this thread takes a sample: an allocation made meanwhile (by a
// signal handler that interrupted it) is not sampled.
__attribute__((tls_model("initial-exec"))) thread_local bool t_sampling = false;

// With sampling off (rate 0, or no sampler), a thread still visits the slow
// path every 64 MiB, so that turning sampling back on reaches every thread.
constexpr int64_t kOffCountdown = int64_t{64} << 20;
constexpr int64_t kMaxCountdown = int64_t{1} << 40;

// Bytes until the next sample: exponential with mean `rate` (a Poisson
// process over allocated bytes, as Go's and tcmalloc's samplers).
int64_t DrawCountdown(int64_t rate) noexcept {
  if (rate <= 0) return kOffCountdown;
  if (rate == 1) return 1;
  double bytes = -std::log(NextUniform()) * static_cast<double>(rate);
  if (bytes < 1) return 1;
  if (bytes > static_cast<double>(kMaxCountdown)) return kMaxCountdown;
  return static_cast<int64_t>(bytes);
}

// 1 / P(an allocation of `size` bytes is sampled), in kWeightOne units.
uint32_t SampleWeight(uint64_t size, int64_t rate) noexcept {
  if (rate <= 1 || size == 0) return kWeightOne;
  double p =
      -std::expm1(-static_cast<double>(size) / static_cast<double>(rate));
  double weight = static_cast<double>(kWeightOne) / p;
  if (weight >= static_cast<double>(std::numeric_limits<uint32_t>::max())) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(std::lround(weight));
}

}  // namespace

std::atomic<bool> g_sample_front{true};

// The linker's bounds of the INPROF_HEAP_PATH section, in the object this
// file is linked into (the program or libinprof_preload.so).
extern "C" const char __start_inprof_heap_path[]
    __attribute__((weak, visibility("hidden")));
extern "C" const char __stop_inprof_heap_path[]
    __attribute__((weak, visibility("hidden")));

bool InHeapPath(uint64_t pc) noexcept {
  return pc >= reinterpret_cast<uint64_t>(__start_inprof_heap_path) &&
         pc < reinterpret_cast<uint64_t>(__stop_inprof_heap_path);
}

void AllocationSlowPath(const void* ptr, size_t size, uint64_t hook_return,
                        bool from_front) noexcept {
  // Not the way in use (a program whose hooks are driven by hand, in tests):
  // as if this allocation had not counted down.
  if (from_front != g_sample_front.load(std::memory_order_relaxed)) {
    inprof_heap_countdown += static_cast<int64_t>(size);
    return;
  }
  // The agent's own threads are not sampled, as the contention profiler
  // does not time them: at a small rate, building a heap profile allocates
  // enough to fill the next one with the agent's own records (17,000 after a
  // few fetches at rate 1024), each fetch slower than the last.
  if (IsAgentThread()) {
    inprof_heap_countdown = kMaxCountdown;
    return;
  }
  if (t_sampling) {
    inprof_heap_countdown = 1;  // retry on this thread's next allocation
    return;
  }
  t_sampling = true;
  g_in_flight.fetch_add(1, std::memory_order_seq_cst);
  HeapSampler* sampler = g_sampler.load(std::memory_order_seq_cst);
  if (sampler == nullptr) {
    inprof_heap_countdown = kOffCountdown;
  } else {
    const int64_t rate = sampler->rate();
    if (t_started && ptr != nullptr && rate > 0) {
      SampleAllocation(*sampler, ptr, size, hook_return);
    }
    inprof_heap_countdown = DrawCountdown(rate);
    t_started = true;
  }
  g_in_flight.fetch_sub(1, std::memory_order_seq_cst);
  t_sampling = false;
}

namespace {

void NewHook(const void* ptr, size_t size) {
  OnAllocation(ptr, size,
               reinterpret_cast<uint64_t>(__builtin_return_address(0)),
               /*from_front=*/false);
}

void DeleteHook(const void* ptr) { OnFree(ptr); }

}  // namespace

// The index of the first frame that is not ours.
int FirstCallerFrame(const uint64_t* pcs, int depth, uint64_t hook_return) {
  if (hook_return == 0) {
    // The front: its functions and this path are INPROF_HEAP_PATH (the
    // front's slow path may be a tail call, so its caller's frame is next).
    int first = 0;
    while (first < depth && InHeapPath(pcs[first])) ++first;
    return first < depth ? first : 0;
  }
  // A hook: our own frames end where it returns into the allocator, whose
  // frames are pruned by name when the profile is built.
  for (int i = 0; i < depth; ++i) {
    if (pcs[i] == hook_return) return i;
  }
  return 0;
}

INPROF_HEAP_PATH void SampleAllocation(HeapSampler& sampler, const void* ptr,
                                       uint64_t size,
                                       uint64_t hook_return) noexcept {
  const uint64_t start = MonotonicNanos();
  uint64_t pcs[kHeapMaxDepth];
  StackWalk walk = sampler.walker_->WalkHere(pcs, kHeapMaxDepth);
  const int first = FirstCallerFrame(pcs, walk.depth, hook_return);
  HeapTables& tables = *sampler.tables_;
  const uint32_t weight = SampleWeight(size, sampler.rate());
  const uint32_t bucket = tables.FindOrAddBucket(
      pcs + first, walk.depth - first, size, CurrentLabelSet());
  tables.RecordAlloc(bucket, weight, size);
  if (!tables.AddLive(ptr, bucket, weight, size)) {
    // Untracked blocks are charged as freed at once: the in-use figures
    // undercount them for a while instead of leaking them forever.
    tables.RecordFree(bucket, weight, size);
    sampler.untracked_.fetch_add(1, std::memory_order_relaxed);
  }
  sampler.samples_.fetch_add(1, std::memory_order_relaxed);
  sampler.nanos_.fetch_add(MonotonicNanos() - start, std::memory_order_relaxed);
}

// NOT SIGNAL CONTEXT BEGIN: setup, teardown and readers

Status ValidateHeapSampleRate(int64_t rate) {
  if (rate < 0 || rate > (int64_t{1} << 30)) {
    return InvalidArgumentError("heap sample rate " + std::to_string(rate) +
                                ": must be 0 (off) to 1073741824 bytes");
  }
  return OkStatus();
}

HeapSampler::HeapSampler(const TcmallocApi* tcmalloc, StackWalker* walker,
                         HeapTables* tables, int64_t rate, bool use_front)
    : tcmalloc_(tcmalloc),
      use_front_(use_front),
      walker_(walker),
      tables_(tables),
      rate_(rate) {}

StatusOr<std::unique_ptr<HeapSampler>> HeapSampler::Start(
    const TcmallocApi* tcmalloc, StackWalker* walker, int64_t rate,
    AllocationSource source) {
  Status valid = ValidateHeapSampleRate(rate);
  if (!valid.ok()) return valid;
  const bool use_front =
      source == AllocationSource::kAuto && MallocFrontInUse();
  if (!use_front && tcmalloc == nullptr) {
    return UnimplementedError(
        !MallocFrontCompiledIn()
            ? "a sanitizer's runtime is the allocator: heap profiles need a "
              "build without AddressSanitizer and ThreadSanitizer"
            : "inprof's malloc front is not the process's malloc (an "
              "allocator loaded before it defines malloc) and that allocator "
              "is not tcmalloc: put libinprof_preload.so first in LD_PRELOAD");
  }
  // A forked child has only the forking thread, which is in no hook: hooks
  // its parent's other threads were running never finish there.
  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once, [] {
    pthread_atfork(nullptr, nullptr, [] { g_in_flight.store(0); });
  });
  HeapTables* tables = HeapTables::Get();
  if (tables == nullptr) {
    return InternalError("cannot map the heap profile's tables");
  }
  if (g_sampler.load() != nullptr) {
    return FailedPreconditionError("a heap sampler is already running");
  }
  tables->Reset();
  if (rate > 0) tables->PopulateIndexes();
  g_heap_tables.store(tables, std::memory_order_seq_cst);
  g_sample_front.store(use_front, std::memory_order_seq_cst);
  std::unique_ptr<HeapSampler> sampler(
      new HeapSampler(tcmalloc, walker, tables, rate, use_front));
  g_sampler.store(sampler.get(), std::memory_order_seq_cst);
  // Hooks cost every malloc and free their fast path: none while the rate
  // is 0, and none at all when the front calls us already.
  if (rate > 0) {
    std::lock_guard<std::mutex> lock(sampler->hooks_mu_);
    Status hooked = sampler->InstallHooksLocked();
    if (!hooked.ok()) {
      g_sampler.store(nullptr);
      return hooked;
    }
  }
  return sampler;
}

Status HeapSampler::InstallHooksLocked() {
  if (hooks_installed_ || use_front_) return OkStatus();
  if (!tcmalloc_->add_delete_hook(DeleteHook)) {
    return InternalError("tcmalloc refused the delete hook");
  }
  if (!tcmalloc_->add_new_hook(NewHook)) {
    tcmalloc_->remove_delete_hook(DeleteHook);
    return InternalError("tcmalloc refused the new hook");
  }
  hooks_installed_ = true;
  return OkStatus();
}

HeapSampler::~HeapSampler() {
  g_sampler.store(nullptr, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(hooks_mu_);
  if (hooks_installed_) {
    tcmalloc_->remove_new_hook(NewHook);
    tcmalloc_->remove_delete_hook(DeleteHook);
  }
  // A hook that loaded the sampler before it was cleared may still use the
  // walker: wait for it. The tables outlive everything.
  while (g_in_flight.load(std::memory_order_seq_cst) != 0) {
    std::this_thread::yield();
  }
}

Status HeapSampler::set_rate(int64_t rate) {
  Status valid = ValidateHeapSampleRate(rate);
  if (!valid.ok()) return valid;
  if (rate > 0) {
    std::lock_guard<std::mutex> lock(hooks_mu_);
    Status hooked = InstallHooksLocked();
    if (!hooked.ok()) return hooked;
  }
  rate_.store(rate, std::memory_order_relaxed);
  return OkStatus();
}

HeapSamplerStats HeapSampler::stats() const {
  HeapSamplerStats stats;
  stats.samples = samples_.load(std::memory_order_relaxed);
  stats.untracked = untracked_.load(std::memory_order_relaxed);
  stats.overflowed = tables_->overflowed();
  stats.live_blocks = tables_->live_blocks();
  stats.nanos_in_sampler = nanos_.load(std::memory_order_relaxed);
  return stats;
}

// NOT SIGNAL CONTEXT END

}  // namespace inprof::internal
