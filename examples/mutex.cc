// Contention profiles in one program: a work queue guarded by an
// inprof::Mutex, consumers waiting on an inprof::ConditionVariable, and a
// std::mutex seen through the pthread interposer (this example links
// inprof::contention_interposer). It runs for a minute. While it runs:
//
//   go tool pprof -top http://127.0.0.1:6060/debug/pprof/mutex
//   go tool pprof -top http://127.0.0.1:6060/debug/pprof/block
//
// The mutex profile names Produce (it hashes while holding the queue's lock)
// and Audit (it holds the std::mutex); the block profile names the threads
// that waited for them.

#include "inprof/mutex.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "inprof/agent.h"

namespace {

inprof::Mutex queue_mu;
inprof::ConditionVariable queue_ready;
std::deque<uint64_t> queue;  // guarded by queue_mu
std::mutex audit_mu;
uint64_t audit_total = 0;  // guarded by audit_mu

uint64_t Hash(uint64_t h, int rounds) {
  for (int i = 0; i < rounds; ++i) h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
  return h;
}

// The mistake to find: the hashing happens under the lock.
[[gnu::noinline]] void Produce(uint64_t item) {
  std::lock_guard<inprof::Mutex> lock(queue_mu);
  queue.push_back(Hash(item, 200'000));
  queue_ready.notify_one();
}

[[gnu::noinline]] uint64_t Consume() {
  std::unique_lock<inprof::Mutex> lock(queue_mu);
  queue_ready.wait(lock, [] { return !queue.empty(); });
  const uint64_t item = queue.front();
  queue.pop_front();
  return item;
}

[[gnu::noinline]] void Audit(uint64_t item) {
  std::lock_guard<std::mutex> lock(audit_mu);
  audit_total += Hash(item, 50'000);
}

}  // namespace

int main() {
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
  std::printf("contention example: %s/debug/pprof/mutex and /block\n",
              agent->url().c_str());
  std::fflush(stdout);

  const auto end = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  std::vector<std::thread> threads;
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([end, p] {
      for (uint64_t i = p; std::chrono::steady_clock::now() < end; i += 2) {
        Produce(i);
      }
      Produce(0);  // one more item per producer, so no consumer waits forever
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([end] {
      while (std::chrono::steady_clock::now() < end) Audit(Consume());
    });
  }
  for (std::thread& thread : threads) thread.join();
  return 0;
}
