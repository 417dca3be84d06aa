// The demo server's work, each kind in its own named function so that a
// profile shows it by name: CPU (demo::CountPrimes on a worker pool,
// demo::HashChain, demo::SortRandom and their helpers demo::IsPrime,
// demo::Mix64), live memory (the session cache, the ledger's receipts),
// lock contention (the ledger, appended to and audited under one lock) and
// an occasionally slow request (demo::Checkout, for auto-capture).
//
// Thread safety: all functions are thread-safe.
#ifndef INPROF_EXAMPLES_DEMO_SERVER_WORK_H_
#define INPROF_EXAMPLES_DEMO_SERVER_WORK_H_

#include <chrono>
#include <cstdint>
#include <string_view>

namespace demo {

// Largest inputs the endpoints accept, so one request stays well under a
// second of CPU.
inline constexpr int64_t kMaxPrimesN = 2'000'000;
inline constexpr int64_t kMaxHashRounds = 50'000'000;
inline constexpr int64_t kMaxSortN = 5'000'000;

// Number of primes <= n, by trial division (deliberately naive). The range
// is cut into chunks that a pool of two worker threads counts (in
// demo::CountPrimesBetween) while the caller waits; each task adopts the
// caller's request (inprof::AdoptRequest), so the workers' CPU samples carry
// the caller's endpoint label.
int64_t CountPrimes(int64_t n);

// Number of primes in [low, high), by trial division.
int64_t CountPrimesBetween(int64_t low, int64_t high);

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

// FNV-1a over `bytes`, continuing from `hash`: the hot leaf of an audit.
uint64_t Checksum(std::string_view bytes, uint64_t hash);

// Memory that stays live, for heap profiles: a bounded cache of session
// blobs (the oldest are dropped past kCacheCapacityBytes), kept by
// demo::SessionCache::Put. Returns the bytes now held. Thread-safe.
inline constexpr int64_t kMaxSessionKiB = 1024;
inline constexpr int64_t kCacheCapacityBytes = 64 << 20;
int64_t CacheSession(uint64_t id, int64_t kib);

// Contention, for the mutex and block profiles: a shared ledger whose
// inprof::Mutex is held while demo::Ledger::Append seals an entry with
// `rounds` of HashChain, so concurrent requests wait for each other. Each
// entry keeps a kLedgerReceiptBytes receipt, written by Ledger::Append,
// for its last kLedgerKeptEntries entries (16 MiB live, for heap profiles).
// Returns the ledger's entry count. Thread-safe.
inline constexpr int64_t kMaxLedgerRounds = 5'000'000;
inline constexpr int64_t kLedgerReceiptBytes = 64 << 10;
inline constexpr int64_t kLedgerKeptEntries = 256;
int64_t AppendToLedger(uint64_t id, int64_t rounds);

// Checksums the receipts of the last `entries` entries (fewer if the
// ledger holds fewer) in demo::Ledger::Audit, under the ledger's lock: the
// second kind of critical section the mutex profile shows. Returns the
// checksum. Thread-safe.
uint64_t AuditLedger(int64_t entries);

// An occasionally slow request, for auto-capture (README.md, "Slow
// requests"): Checkout prices a cart of `items` items in demo::PriceCart,
// in microseconds. Every kSlowCheckoutEvery-th call in the process (a
// counter, not chance) is slow in two phases that a capture's wall time
// tells apart: it first waits kInventoryWait off CPU in
// demo::WaitForInventory (asleep, as on a slow backend), then spends at
// least kRepriceCpu of its thread's CPU time in demo::PriceCart. Returns
// the cart's price. Thread-safe.
inline constexpr int64_t kMaxCartItems = 100;
inline constexpr uint64_t kSlowCheckoutEvery = 20;
inline constexpr std::chrono::milliseconds kInventoryWait{150};
inline constexpr std::chrono::milliseconds kRepriceCpu{100};
uint64_t Checkout(int64_t items);

// Sleeps for `wait`: the off-CPU phase of a slow checkout.
void WaitForInventory(std::chrono::milliseconds wait);

// Prices `items` items (ten thousand Mix64 rounds each), again and again
// until the calling thread has spent at least `min_cpu` of CPU time in it
// (once when zero): the on-CPU phase of a slow checkout. Returns the price.
uint64_t PriceCart(int64_t items, std::chrono::nanoseconds min_cpu);

}  // namespace demo

#endif  // INPROF_EXAMPLES_DEMO_SERVER_WORK_H_
