// inprof::Pool<T> against the allocator and a mutex-protected free list
// (BENCHMARKS.md, "Object pools"). Built twice: pool_benchmark (glibc
// malloc) and pool_benchmark_tcmalloc (linked with tcmalloc), so that
// new/delete is measured on both.
//
//   pool_benchmark [ROUNDS [OPS_PER_THREAD]]
//
// The object is 1 KiB with a constructor that writes every cache line (a
// "non-trivial constructor"); the pool's reset hook clears one field. One
// operation = get an object, write to it, give it back. For 1 and 2 threads,
// each round measures the three ways in a rotating order, every thread
// doing OPS_PER_THREAD operations; printed: the median ns per operation per
// thread of each way and the medians of the per-round ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "inprof/pool.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Object {
  char bytes[1024];
  int64_t id;
  Object() : id(0) {
    for (size_t i = 0; i < sizeof(bytes); i += 64) bytes[i] = 1;
  }
};

inline void Use(Object* object, int64_t i) {
  object->id = i;
  asm volatile("" : : "r"(object) : "memory");
}

// A free list under a mutex: the simplest pool a team writes first.
class MutexFreeList {
 public:
  ~MutexFreeList() {
    for (Object* object : free_) delete object;
  }
  Object* Get() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        Object* object = free_.back();
        free_.pop_back();
        return object;
      }
    }
    return new Object();
  }
  void Put(Object* object) {
    object->id = 0;
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(object);
  }

 private:
  std::mutex mu_;
  std::vector<Object*> free_;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Runs `op(i)` `ops` times on each of `threads` threads; returns the mean
// ns per operation per thread.
template <typename Op>
double NanosPerOp(int threads, int64_t ops, Op op) {
  std::vector<double> per_thread(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const Clock::time_point start = Clock::now();
      for (int64_t i = 0; i < ops; ++i) op(i);
      per_thread[t] =
          std::chrono::duration<double, std::nano>(Clock::now() - start)
              .count() /
          static_cast<double>(ops);
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
  const int64_t ops = argc > 2 ? std::atoll(argv[2]) : 5'000'000;
  inprof::Pool<Object> pool("bench_objects",
                            [](Object& object) { object.id = 0; });
  MutexFreeList free_list;
  std::printf("# object %zu bytes, %lld operations per thread, %d rounds\n",
              sizeof(Object), static_cast<long long>(ops), rounds);
  std::printf("%-8s %12s %12s %12s %14s %14s\n", "threads", "pool ns",
              "new/del ns", "freelist ns", "new/del÷pool", "freelist÷pool");
  double pool_one_thread = 0;
  for (int threads : {1, 2}) {
    std::vector<double> pool_ns, new_ns, list_ns, new_ratio, list_ratio;
    for (int r = 0; r < rounds; ++r) {
      double p = 0, n = 0, l = 0;
      const auto run_pool = [&] {
        p = NanosPerOp(threads, ops, [&](int64_t i) {
          inprof::PoolPtr<Object> object = pool.Get();
          Use(object.get(), i);
        });
      };
      const auto run_new = [&] {
        n = NanosPerOp(threads, ops, [](int64_t i) {
          Object* object = new Object();
          Use(object, i);
          delete object;
        });
      };
      const auto run_list = [&] {
        l = NanosPerOp(threads, ops, [&](int64_t i) {
          Object* object = free_list.Get();
          Use(object, i);
          free_list.Put(object);
        });
      };
      // Rotate the order so that no way always runs first.
      switch (r % 3) {
        case 0:
          run_pool();
          run_new();
          run_list();
          break;
        case 1:
          run_new();
          run_list();
          run_pool();
          break;
        default:
          run_list();
          run_pool();
          run_new();
          break;
      }
      pool_ns.push_back(p);
      new_ns.push_back(n);
      list_ns.push_back(l);
      new_ratio.push_back(n / p);
      list_ratio.push_back(l / p);
    }
    std::printf("%-8d %12.2f %12.2f %12.2f %14.2f %14.2f\n", threads,
                Median(pool_ns), Median(new_ns), Median(list_ns),
                Median(new_ratio), Median(list_ratio));
    if (threads == 1) pool_one_thread = Median(pool_ns);
    if (threads == 2) {
      std::printf(
          "pool, ns per operation per thread, 2 threads ÷ 1 thread: "
          "%.2f\n",
          Median(pool_ns) / pool_one_thread);
    }
  }
  inprof::PoolStats stats = pool.stats();
  std::printf("pool: created %llu, acquired %llu, reuse ratio %.0f\n",
              static_cast<unsigned long long>(stats.created),
              static_cast<unsigned long long>(stats.acquired),
              stats.reuse_ratio());
  return 0;
}
