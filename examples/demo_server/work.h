// The demo server's CPU work: three kinds of recognizable work, each in its
// own named function so that a CPU profile shows them by name
// (`go tool pprof -top` lists demo::CountPrimes, demo::HashChain,
// demo::SortRandom and their helpers demo::IsPrime, demo::Mix64).
//
// Thread safety: all functions are thread-safe (no shared state).
#ifndef INPROF_EXAMPLES_DEMO_SERVER_WORK_H_
#define INPROF_EXAMPLES_DEMO_SERVER_WORK_H_

#include <cstdint>

namespace demo {

// Largest inputs the endpoints accept, so one request stays well under a
// second of CPU.
inline constexpr int64_t kMaxPrimesN = 2'000'000;
inline constexpr int64_t kMaxHashRounds = 50'000'000;
inline constexpr int64_t kMaxSortN = 5'000'000;

// Number of primes <= n, by trial division (deliberately naive).
int64_t CountPrimes(int64_t n);

// Trial division of one number; the hot leaf under CountPrimes.
bool IsPrime(int64_t n);

// SplitMix64's finalizer: one well-mixed 64-bit step; the hot leaf under
// HashChain, and the generator behind SortRandom's input.
uint64_t Mix64(uint64_t x);

// Runs `rounds` rounds of a 64-bit mixing function starting from `seed`
// and returns the final value.
uint64_t HashChain(uint64_t seed, int64_t rounds);

// Fills a vector with n pseudo-random values from `seed`, sorts it, and
// returns its median.
uint64_t SortRandom(uint64_t seed, int64_t n);

// Memory that stays live, for heap profiles: a bounded cache of session
// blobs (the oldest are dropped past kCacheCapacityBytes), kept by
// demo::SessionCache::Put. Returns the bytes now held. Thread-safe.
inline constexpr int64_t kMaxSessionKiB = 1024;
inline constexpr int64_t kCacheCapacityBytes = 64 << 20;
int64_t CacheSession(uint64_t id, int64_t kib);

// Contention, for the mutex and block profiles: a shared ledger whose
// inprof::Mutex is held while demo::Ledger::Append seals an entry with
// `rounds` of HashChain, so concurrent requests wait for each other.
// Returns the ledger's entry count. Thread-safe.
inline constexpr int64_t kMaxLedgerRounds = 5'000'000;
int64_t AppendToLedger(uint64_t id, int64_t rounds);

}  // namespace demo

#endif  // INPROF_EXAMPLES_DEMO_SERVER_WORK_H_
