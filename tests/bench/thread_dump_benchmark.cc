// thread_dump_benchmark: the time to dump 1,000 threads (issue 15: at most
// 200 ms), a mix of sleepers (pipe reads, condition waits, nanosleep) and
// busy threads, each several calls deep. Reports, over several rounds, the
// median of the collection alone (ThreadDumper::Dump: /proc reads, signals,
// unwinds) and of the whole debug=0 answer (collection + symbolization +
// the profile built and gzipped, as /debug/pprof/goroutine serves it), and
// how many threads answered.
//
// Run: thread_dump_benchmark [--threads=1000] [--busy=16] [--rounds=9]

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/encode.h"
#include "agent/symbolize/symbolizer.h"
#include "agent/threads/thread_dumper.h"
#include "agent/threads/thread_profile.h"
#include "agent/unwind/stack_walker.h"

namespace inprof::internal {
namespace {

std::atomic<bool> g_stop{false};
std::mutex g_mu;
std::condition_variable g_cv;
int g_fds[2];

__attribute__((noinline)) void Sleeper(int kind, int depth) {
  if (depth > 0) {
    Sleeper(kind, depth - 1);
    asm volatile("" ::: "memory");
    return;
  }
  if (kind == 0) {
    char c;
    while (read(g_fds[0], &c, 1) > 0) {
    }
  } else if (kind == 1) {
    std::unique_lock<std::mutex> lock(g_mu);
    g_cv.wait(lock, [] { return g_stop.load(); });
  } else {
    while (!g_stop.load()) usleep(20000);
  }
}

__attribute__((noinline)) void Busy(int depth) {
  if (depth > 0) {
    Busy(depth - 1);
    asm volatile("" ::: "memory");
    return;
  }
  volatile uint64_t x = 0;
  while (!g_stop.load(std::memory_order_relaxed)) x = x + 1;
}

int Flag(int argc, char** argv, const char* name, int fallback) {
  const size_t n = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
      return std::atoi(argv[i] + n + 1);
    }
  }
  return fallback;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(int argc, char** argv) {
  const int threads = Flag(argc, argv, "--threads", 1000);
  const int busy = Flag(argc, argv, "--busy", 16);
  const int rounds = Flag(argc, argv, "--rounds", 9);
  if (pipe(g_fds) != 0) return 1;
  StatusOr<std::unique_ptr<StackWalker>> walker = StackWalker::Start();
  if (!walker.ok()) {
    std::fprintf(stderr, "%s\n", walker.status().message().c_str());
    return 1;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    const int depth = 2 + i % 5;
    if (i < busy) {
      pool.emplace_back([depth] { Busy(depth); });
    } else {
      pool.emplace_back([i, depth] { Sleeper(i % 3, depth); });
    }
    pthread_setname_np(pool.back().native_handle(),
                       i < busy ? "bench-busy" : "bench-sleep");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  ThreadDumper dumper(walker->get(), ThreadDumperOptions{});
  Symbolizer symbolizer;
  std::vector<double> collect_ms, full_ms, listing_ms;
  size_t answered = 0, listed = 0;
  for (int round = 0; round < rounds + 1; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    StatusOr<ThreadDump> dump = dumper.Dump();
    const auto t1 = std::chrono::steady_clock::now();
    if (!dump.ok()) {
      std::fprintf(stderr, "%s\n", dump.status().message().c_str());
      return 1;
    }
    const std::string body =
        SerializeProfile(BuildThreadProfile(*dump, &symbolizer));
    const auto t2 = std::chrono::steady_clock::now();
    listed = dump->threads.size();
    answered = 0;
    for (const ThreadRecord& r : dump->threads) answered += r.has_stack();
    if (round == 0) continue;  // warm-up: the symbolizer's first reads
    collect_ms.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
    listing_ms.push_back(static_cast<double>(dump->listing_nanos) / 1e6);
    full_ms.push_back(
        std::chrono::duration<double, std::milli>(t2 - t0).count());
    std::printf(
        "round %d: collect %.1f ms, debug=0 answer %.1f ms (%zu bytes), "
        "%zu/%zu threads with stacks\n",
        round, collect_ms.back(), full_ms.back(), body.size(), answered,
        listed);
  }
  std::printf(
      "threads=%d busy=%d rounds=%d: median collect %.1f ms (listing and "
      "asking %.1f ms), median debug=0 answer %.1f ms (target <= 200 ms); last "
      "round "
      "%zu/%zu with stacks\n",
      threads, busy, rounds, Median(collect_ms), Median(listing_ms),
      Median(full_ms), answered, listed);
  g_stop.store(true);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    g_cv.notify_all();
  }
  close(g_fds[1]);
  for (std::thread& t : pool) t.join();
  return 0;
}

}  // namespace
}  // namespace inprof::internal

int main(int argc, char** argv) { return inprof::internal::Run(argc, argv); }
