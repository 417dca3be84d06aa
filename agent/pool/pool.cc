// The out-of-line half of inprof::Pool<T> (include/inprof/pool.h): the
// depot, the per-thread caches' life cycle, the counters and the registry
// that /debug/pools and /metrics read.
//
// Lifetimes. A pool owns its caches (one per thread that used it) and frees
// them, with their idle objects, when it is destroyed. Threads find their
// caches through a plain TLS table keyed by pool uid; uids are never
// reused, so a stale entry never matches a live pool. At thread exit a
// separate TLS object flushes the thread's caches into their pools, checking
// in the registry (which is never destroyed) that each pool is still alive.
// Lock order: the registry's mutex, then a pool's.

#include "inprof/pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace inprof {
namespace pool_internal {

__thread ThreadCaches inprof_pool_thread_caches = {};

namespace {

constexpr size_t kMinThreadCache = 2;
constexpr size_t kMaxThreadCache = 1024;
constexpr size_t kMaxIdle = size_t{1} << 24;

// Every live pool, by name and by uid. Never destroyed: threads may exit
// (and flush) after static destructors ran.
struct Registry {
  std::mutex mu;
  std::map<std::string, Core*> by_name;  // registered pools only
  std::map<uint64_t, Core*> by_uid;      // every live pool
  uint64_t next_uid = 1;
};

Registry& TheRegistry() {
  static Registry* const registry = new Registry();
  return *registry;
}

// Flushes this thread's caches at thread exit. Constructed on a thread's
// first cache only, so that the hot TLS table stays trivial.
struct ThreadExitFlush {
  ~ThreadExitFlush();
};
thread_local ThreadExitFlush t_exit_flush;

}  // namespace

struct Core::State {
  std::string name;
  PoolOptions options;
  TypeOps ops;
  const void* pool = nullptr;
  bool abort_on_misuse = false;
  bool registered = false;

  mutable std::mutex mu;
  std::vector<NodeHeader*> depot;  // guarded by mu
  std::set<Cache*> caches;         // guarded by mu
  // Counters of threads that exited, and of the cacheless slow path.
  uint64_t retired_acquired = 0;    // guarded by mu
  uint64_t retired_released = 0;    // guarded by mu
  mutable uint64_t high_water = 0;  // guarded by mu
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> misuses{0};

  // Sums over every cache; call under mu.
  void Sum(uint64_t& acquired, uint64_t& released, uint64_t& idle) const {
    acquired = retired_acquired;
    released = retired_released;
    idle = depot.size();
    for (const Cache* cache : caches) {
      acquired += cache->acquired.load(std::memory_order_relaxed);
      released += cache->released.load(std::memory_order_relaxed);
      idle += cache->count.load(std::memory_order_relaxed);
    }
  }
  // Updates the high-water mark from the current sums; call under mu.
  void NoteInUse() const {
    uint64_t acquired, released, idle;
    Sum(acquired, released, idle);
    if (acquired > released && acquired - released > high_water) {
      high_water = acquired - released;
    }
  }
  // Keeps `node` in the depot, or destroys it past the idle bound; under mu.
  void Stash(NodeHeader* node) {
    if (depot.size() < options.max_idle) {
      depot.push_back(node);
    } else {
      dropped.fetch_add(1, std::memory_order_relaxed);
      ops.destroy(node);
    }
  }
  // Moves the cache's objects (all, or its older half) to the depot and
  // folds its counters; under mu.
  void Drain(Cache* cache, uint32_t keep) {
    const uint32_t count = cache->count.load(std::memory_order_relaxed);
    for (uint32_t i = keep; i < count; ++i) Stash(cache->items[i - keep]);
    // Keep the most recently returned (warm) objects at the bottom.
    for (uint32_t i = 0; i < keep && count > keep; ++i) {
      cache->items[i] = cache->items[count - keep + i];
    }
    cache->count.store(count < keep ? count : keep, std::memory_order_relaxed);
  }
};

namespace {

void FreeCache(Cache* cache) {
  delete[] cache->items;
  delete cache;
}

}  // namespace

// Reaches Core's privates for the thread-exit path.
struct CoreAccess {
  // Moves a cache's objects and counts into its pool and frees it.
  static void Retire(Core& core, Cache* cache) {
    Core::State& state = *core.state_;
    std::lock_guard<std::mutex> lock(state.mu);
    state.Drain(cache, 0);
    state.retired_acquired += cache->acquired.load(std::memory_order_relaxed);
    state.retired_released += cache->released.load(std::memory_order_relaxed);
    state.caches.erase(cache);
    FreeCache(cache);
  }
};

namespace {

ThreadExitFlush::~ThreadExitFlush() {
  ThreadCaches& table = inprof_pool_thread_caches;
  ThreadCaches mine = table;
  table = ThreadCaches{};  // a later destructor that uses a pool starts over
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> registry_lock(registry.mu);
  for (int slot = 0; slot < ThreadCaches::kSlots; ++slot) {
    auto it = registry.by_uid.find(mine.uid[slot]);
    if (mine.uid[slot] == 0 || it == registry.by_uid.end()) continue;
    CoreAccess::Retire(*it->second, mine.cache[slot]);
  }
}

}  // namespace

Core::Core(std::string name, PoolOptions options, TypeOps ops, const void* pool,
           bool abort_on_misuse)
    : uid_([] {
        Registry& registry = TheRegistry();
        std::lock_guard<std::mutex> lock(registry.mu);
        return registry.next_uid++;
      }()),
      state_(new State()) {
  State& state = *state_;
  if (options.thread_cache < kMinThreadCache ||
      options.thread_cache > kMaxThreadCache || options.max_idle > kMaxIdle) {
    status_ =
        InvalidArgumentError("pool \"" + name +
                             "\": thread_cache must be 2..1024 and max_idle at "
                             "most 16777216; clamped");
    options.thread_cache =
        std::clamp(options.thread_cache, kMinThreadCache, kMaxThreadCache);
    options.max_idle = std::min(options.max_idle, kMaxIdle);
  }
  state.name = std::move(name);
  state.options = options;
  state.ops = ops;
  state.pool = pool;
  state.abort_on_misuse = abort_on_misuse;
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.by_uid[uid_] = this;
  if (registry.by_name.emplace(state.name, this).second) {
    state.registered = true;
  } else {
    status_ = AlreadyExistsError("a pool named \"" + state.name +
                                 "\" already exists; this one is not listed "
                                 "in /debug/pools");
    std::fprintf(stderr, "inprof: %s\n", status_.message().c_str());
  }
}

Core::~Core() {
  State& state = *state_;
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> registry_lock(registry.mu);
  registry.by_uid.erase(uid_);
  if (state.registered) registry.by_name.erase(state.name);
  std::lock_guard<std::mutex> lock(state.mu);
  for (NodeHeader* node : state.depot) state.ops.destroy(node);
  // Other threads' table entries for this pool stay behind, but uids are
  // never reused, so they never match again.
  for (Cache* cache : state.caches) {
    const uint32_t count = cache->count.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < count; ++i) state.ops.destroy(cache->items[i]);
    FreeCache(cache);
  }
  ThreadCaches& table = inprof_pool_thread_caches;
  const int slot = static_cast<int>(uid_ % ThreadCaches::kSlots);
  if (table.uid[slot] == uid_) {
    table.uid[slot] = 0;
    table.cache[slot] = nullptr;
  }
}

NodeHeader* Core::AcquireSlow() {
  State& state = *state_;
  Cache* cache = LocalCache();
  if (cache == nullptr) cache = InstallCache();
  NodeHeader* node = nullptr;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (cache != nullptr) {
      // Refill half the cache in one go, so the next hand-outs are local.
      uint32_t count = cache->count.load(std::memory_order_relaxed);
      while (count < cache->capacity / 2 && !state.depot.empty()) {
        cache->items[count++] = state.depot.back();
        state.depot.pop_back();
      }
      if (count > 0) node = cache->items[--count];
      cache->count.store(count, std::memory_order_relaxed);
    } else if (!state.depot.empty()) {
      node = state.depot.back();
      state.depot.pop_back();
    }
  }
  const bool made = node == nullptr;
  if (made) {  // outside the lock: the factory may be slow, or throw
    node = state.ops.create(state.pool);
    node->owner = this;
    node->refs.store(0, std::memory_order_relaxed);
  }
  node->state.store(NodeHeader::kOut, std::memory_order_relaxed);
  // Counted once it happened (a throwing factory counts nothing).
  if (cache != nullptr) Bump(cache->acquired);
  if (made || cache == nullptr) {
    std::lock_guard<std::mutex> lock(state.mu);
    if (cache == nullptr) ++state.retired_acquired;
    if (made) state.created.fetch_add(1, std::memory_order_relaxed);
    state.NoteInUse();
  }
  return node;
}

void Core::ReleaseSlow(NodeHeader* node) {
  State& state = *state_;
  Cache* cache = LocalCache();
  if (cache == nullptr) cache = InstallCache();
  std::lock_guard<std::mutex> lock(state.mu);
  if (cache == nullptr) {
    state.Stash(node);
    ++state.retired_released;
    return;
  }
  // The cache is full: its older half goes to the depot (one batch).
  state.Drain(cache, cache->capacity / 2);
  const uint32_t count = cache->count.load(std::memory_order_relaxed);
  cache->items[count] = node;
  cache->count.store(count + 1, std::memory_order_relaxed);
  Bump(cache->released);
}

Cache* Core::InstallCache() {
  ThreadCaches& table = inprof_pool_thread_caches;
  const int slot = static_cast<int>(uid_ % ThreadCaches::kSlots);
  {
    Registry& registry = TheRegistry();
    std::lock_guard<std::mutex> lock(registry.mu);
    // The slot may hold a live pool's cache (uids that share a slot): this
    // thread then uses the depot directly for this pool.
    if (table.uid[slot] != 0 && registry.by_uid.count(table.uid[slot]) != 0) {
      return nullptr;
    }
  }
  (void)&t_exit_flush;  // constructs this thread's exit hook
  auto* cache = new Cache();
  cache->capacity = static_cast<uint32_t>(state_->options.thread_cache);
  cache->items = new NodeHeader*[cache->capacity];
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->caches.insert(cache);
  }
  table.uid[slot] = uid_;
  table.cache[slot] = cache;
  return cache;
}

void Core::Misuse(NodeHeader* node) {
  State& state = *state_;
  state.misuses.fetch_add(1, std::memory_order_relaxed);
  if (!state.abort_on_misuse) return;
  const char* what = node->owner != this
                         ? "was returned to a pool that did not make it"
                         : "was returned twice (or after its last release)";
  std::fprintf(stderr, "inprof::Pool \"%s\": object %p %s\n",
               state.name.c_str(), static_cast<void*>(node), what);
  std::abort();
}

PoolStats Core::Stats() const {
  const State& state = *state_;
  PoolStats stats;
  stats.name = state.name;
  std::lock_guard<std::mutex> lock(state.mu);
  state.Sum(stats.acquired, stats.released, stats.idle);
  state.NoteInUse();
  stats.created = state.created.load(std::memory_order_relaxed);
  stats.dropped = state.dropped.load(std::memory_order_relaxed);
  stats.misuses = state.misuses.load(std::memory_order_relaxed);
  stats.in_use =
      stats.acquired > stats.released ? stats.acquired - stats.released : 0;
  stats.high_water = state.high_water;
  return stats;
}

}  // namespace pool_internal

std::vector<PoolStats> AllPoolStats() {
  pool_internal::Registry& registry = pool_internal::TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  std::vector<PoolStats> all;
  for (const auto& [name, core] : registry.by_name)
    all.push_back(core->Stats());
  return all;
}

}  // namespace inprof
