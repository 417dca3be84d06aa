// -----------------------------------------------------------------------------
// File: inprof/pool.h
// -----------------------------------------------------------------------------
//
// Pool<T> recycles objects of type T through per-thread caches over a shared
// depot and counts creations versus hand-outs, so /debug/pools (and
// /metrics) report each pool's reuse ratio: hand-outs per creation.
//
// Example:
//
//   inprof::Pool<Request> pool("requests");            // name: unique
//   {
//     inprof::PoolPtr<Request> request = pool.Get();  // reused or created
//     request->Parse(...);
//   }                                     // reset and back in the pool
//
//   // Shared across threads: the last holder gives it back.
//   inprof::SharedPoolPtr<Request> shared = pool.Get().Share();
//
// Objects come back reset: the pool calls the reset hook given at
// construction (default: nothing) before an object is handed out again.
// Idle objects are bounded (PoolOptions::max_idle); past the bound a returned
// object is destroyed and counted as dropped.
//
#ifndef INPROF_POOL_H_
#define INPROF_POOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "inprof/export.h"
#include "inprof/status.h"

namespace inprof {

// PoolOptions
//
// Thread safety: thread-compatible (a value type).
struct PoolOptions {
  // Idle objects kept, in the depot and every thread's cache together (the
  // caches may exceed it by one batch each while a thread is busy).
  size_t max_idle = 1024;
  // Objects a thread keeps for itself before handing a batch of half of
  // them to the depot. 2..1024.
  size_t thread_cache = 64;
};

// PoolStats
//
// A snapshot of one pool's counters. Counts are since the pool was built.
// `in_use` and `idle` are read from several threads without stopping them,
// so they may be off by a few objects while the pool is busy.
//
// Thread safety: thread-compatible (a value type).
struct PoolStats {
  std::string name;
  uint64_t created = 0;     // objects made by the factory
  uint64_t acquired = 0;    // hand-outs (Get)
  uint64_t released = 0;    // returns (the last holder let go)
  uint64_t dropped = 0;     // returned objects destroyed: idle bound reached
  uint64_t misuses = 0;     // returns refused: twice, or to the wrong pool
  uint64_t in_use = 0;      // handed out, not yet returned
  uint64_t idle = 0;        // kept for reuse
  uint64_t high_water = 0;  // most objects in use at once (approximate)
  // Hand-outs per creation; 10-15 is typical of a pool that works.
  double reuse_ratio() const {
    return created == 0
               ? 0.0
               : static_cast<double>(acquired) / static_cast<double>(created);
  }
};

// Returns every registered pool's counters, sorted by name.
[[nodiscard]] INPROF_EXPORT std::vector<PoolStats> AllPoolStats();

namespace pool_internal {

// Each object lives after this header, which the pool uses to catch misuse
// (a second return, a return to the wrong pool) and to count references of
// shared handles.
struct alignas(16) NodeHeader {
  class Core* owner;
  std::atomic<uint32_t> state;  // kIdle or kOut
  std::atomic<uint32_t> refs;   // holders of a SharedPoolPtr
  static constexpr uint32_t kIdle = 0x1D1E;
  static constexpr uint32_t kOut = 0x0077;
};

// One thread's cache of one pool. Written by its thread only; the counters
// are read by other threads for statistics.
struct alignas(128) Cache {
  std::atomic<uint32_t> count{0};  // objects in `items`
  uint32_t capacity = 0;           // PoolOptions::thread_cache
  std::atomic<uint64_t> acquired{0};
  std::atomic<uint64_t> released{0};
  NodeHeader** items = nullptr;
};

// Where a thread finds its caches: a small table keyed by pool uid (never
// reused). Trivially destructible, so that reading it is a plain TLS load;
// thread exit is handled separately (pool.cc).
struct ThreadCaches {
  static constexpr int kSlots = 16;
  uint64_t uid[kSlots];
  Cache* cache[kSlots];
};
extern INPROF_EXPORT __thread ThreadCaches inprof_pool_thread_caches
    __attribute__((tls_model("initial-exec")));

// How a Core makes and destroys the objects of one Pool<T>.
struct TypeOps {
  NodeHeader* (*create)(const void* pool);
  void (*destroy)(NodeHeader* node);
};

// Only the owner writes it: no read-modify-write needed.
inline void Bump(std::atomic<uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1,
                std::memory_order_relaxed);
}

// The type-independent part of a pool: depot, caches, counters, registry.
// Ownership: owned by its Pool<T>.
// Thread safety: thread-safe.
class INPROF_EXPORT Core {
 public:
  // `abort_on_misuse`: stop the process on a misuse (debug builds of the
  // user's code) instead of only counting it.
  Core(std::string name, PoolOptions options, TypeOps ops, const void* pool,
       bool abort_on_misuse);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const Status& status() const { return status_; }

  // The calling thread's cache, or nullptr (it has none yet).
  Cache* LocalCache() const noexcept {
    ThreadCaches& table = inprof_pool_thread_caches;
    const int slot = static_cast<int>(uid_ % ThreadCaches::kSlots);
    return table.uid[slot] == uid_ ? table.cache[slot] : nullptr;
  }

  NodeHeader* Acquire() {
    Cache* cache = LocalCache();
    if (cache != nullptr) [[likely]] {
      const uint32_t count = cache->count.load(std::memory_order_relaxed);
      if (count > 0) [[likely]] {
        NodeHeader* node = cache->items[count - 1];
        cache->count.store(count - 1, std::memory_order_relaxed);
        Bump(cache->acquired);
        node->state.store(NodeHeader::kOut, std::memory_order_relaxed);
        return node;
      }
    }
    return AcquireSlow();
  }

  // First half of a return: false (and the misuse counted, or the process
  // stopped) unless `node` is this pool's and out. `exact`: decide with one
  // atomic exchange, so that even two returns racing on two threads cannot
  // both pass (debug builds); otherwise a load and a store, which catch
  // every return of an object already returned at a third of the cost.
  bool BeginRelease(NodeHeader* node, bool exact) {
    if (node->owner != this) [[unlikely]] {
      Misuse(node);
      return false;
    }
    bool out;
    if (exact) {
      out = node->state.exchange(NodeHeader::kIdle,
                                 std::memory_order_acq_rel) == NodeHeader::kOut;
    } else {
      out = node->state.load(std::memory_order_relaxed) == NodeHeader::kOut;
      if (out) node->state.store(NodeHeader::kIdle, std::memory_order_relaxed);
    }
    if (!out) [[unlikely]] {
      Misuse(node);
      return false;
    }
    return true;
  }

  // Second half, once the object is reset: keeps it for reuse.
  void FinishRelease(NodeHeader* node) {
    Cache* cache = LocalCache();
    if (cache != nullptr) [[likely]] {
      const uint32_t count = cache->count.load(std::memory_order_relaxed);
      if (count < cache->capacity) [[likely]] {
        cache->items[count] = node;
        cache->count.store(count + 1, std::memory_order_relaxed);
        Bump(cache->released);
        return;
      }
    }
    ReleaseSlow(node);
  }

  PoolStats Stats() const;

 private:
  NodeHeader* AcquireSlow();
  void ReleaseSlow(NodeHeader* node);
  // Gives this thread a cache for this pool; nullptr if its table slot is
  // taken by another live pool (this thread then uses the depot directly).
  Cache* InstallCache();
  void Misuse(NodeHeader* node);

  friend struct CoreAccess;
  const uint64_t uid_;
  struct State;
  std::unique_ptr<State> state_;  // depot, caches, counters (pool.cc)
  Status status_;
};

template <typename T>
struct Node {
  NodeHeader header;
  T value;
  template <typename... Args>
  explicit Node(Args&&... args) : value(std::forward<Args>(args)...) {}
};

// The Node holding `value`: its header sits right before it.
template <typename T>
Node<T>* NodeOf(T* value) {
  constexpr size_t kOffset =
      (sizeof(NodeHeader) + alignof(T) - 1) / alignof(T) * alignof(T);
  return reinterpret_cast<Node<T>*>(reinterpret_cast<char*>(value) - kOffset);
}

// Idle objects are poisoned for AddressSanitizer, so that a use after the
// return is reported.
#if defined(__SANITIZE_ADDRESS__)
#define INPROF_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INPROF_POOL_ASAN 1
#endif
#endif
#if defined(INPROF_POOL_ASAN)
extern "C" void __asan_poison_memory_region(void const volatile*, size_t);
extern "C" void __asan_unpoison_memory_region(void const volatile*, size_t);
template <typename T>
void Poison(Node<T>* node) {
  __asan_poison_memory_region(&node->value, sizeof(T));
}
template <typename T>
void Unpoison(Node<T>* node) {
  __asan_unpoison_memory_region(&node->value, sizeof(T));
}
#else
template <typename T>
void Poison(Node<T>*) {}
template <typename T>
void Unpoison(Node<T>*) {}
#endif
#undef INPROF_POOL_ASAN

#if defined(NDEBUG)
inline constexpr bool kAbortOnMisuse = false;
#else
inline constexpr bool kAbortOnMisuse = true;
#endif

}  // namespace pool_internal

template <typename T>
class Pool;
template <typename T>
class SharedPoolPtr;

// PoolPtr<T>
//
// Owns one object of a Pool<T> while it is out: like std::unique_ptr, and
// its destructor gives the object back to its pool (reset). Move-only.
//
// Ownership: the pool must outlive the PoolPtr.
// Thread safety: thread-compatible; may be moved to and destroyed on another
// thread.
template <typename T>
class PoolPtr {
 public:
  PoolPtr() noexcept = default;
  PoolPtr(PoolPtr&& other) noexcept
      : pool_(other.pool_), node_(std::exchange(other.node_, nullptr)) {}
  PoolPtr& operator=(PoolPtr&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = other.pool_;
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  PoolPtr(const PoolPtr&) = delete;
  PoolPtr& operator=(const PoolPtr&) = delete;
  ~PoolPtr() { reset(); }

  T* get() const noexcept { return node_ ? &node_->value : nullptr; }
  T& operator*() const noexcept { return node_->value; }
  T* operator->() const noexcept { return &node_->value; }
  explicit operator bool() const noexcept { return node_ != nullptr; }

  // Gives the object back now.
  void reset() noexcept;

  // Gives up ownership without returning the object: hand it back later
  // with Pool::Put(). Returns nullptr if empty.
  [[nodiscard]] T* release() noexcept {
    return node_ ? &std::exchange(node_, nullptr)->value : nullptr;
  }

  // Turns this handle into a reference-counted one (this becomes empty).
  [[nodiscard]] SharedPoolPtr<T> Share() &&;

 private:
  friend class Pool<T>;
  PoolPtr(Pool<T>* pool, pool_internal::Node<T>* node)
      : pool_(pool), node_(node) {}
  Pool<T>* pool_ = nullptr;
  pool_internal::Node<T>* node_ = nullptr;
};

// SharedPoolPtr<T>
//
// A reference-counted handle to one pooled object, for objects passed
// between threads: copying adds a reference; when the last one goes, the
// object is reset and returned to its pool (on the thread that let go).
//
// Ownership: shared; the pool must outlive every copy.
// Thread safety: like std::shared_ptr: distinct copies may be used and
// destroyed on different threads at once; the object itself is not
// synchronized.
template <typename T>
class SharedPoolPtr {
 public:
  SharedPoolPtr() noexcept = default;
  SharedPoolPtr(const SharedPoolPtr& other) noexcept
      : pool_(other.pool_), node_(other.node_) {
    if (node_) node_->header.refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedPoolPtr(SharedPoolPtr&& other) noexcept
      : pool_(other.pool_), node_(std::exchange(other.node_, nullptr)) {}
  SharedPoolPtr& operator=(SharedPoolPtr other) noexcept {
    std::swap(pool_, other.pool_);
    std::swap(node_, other.node_);
    return *this;
  }
  ~SharedPoolPtr() { reset(); }

  T* get() const noexcept { return node_ ? &node_->value : nullptr; }
  T& operator*() const noexcept { return node_->value; }
  T* operator->() const noexcept { return &node_->value; }
  explicit operator bool() const noexcept { return node_ != nullptr; }
  // Holders of this object now (a hint while other threads copy or drop).
  uint32_t use_count() const noexcept {
    return node_ ? node_->header.refs.load(std::memory_order_relaxed) : 0;
  }

  // Drops this reference; the last one returns the object.
  void reset() noexcept;

 private:
  friend class PoolPtr<T>;
  SharedPoolPtr(Pool<T>* pool, pool_internal::Node<T>* node)
      : pool_(pool), node_(node) {}
  Pool<T>* pool_ = nullptr;
  pool_internal::Node<T>* node_ = nullptr;
};

// Pool<T>
//
// Makes objects with `factory` (default: T's default constructor), resets
// them with `reset` when they come back, keeps at most
// PoolOptions::max_idle of them idle, and registers its counters under
// `name` for /debug/pools and /metrics. Names are unique in the process: a
// second pool with a taken name works but is not registered, and status()
// says so (the agent also logs it once).
//
// Misuse: returning an object twice, or to a pool that did not make it
// (Put() with a pointer from elsewhere), is refused and counted in
// PoolStats::misuses; a debug build (without NDEBUG) stops the process with
// a message naming the pool. Two returns of one object racing on two
// threads (a data race in the caller) are caught exactly in debug builds
// only, where each return costs an atomic exchange. Under
// AddressSanitizer, idle objects are poisoned, so touching one after giving
// it back is reported.
//
// Ownership: the pool owns idle objects; a PoolPtr owns one object while it
// is out. A Pool must outlive every PoolPtr and SharedPoolPtr it handed out,
// and no thread may use it while it is destroyed.
//
// Thread safety: thread-safe. Get() and returns take no lock while the
// thread's cache can serve them.
template <typename T>
class Pool {
 public:
  using Factory = std::function<T()>;
  using Reset = std::function<void(T&)>;

  explicit Pool(std::string name, PoolOptions options = {})
      : Pool(std::move(name), nullptr, nullptr, options, Private{}) {}
  Pool(std::string name, Reset reset, PoolOptions options = {})
      : Pool(std::move(name), nullptr, std::move(reset), options, Private{}) {}
  // `factory` makes the T to pool (moved into the pool's storage, so T must
  // be move-constructible); nullptr: T's default constructor.
  Pool(std::string name, Factory factory, Reset reset, PoolOptions options = {})
      : Pool(std::move(name), std::move(factory), std::move(reset), options,
             Private{}) {
    static_assert(std::is_move_constructible_v<T>,
                  "a Pool factory returns T by value: T must be "
                  "move-constructible");
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() = default;

  // OK, or kAlreadyExists when another pool has this name (this pool then
  // works but does not show in /debug/pools), or kInvalidArgument for bad
  // options (clamped to their range).
  const Status& status() const { return core_.status(); }

  // An object, reused when one is idle, else made by the factory.
  [[nodiscard]] PoolPtr<T> Get() {
    Node* node = reinterpret_cast<Node*>(core_.Acquire());
    pool_internal::Unpoison(node);
    return PoolPtr<T>(this, node);
  }

  // Gives back an object taken out with PoolPtr::release(). Only such
  // pointers: anything else is undefined behaviour.
  void Put(T* object) {
    if (object != nullptr) Return(pool_internal::NodeOf(object));
  }

  PoolStats stats() const { return core_.Stats(); }

 private:
  friend class PoolPtr<T>;
  friend class SharedPoolPtr<T>;
  using Node = pool_internal::Node<T>;
  struct Private {};

  Pool(std::string name, Factory factory, Reset reset, PoolOptions options,
       Private)
      : factory_(std::move(factory)),
        reset_(std::move(reset)),
        core_(std::move(name), options, Ops(), this,
              pool_internal::kAbortOnMisuse) {}

  static pool_internal::TypeOps Ops() {
    return {
        [](const void* pool) -> pool_internal::NodeHeader* {
          const auto& self = *static_cast<const Pool*>(pool);
          if constexpr (std::is_move_constructible_v<T>) {
            if (self.factory_) return &(new Node(self.factory_()))->header;
          }
          return &(new Node())->header;
        },
        [](pool_internal::NodeHeader* header) {
          Node* node = reinterpret_cast<Node*>(header);
          pool_internal::Unpoison(node);
          delete node;
        },
    };
  }

  void Return(Node* node) {
    if (!core_.BeginRelease(&node->header, pool_internal::kAbortOnMisuse)) {
      return;
    }
    if (reset_) reset_(node->value);
    pool_internal::Poison(node);
    core_.FinishRelease(&node->header);
  }

  const Factory factory_;
  const Reset reset_;
  pool_internal::Core core_;
};

template <typename T>
void PoolPtr<T>::reset() noexcept {
  if (node_ != nullptr) pool_->Return(std::exchange(node_, nullptr));
}

template <typename T>
SharedPoolPtr<T> PoolPtr<T>::Share() && {
  pool_internal::Node<T>* node = std::exchange(node_, nullptr);
  if (node != nullptr) node->header.refs.store(1, std::memory_order_relaxed);
  return SharedPoolPtr<T>(pool_, node);
}

template <typename T>
void SharedPoolPtr<T>::reset() noexcept {
  pool_internal::Node<T>* node = std::exchange(node_, nullptr);
  if (node != nullptr &&
      node->header.refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    pool_->Return(node);
  }
}

}  // namespace inprof

#endif  // INPROF_POOL_H_
