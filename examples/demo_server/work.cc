#include "examples/demo_server/work.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "inprof/mutex.h"
#include "inprof/pool.h"

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

[[gnu::noinline]] int64_t CountPrimes(int64_t n) {
  int64_t count = 0;
  for (int64_t i = 2; i <= n; ++i) count += IsPrime(i) ? 1 : 0;
  return count;
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
    std::lock_guard<inprof::Mutex> lock(mu_);
    // Sealing under the lock is the (deliberate) mistake the mutex profile
    // points at.
    last_seal_ = HashChain(last_seal_ ^ id, rounds);
    return ++entries_;
  }

 private:
  inprof::Mutex mu_;
  uint64_t last_seal_ = 0;  // guarded by mu_
  int64_t entries_ = 0;     // guarded by mu_
};

}  // namespace

int64_t AppendToLedger(uint64_t id, int64_t rounds) {
  static Ledger* const ledger = new Ledger();
  return ledger->Append(id, rounds);
}

int64_t CacheSession(uint64_t id, int64_t kib) {
  static SessionCache* const cache = new SessionCache();
  return cache->Put(id, kib);
}

}  // namespace demo
