#include "examples/demo_server/work.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "inprof/mutex.h"
#include "inprof/pool.h"
#include "inprof/request.h"

// Every function here is noinline so that the profile names it even in an
// optimized build; the point of the demo is a readable profile.

namespace demo {

[[gnu::noinline]] uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

[[gnu::noinline]] bool IsPrime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

[[gnu::noinline]] int64_t CountPrimesBetween(int64_t low, int64_t high) {
  int64_t count = 0;
  for (int64_t i = low; i < high; ++i) count += IsPrime(i) ? 1 : 0;
  return count;
}

namespace {

// WorkerPool
//
// A fixed set of threads that run submitted tasks in order. Its threads
// belong to no request: a task that works for one adopts it (CountPrimes).
//
// Ownership: owns its threads; never destroyed (the demo keeps one for the
// life of the process).
// Thread safety: thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task) {
    {
      std::lock_guard<inprof::Mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    work_ready_.notify_one();
  }

 private:
  [[gnu::noinline]] void Run() {
    pthread_setname_np(pthread_self(), "demo-pool");
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<inprof::Mutex> lock(mu_);
        work_ready_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  inprof::Mutex mu_;
  inprof::ConditionVariable work_ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  std::vector<std::thread> threads_;         // immutable after construction
};

// One CountPrimes call's chunks in flight. Shared with its tasks, so that
// the last one to finish may still unlock `mu` after the caller returned.
struct PrimesBatch {
  inprof::Mutex mu;
  inprof::ConditionVariable done;
  int pending = 0;    // guarded by mu
  int64_t count = 0;  // guarded by mu
};

constexpr int kPrimeWorkers = 2;
constexpr int64_t kPrimeChunks = 8;

}  // namespace

[[gnu::noinline]] int64_t CountPrimes(int64_t n) {
  static WorkerPool* const pool = new WorkerPool(kPrimeWorkers);
  auto batch = std::make_shared<PrimesBatch>();
  batch->pending = static_cast<int>(kPrimeChunks);
  // The request this thread works for, handed to each task: the workers'
  // samples then carry this request's labels (endpoint="GET /primes").
  const inprof::RequestHandle request = inprof::CurrentRequest();
  const int64_t end = n + 1;
  for (int64_t chunk = 0; chunk < kPrimeChunks; ++chunk) {
    const int64_t low = end * chunk / kPrimeChunks;
    const int64_t high = end * (chunk + 1) / kPrimeChunks;
    pool->Submit([batch, request, low, high] {
      inprof::AdoptRequest adopt(request);
      const int64_t count = CountPrimesBetween(low, high);
      std::lock_guard<inprof::Mutex> lock(batch->mu);
      batch->count += count;
      if (--batch->pending == 0) batch->done.notify_one();
    });
  }
  std::unique_lock<inprof::Mutex> lock(batch->mu);
  batch->done.wait(lock, [&batch] { return batch->pending == 0; });
  return batch->count;
}

[[gnu::noinline]] uint64_t HashChain(uint64_t seed, int64_t rounds) {
  uint64_t h = seed;
  for (int64_t i = 0; i < rounds; ++i) h = Mix64(h ^ static_cast<uint64_t>(i));
  return h;
}

[[gnu::noinline]] uint64_t SortRandom(uint64_t seed, int64_t n) {
  if (n <= 0) return 0;
  // Sort buffers are pooled: a reused vector keeps its capacity, so most
  // requests allocate nothing (/debug/pools shows the reuse ratio).
  static inprof::Pool<std::vector<uint64_t>> sort_buffers(
      "sort_buffers", [](std::vector<uint64_t>& v) { v.clear(); });
  inprof::PoolPtr<std::vector<uint64_t>> buffer = sort_buffers.Get();
  std::vector<uint64_t>& values = *buffer;
  values.resize(static_cast<size_t>(n));
  for (uint64_t& v : values) v = seed = Mix64(seed);
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

[[gnu::noinline]] uint64_t Checksum(std::string_view bytes, uint64_t hash) {
  for (const char c : bytes) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return hash;
}

namespace {

class SessionCache {
 public:
  [[gnu::noinline]] int64_t Put(uint64_t id, int64_t kib) {
    auto blob = std::make_unique<std::string>(static_cast<size_t>(kib) * 1024,
                                              static_cast<char>('a' + id % 26));
    std::lock_guard<std::mutex> lock(mu_);
    held_ += static_cast<int64_t>(blob->size());
    blobs_.push_back(std::move(blob));
    while (held_ > kCacheCapacityBytes) {
      held_ -= static_cast<int64_t>(blobs_.front()->size());
      blobs_.pop_front();
    }
    return held_;
  }

 private:
  std::mutex mu_;
  std::deque<std::unique_ptr<std::string>> blobs_;  // guarded by mu_
  int64_t held_ = 0;                                // guarded by mu_
};

class Ledger {
 public:
  [[gnu::noinline]] int64_t Append(uint64_t id, int64_t rounds) {
    auto receipt =
        std::make_unique<std::string>(static_cast<size_t>(kLedgerReceiptBytes),
                                      static_cast<char>('A' + id % 26));
    std::lock_guard<inprof::Mutex> lock(mu_);
    // Sealing under the lock is the (deliberate) mistake the mutex profile
    // points at.
    last_seal_ = HashChain(last_seal_ ^ id, rounds);
    std::memcpy(receipt->data(), &last_seal_, sizeof(last_seal_));
    receipts_.push_back(std::move(receipt));
    if (static_cast<int64_t>(receipts_.size()) > kLedgerKeptEntries) {
      receipts_.pop_front();
    }
    return ++entries_;
  }

  [[gnu::noinline]] uint64_t Audit(int64_t entries) {
    std::lock_guard<inprof::Mutex> lock(mu_);
    // Reading every receipt under the lock: the second mistake.
    const size_t count = std::min(
        receipts_.size(), static_cast<size_t>(std::max<int64_t>(entries, 0)));
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = receipts_.size() - count; i < receipts_.size(); ++i) {
      hash = Checksum(*receipts_[i], hash);
    }
    return hash;
  }

 private:
  inprof::Mutex mu_;
  uint64_t last_seal_ = 0;                             // guarded by mu_
  int64_t entries_ = 0;                                // guarded by mu_
  std::deque<std::unique_ptr<std::string>> receipts_;  // guarded by mu_
};

Ledger& TheLedger() {
  static Ledger* const ledger = new Ledger();
  return *ledger;
}

}  // namespace

int64_t AppendToLedger(uint64_t id, int64_t rounds) {
  return TheLedger().Append(id, rounds);
}

uint64_t AuditLedger(int64_t entries) { return TheLedger().Audit(entries); }

namespace {

// The calling thread's CPU time: PriceCart measures its phase in CPU time,
// so a slow checkout burns kRepriceCpu however busy the machine is.
std::chrono::nanoseconds ThreadCpuTime() {
  timespec now = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) +
         std::chrono::nanoseconds(now.tv_nsec);
}

constexpr int64_t kRoundsPerItem = 10000;
constexpr int64_t kItemsPerClockRead = 64;
constexpr uint64_t kShippingPrice = 500;

}  // namespace

[[gnu::noinline]] void WaitForInventory(std::chrono::milliseconds wait) {
  // sleep_for resumes after the signals of wall-clock sampling (EINTR).
  std::this_thread::sleep_for(wait);
}

[[gnu::noinline]] uint64_t PriceCart(int64_t items,
                                     std::chrono::nanoseconds min_cpu) {
  const std::chrono::nanoseconds start = ThreadCpuTime();
  uint64_t price = 0;
  int64_t priced_since_clock_read = 0;
  for (;;) {
    price = 0;
    for (int64_t item = 0; item < items; ++item) {
      uint64_t h = static_cast<uint64_t>(item);
      for (int64_t round = 0; round < kRoundsPerItem; ++round) h = Mix64(h);
      price += h % 10000;
    }
    // The clock is a system call: read it about once a millisecond, so that
    // the profile shows the pricing rather than the clock.
    priced_since_clock_read += items;
    if (priced_since_clock_read < kItemsPerClockRead) {
      if (min_cpu <= std::chrono::nanoseconds(0)) break;
      continue;
    }
    priced_since_clock_read = 0;
    if (ThreadCpuTime() - start >= min_cpu) break;
  }
  return price;
}

[[gnu::noinline]] uint64_t Checkout(int64_t items) {
  static std::atomic<uint64_t> calls{0};
  const bool slow =
      calls.fetch_add(1) % kSlowCheckoutEvery == kSlowCheckoutEvery - 1;
  if (slow) WaitForInventory(kInventoryWait);
  // Adding after the call also keeps demo::Checkout's frame above
  // demo::PriceCart in the profile (a tail call would drop it).
  return PriceCart(items, slow ? std::chrono::nanoseconds(kRepriceCpu)
                               : std::chrono::nanoseconds(0)) +
         kShippingPrice;
}

int64_t CacheSession(uint64_t id, int64_t kib) {
  static SessionCache* const cache = new SessionCache();
  return cache->Put(id, kib);
}

}  // namespace demo
