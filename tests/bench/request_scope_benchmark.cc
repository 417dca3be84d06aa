// The cost of inprof::RequestScope and its companions (BENCHMARKS.md,
// "Request labels"), against a baseline loop doing the same work without a
// scope.
//
//   request_scope_benchmark [ROUNDS [OPS_PER_THREAD]]
//
// Every way runs OPS_PER_THREAD iterations of one loop on each thread:
//   baseline        the loop's body only (an optimization barrier);
//   scope           { RequestScope scope("GET /users"); body }
//   scope+tenant    { RequestScope scope("GET /users", {{"tenant", "acme"}});
//                     body }
//   scope, 4 routes as scope, the endpoint taken in turn from four routes;
//   nested          an outer RequestScope("GET /users") opened once before
//                   the loop, { RequestScope inner("GET /users",
//                   {{"stage", "db"}}); body } in it;
//   adopt           a handle taken once in a scope, { AdoptRequest
//                   adopt(handle); body }
//   CurrentRequest  body uses CurrentRequest().request_id(), inside a scope.
// Every label set is interned before the first measurement, so all of them
// measure the lock-free path of a known set. No agent runs: a scope does the
// same work whether or not one does (it only sets the thread's label-set id,
// which the samplers read).
//
// For 1 and 2 threads (the registry is shared between threads), each round
// measures all the ways in an order rotated by one each round; a thread's
// time is its own CPU time (CLOCK_THREAD_CPUTIME_ID), so being descheduled
// on this shared machine does not count. Printed: each way's median ns per
// iteration, and the median over rounds of (way − baseline) of the same
// round, i.e. ns per enter+exit, with its min and max.
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/flight/request_latency.h"
#include "agent/labels/label_registry.h"
#include "inprof/request.h"

namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The loop's work: keeps `i` (and whatever produced it) alive, nothing more.
inline void Body(uint64_t i) { asm volatile("" : : "r"(i) : "memory"); }

constexpr std::string_view kRoutes[4] = {"GET /users/:id", "POST /users",
                                         "GET /orders", "DELETE /sessions/:id"};

// Each way times its own loop (after its per-thread setup) and returns the
// thread CPU ns per iteration.
using Way = double (*)(int64_t ops);

template <typename Loop>
double Timed(int64_t ops, Loop loop) {
  const int64_t start = ThreadCpuNanos();
  loop();
  return static_cast<double>(ThreadCpuNanos() - start) /
         static_cast<double>(ops);
}

__attribute__((noinline)) double Baseline(int64_t ops) {
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) Body(i);
  });
}

__attribute__((noinline)) double Scope(int64_t ops) {
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::RequestScope scope("GET /users");
      Body(i);
    }
  });
}

// Auto-capture on (threshold never reached): scopes read the clock twice and
// record their latency. Threads running this way at once share the setting.
std::atomic<int> g_timed_threads{0};

__attribute__((noinline)) double ScopeTimed(int64_t ops) {
  if (g_timed_threads.fetch_add(1) == 0) {
    inprof::internal::RequestLatency::Global().Configure(
        inprof::internal::AutoCaptureSettingsFrom(3'600'000, {}).value());
  }
  const double ns = Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::RequestScope scope("GET /users");
      Body(i);
    }
  });
  if (g_timed_threads.fetch_sub(1) == 1) {
    inprof::internal::RequestLatency::Global().Configure({});
  }
  return ns;
}

__attribute__((noinline)) double ScopeWithLabel(int64_t ops) {
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::RequestScope scope("GET /users", {{"tenant", "acme"}});
      Body(i);
    }
  });
}

__attribute__((noinline)) double ScopeFourRoutes(int64_t ops) {
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::RequestScope scope(kRoutes[i & 3]);
      Body(i);
    }
  });
}

__attribute__((noinline)) double Nested(int64_t ops) {
  inprof::RequestScope outer("GET /users");
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::RequestScope inner("GET /users", {{"stage", "db"}});
      Body(i);
    }
  });
}

__attribute__((noinline)) double Adopt(int64_t ops) {
  inprof::RequestHandle handle;
  {
    inprof::RequestScope scope("GET /users", {{"tenant", "acme"}});
    handle = inprof::CurrentRequest();
  }
  return Timed(ops, [ops, &handle] {
    for (int64_t i = 0; i < ops; ++i) {
      inprof::AdoptRequest adopt(handle);
      Body(i);
    }
  });
}

__attribute__((noinline)) double Current(int64_t ops) {
  inprof::RequestScope scope("GET /users");
  return Timed(ops, [ops] {
    for (int64_t i = 0; i < ops; ++i) {
      Body(i + inprof::CurrentRequest().request_id());
    }
  });
}

struct NamedWay {
  const char* name;
  Way run;
};

constexpr NamedWay kWays[] = {
    {"baseline", Baseline},
    {"scope", Scope},
    {"scope, timed", ScopeTimed},
    {"scope+tenant", ScopeWithLabel},
    {"scope, 4 routes", ScopeFourRoutes},
    {"nested", Nested},
    {"adopt", Adopt},
    {"CurrentRequest", Current},
};
constexpr size_t kWayCount = sizeof(kWays) / sizeof(kWays[0]);

// Runs `way` on `threads` threads at once (they start together); returns
// the mean over threads of CPU ns per iteration.
double RunOnThreads(Way way, int threads, int64_t ops) {
  std::vector<double> per_thread(threads);
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      per_thread[t] = way(ops);
    });
  }
  for (std::thread& worker : workers) worker.join();
  double sum = 0;
  for (double value : per_thread) sum += value;
  return sum / threads;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 11;
  const int64_t ops = argc > 2 ? std::atoll(argv[2]) : 10'000'000;
  if (rounds < 1 || ops < 1) {
    std::fprintf(stderr, "usage: %s [ROUNDS [OPS_PER_THREAD]]\n", argv[0]);
    return 2;
  }
  // Intern every set (and warm the code) before measuring.
  for (const NamedWay& way : kWays) RunOnThreads(way.run, 1, 100000);

  std::printf(
      "# %lld iterations per thread per measurement, %d rounds, thread CPU "
      "time\n",
      static_cast<long long>(ops), rounds);
  for (int threads : {1, 2}) {
    std::vector<double> ns[kWayCount], minus_base[kWayCount];
    for (int r = 0; r < rounds; ++r) {
      double round_ns[kWayCount];
      for (size_t k = 0; k < kWayCount; ++k) {
        const size_t w = (k + r) % kWayCount;
        round_ns[w] = RunOnThreads(kWays[w].run, threads, ops);
      }
      for (size_t w = 0; w < kWayCount; ++w) {
        ns[w].push_back(round_ns[w]);
        minus_base[w].push_back(round_ns[w] - round_ns[0]);
      }
    }
    std::printf("\nthreads=%d\n%-16s %14s %26s\n", threads, "way",
                "ns/iteration", "minus baseline [min, max]");
    for (size_t w = 0; w < kWayCount; ++w) {
      const auto [lo, hi] =
          std::minmax_element(minus_base[w].begin(), minus_base[w].end());
      std::printf("%-16s %14.2f %12.2f [%5.2f, %5.2f]\n", kWays[w].name,
                  Median(ns[w]), Median(minus_base[w]), *lo, *hi);
    }
  }
  const inprof::internal::LabelRegistry& registry =
      inprof::internal::LabelRegistry::Global();
  std::printf("\nlabel sets interned %zu, overflows %llu\n", registry.size(),
              static_cast<unsigned long long>(registry.overflows()));
  return registry.overflows() == 0 ? 0 : 1;
}
