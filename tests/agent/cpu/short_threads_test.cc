// Threads sampled from their first instant (issue 15, item 3;
// agent/cpu/thread_start.h). Thousands of threads that each burn 20 ms of
// CPU and end, started while a profile runs: the profile's weight on them
// must match the CPU time they measured themselves (their own
// CLOCK_THREAD_CPUTIME_ID at their end), never the wall clock. And the
// pthread_create the agent defines must change nothing a program can see:
// return values, errno, attributes, detach state, the start routine's
// argument and result, whether profiling or not.

#include <dlfcn.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "agent/cpu/cpu_sampler.h"
#include "agent/cpu/thread_start.h"
#include "tests/support/thread_cpu.h"

namespace inprof::internal {
namespace {

constexpr int kHz = 100;
constexpr int64_t kPeriodNs = 1'000'000'000 / kHz;
constexpr pid_t kMaxTid = 1 << 22;

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Marks the worker threads' ids, and sums the weight of their samples.
class WorkerSink : public CpuSampleSink {
 public:
  WorkerSink() : workers_(kMaxTid) {}
  void MarkWorker(pid_t tid) {
    if (tid > 0 && tid < kMaxTid) workers_[tid].store(1);
  }
  void OnSample(const RawSample& sample) override {
    if (sample.wall_nanos != 0 || sample.depth == 0) return;
    if (sample.tid < static_cast<uint32_t>(kMaxTid) &&
        workers_[sample.tid].load() != 0) {
      worker_weight += sample.weight;
    } else {
      other_weight += sample.weight;
    }
  }
  void OnLost(uint64_t count) override { lost += count; }
  uint64_t worker_weight = 0, other_weight = 0, lost = 0;

 private:
  std::vector<std::atomic<uint8_t>> workers_;
};

struct Work {
  WorkerSink* sink;
  std::atomic<int64_t>* cpu_ns;
};

__attribute__((noipa)) void* ShortWork(void* raw) {
  const Work& work = *static_cast<Work*>(raw);
  work.sink->MarkWorker(Gettid());
  test::BurnThreadCpu(20'000'000);
  work.cpu_ns->fetch_add(test::ThreadCpuNanos());
  return nullptr;
}

std::unique_ptr<CpuSampler> StartSampler() {
  CpuSamplerOptions options;
  options.hz = kHz;
  auto sampler = CpuSampler::Start(options);
  EXPECT_TRUE(sampler.ok()) << sampler.status().ToString();
  return sampler.ok() ? std::move(*sampler) : nullptr;
}

// Under the sanitizers the same property is checked on fewer threads: their
// CI phases are there for memory and race errors, and 2,000 threads of
// 20 ms take minutes of the CI's budget there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kShortThreads = 300;
#else
constexpr int kShortThreads = 2000;
#endif

// The profile of 2,000 threads of 20 ms of CPU each, eight at a time.
TEST(ShortThreadsTest, ProfileOfShortThreadsMatchesTheirOwnCpuTime) {
  constexpr int kThreads = kShortThreads;
  constexpr int kAtOnce = 8;
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  auto sink = std::make_unique<WorkerSink>();
  std::atomic<int64_t> cpu_ns{0};
  Work work{sink.get(), &cpu_ns};
  const ThreadStartStats before = GetThreadStartStats();
  sampler->Subscribe(sink.get());
  for (int started = 0; started < kThreads; started += kAtOnce) {
    pthread_t threads[kAtOnce];
    for (pthread_t& thread : threads) {
      ASSERT_EQ(pthread_create(&thread, nullptr, ShortWork, &work), 0);
    }
    for (pthread_t thread : threads) pthread_join(thread, nullptr);
  }
  // Every worker has ended: none of their timers may be left.
  EXPECT_EQ(GetThreadStartStats().live, 0u);
  sampler->Unsubscribe(sink.get());
  const ThreadStartStats after = GetThreadStartStats();
  const CpuSamplerStats stats = sampler->stats();

  const double expected = static_cast<double>(cpu_ns.load()) / kPeriodNs;
  const auto got = static_cast<double>(sink->worker_weight);
  std::printf(
      "%d threads, %.2f s of their CPU: expected %.0f samples, got %.0f "
      "(others %llu, lost %llu); armed at start %llu, failures %llu, "
      "samples at thread end %llu, process-timer signals dropped %llu\n",
      kThreads, cpu_ns.load() / 1e9, expected, got,
      static_cast<unsigned long long>(sink->other_weight),
      static_cast<unsigned long long>(sink->lost),
      static_cast<unsigned long long>(after.armed - before.armed),
      static_cast<unsigned long long>(after.failures - before.failures),
      static_cast<unsigned long long>(after.end_samples - before.end_samples),
      static_cast<unsigned long long>(stats.counted_elsewhere));
  // Each thread armed its own timer as it started (a few may have been
  // reached by the scan first, which is as good).
  EXPECT_GE(after.armed - before.armed, kThreads * 9u / 10);
  EXPECT_EQ(after.failures, before.failures);
  EXPECT_EQ(after.live, 0u);
  EXPECT_GE(got, 0.8 * expected);
  EXPECT_LE(got, 1.2 * expected);
}

// Threads that end by pthread_exit or by cancellation delete their timer
// too, and stopping the profile deletes the timers of threads still
// running: their CPU time no longer raises signals.
TEST(ShortThreadsTest, TimersEndWithTheirThreadOrTheProfile) {
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  WorkerSink sink;
  sampler->Subscribe(&sink);
  const uint64_t started_before = GetThreadStartStats().started;

  pthread_t exiting;
  ASSERT_EQ(pthread_create(
                &exiting, nullptr,
                [](void*) -> void* {
                  test::BurnThreadCpu(5'000'000);
                  pthread_exit(reinterpret_cast<void*>(7));
                },
                nullptr),
            0);
  void* result = nullptr;
  pthread_join(exiting, &result);
  EXPECT_EQ(result, reinterpret_cast<void*>(7));

  pthread_t cancelled;
  std::atomic<bool> running{false};
  ASSERT_EQ(pthread_create(
                &cancelled, nullptr,
                [](void* raw) -> void* {
                  static_cast<std::atomic<bool>*>(raw)->store(true);
                  for (;;) pause();  // a cancellation point
                },
                &running),
            0);
  while (!running.load()) sched_yield();
  pthread_cancel(cancelled);
  pthread_join(cancelled, &result);
  EXPECT_EQ(result, PTHREAD_CANCELED);
  EXPECT_EQ(GetThreadStartStats().started, started_before + 2);
  EXPECT_EQ(GetThreadStartStats().live, 0u);

  // Threads still burning when the profile stops.
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  std::atomic<int> started{0};
  std::atomic<uint64_t> burns[4] = {};
  for (int i = 0; i < 4; ++i) {
    busy.emplace_back([&, i] {
      started.fetch_add(1);
      while (!stop.load()) {
        test::BurnThreadCpu(1'000'000);
        burns[i].fetch_add(1);
      }
    });
  }
  while (started.load() < 4) sched_yield();
  // Armed by themselves (or, rarely, by the scan that got there first).
  EXPECT_GT(GetThreadStartStats().live, 0u);
  sampler->Unsubscribe(&sink);
  EXPECT_EQ(GetThreadStartStats().live, 0u);
  EXPECT_EQ(sampler->stats().threads_armed, 0u);
  // Signals already pending at the stop arrive when their thread next runs:
  // once every busy thread has finished two more burns, none is left (not a
  // guess of how long that takes on a busy machine). Then 200 ms of CPU time
  // on this thread and more on the busy ones raise none.
  uint64_t at_stop[4];
  for (int i = 0; i < 4; ++i) at_stop[i] = burns[i].load();
  for (int i = 0; i < 4; ++i) {
    while (burns[i].load() < at_stop[i] + 2) sched_yield();
  }
  const uint64_t signals = sampler->stats().signals;
  test::BurnThreadCpu(200'000'000);
  EXPECT_EQ(sampler->stats().signals, signals);
  stop = true;
  for (std::thread& thread : busy) thread.join();
}

// What pthread_create returns, and what a thread sees, with our definition
// in front of the C library's, profiling or not.
struct Observed {
  int detach_state = -1;
  size_t stack_size = 0;
  void* arg = nullptr;
  int errno_at_start = -1;
};

void* Observe(void* raw) {
  auto* observed = static_cast<Observed*>(raw);
  observed->errno_at_start = errno;
  observed->arg = raw;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getdetachstate(&attr, &observed->detach_state);
    pthread_attr_getstacksize(&attr, &observed->stack_size);
    pthread_attr_destroy(&attr);
  }
  return reinterpret_cast<char*>(raw) + 1;
}

using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*),
                         void*);

// The C library's pthread_create (or a sanitizer's in front of it): the
// next definition after the agent's, which is linked into this program.
CreateFn Direct() {
  return reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
}

// What a joinable thread with a 256 KiB stack observes, created by `create`.
Observed ObserveThread(CreateFn create) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  Observed observed;
  pthread_t thread;
  errno = 1234;
  EXPECT_EQ(create(&thread, &attr, Observe, &observed), 0);
  EXPECT_EQ(errno, 1234);
  pthread_attr_destroy(&attr);
  void* result = nullptr;
  EXPECT_EQ(pthread_join(thread, &result), 0);
  EXPECT_EQ(result, reinterpret_cast<char*>(&observed) + 1);
  EXPECT_EQ(observed.arg, &observed);
  return observed;
}

// pthread_create's result and errno for a stack no mmap can give.
std::pair<int, int> FailToCreate(CreateFn create) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, size_t{1} << 46);
  Observed observed;
  pthread_t thread;
  errno = 0;
  const int result = create(&thread, &attr, Observe, &observed);
  const int errno_after = errno;
  pthread_attr_destroy(&attr);
  return {result, errno_after};
}

void CheckUnchanged(bool profiling) {
  SCOPED_TRACE(profiling ? "profiling" : "not profiling");
  const CreateFn direct = Direct();
  ASSERT_NE(direct, nullptr);
  ASSERT_NE(reinterpret_cast<void*>(direct),
            reinterpret_cast<void*>(&pthread_create));
  const uint64_t started_before = GetThreadStartStats().started;
  const Observed ours = ObserveThread(pthread_create);
  const Observed theirs = ObserveThread(direct);
  EXPECT_EQ(ours.errno_at_start, theirs.errno_at_start);
  EXPECT_EQ(ours.detach_state, PTHREAD_CREATE_JOINABLE);
  EXPECT_EQ(ours.detach_state, theirs.detach_state);
  EXPECT_EQ(ours.stack_size, theirs.stack_size);

  // Detached: it sees itself so, as without the agent.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // Static: the detached thread may still notify after the wait returns.
  static std::atomic<int> seen_state{-2};  // -2: not yet reported
  seen_state = -2;
  pthread_t thread;
  ASSERT_EQ(pthread_create(
                &thread, &attr,
                [](void*) -> void* {
                  int state = -1;
                  pthread_attr_t self;
                  if (pthread_getattr_np(pthread_self(), &self) == 0) {
                    pthread_attr_getdetachstate(&self, &state);
                    pthread_attr_destroy(&self);
                  }
                  seen_state = state;
                  seen_state.notify_all();
                  return nullptr;
                },
                nullptr),
            0);
  pthread_attr_destroy(&attr);
  seen_state.wait(-2);
  EXPECT_EQ(seen_state.load(), PTHREAD_CREATE_DETACHED)
      << "the detached thread did not see itself so";

  // A failure is returned as is, errno included.
  const std::pair<int, int> our_failure = FailToCreate(pthread_create);
  EXPECT_NE(our_failure.first, 0);
  EXPECT_EQ(our_failure, FailToCreate(direct));
  // Only threads created through the agent's definition while profiling go
  // through the trampoline (the joinable one and the detached one; the
  // failed one never started).
  EXPECT_EQ(GetThreadStartStats().started - started_before,
            profiling ? 2u : 0u);
}

TEST(ShortThreadsTest, PthreadCreateUnchangedNotProfiling) {
  CheckUnchanged(false);
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  CheckUnchanged(false);  // a sampler without subscribers
}

TEST(ShortThreadsTest, PthreadCreateUnchangedProfiling) {
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  WorkerSink sink;
  sampler->Subscribe(&sink);
  CheckUnchanged(true);
  sampler->Unsubscribe(&sink);
  CheckUnchanged(false);
}

// A child forked while profiling has no timers and arms none: its threads
// start as without the agent.
TEST(ShortThreadsTest, ForkedChildCreatesThreadsAsUsual) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan does not start threads after a multi-threaded fork";
#endif
  std::unique_ptr<CpuSampler> sampler = StartSampler();
  ASSERT_NE(sampler, nullptr);
  WorkerSink sink;
  sampler->Subscribe(&sink);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const uint64_t started = GetThreadStartStats().started;
    pthread_t thread;
    int value = 0;
    if (pthread_create(
            &thread, nullptr,
            [](void* raw) -> void* {
              *static_cast<int*>(raw) = 42;
              return nullptr;
            },
            &value) != 0) {
      _exit(2);
    }
    pthread_join(thread, nullptr);
    _exit(value == 42 && GetThreadStartStats().started == started &&
                  GetThreadStartStats().live == 0
              ? 0
              : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  sampler->Unsubscribe(&sink);
}

}  // namespace
}  // namespace inprof::internal
