// Drives the sampler's hooks directly, as tcmalloc would call them, through a
// fake TcmallocApi: so the hook code runs under AddressSanitizer and
// ThreadSanitizer too (whose own malloc replaces tcmalloc's). The malloc
// front is in this program too, and muted: the sampler is started for hooks.
#include "agent/heap/heap_sampler.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>
#include <vector>

#include "agent/base/thread_labels.h"
#include "agent/heap/heap_profile.h"
#include "inprof/request.h"

namespace inprof::internal {
namespace {

TcmallocApi::NewHook g_new_hook = nullptr;
TcmallocApi::DeleteHook g_delete_hook = nullptr;

TcmallocApi FakeTcmalloc() {
  TcmallocApi api;
  api.add_new_hook = [](TcmallocApi::NewHook hook) {
    g_new_hook = hook;
    return 1;
  };
  api.remove_new_hook = [](TcmallocApi::NewHook) {
    g_new_hook = nullptr;
    return 1;
  };
  api.add_delete_hook = [](TcmallocApi::DeleteHook hook) {
    g_delete_hook = hook;
    return 1;
  };
  api.remove_delete_hook = [](TcmallocApi::DeleteHook) {
    g_delete_hook = nullptr;
    return 1;
  };
  return api;
}

struct Fixture {
  TcmallocApi api = FakeTcmalloc();
  std::unique_ptr<StackWalker> walker;
  std::unique_ptr<HeapSampler> sampler;

  explicit Fixture(int64_t rate) {
    StatusOr<std::unique_ptr<StackWalker>> w = StackWalker::Start();
    EXPECT_TRUE(w.ok());
    walker = std::move(*w);
    StatusOr<std::unique_ptr<HeapSampler>> s = HeapSampler::Start(
        &api, walker.get(), rate, AllocationSource::kTcmallocHooks);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    sampler = std::move(*s);
  }
};

const void* FakeBlock(uint64_t thread, uint64_t i) {
  return reinterpret_cast<const void*>(0x200000000ull + thread * (1ull << 32) +
                                       i * 64);
}

// Makes the calling thread draw its next sampling point at the current rate.
void Rearm() { g_new_hook(FakeBlock(99, 0), uint64_t{1} << 40); }

__attribute__((noinline)) void AllocateFromHere(uint64_t thread, int count,
                                                size_t size) {
  for (int i = 0; i < count; ++i) g_new_hook(FakeBlock(thread, i), size);
  asm volatile("" ::: "memory");
}

HeapSnapshot Snapshot(const HeapSampler& sampler) {
  return TakeHeapSnapshot(sampler.tables(), sampler.rate());
}

// Objects of the test's allocations (Rearm()'s huge block excluded).
int64_t Objects(const HeapSnapshot& s, bool inuse) {
  int64_t total = 0;
  for (const HeapRecord& r : s.records) {
    if (r.size == uint64_t{1} << 40) continue;
    total += inuse ? r.alloc_weight - r.free_weight : r.alloc_weight;
  }
  return total / static_cast<int64_t>(kWeightOne);
}

TEST(HeapSamplerTest, RateOneRecordsEveryAllocationAndFree) {
  Fixture f(1);
  Rearm();
  AllocateFromHere(1, 500, 48);
  for (int i = 0; i < 200; ++i) g_delete_hook(FakeBlock(1, i));
  HeapSnapshot s = Snapshot(*f.sampler);
  EXPECT_EQ(Objects(s, false), 500);
  EXPECT_EQ(Objects(s, true), 300);
  HeapSamplerStats stats = f.sampler->stats();
  EXPECT_GE(stats.samples, 500u);
  EXPECT_GE(stats.live_blocks, 300u);
}

// A sampled allocation is charged to the allocating thread's label set at
// allocation time; its free finds the same bucket after the scope ended.
TEST(HeapSamplerTest, AllocationsCarryTheThreadsLabelSet) {
  Fixture f(1);
  Rearm();
  uint64_t users = 0;
  {
    inprof::RequestScope scope("GET /users");
    users = CurrentLabelSet();
    AllocateFromHere(3, 40, 56);
  }
  AllocateFromHere(4, 10, 56);
  for (int i = 0; i < 15; ++i) g_delete_hook(FakeBlock(3, i));
  HeapSnapshot s = Snapshot(*f.sampler);
  int64_t labelled = 0, labelled_inuse = 0, plain = 0;
  for (const HeapRecord& r : s.records) {
    if (r.size != 56) continue;
    const int64_t n = r.alloc_weight / static_cast<int64_t>(kWeightOne);
    const int64_t live =
        (r.alloc_weight - r.free_weight) / static_cast<int64_t>(kWeightOne);
    if (r.label_set == users) {
      labelled += n;
      labelled_inuse += live;
    } else {
      EXPECT_EQ(r.label_set, 0u);
      plain += n;
    }
  }
  ASSERT_NE(users, 0u);
  EXPECT_EQ(labelled, 40);
  EXPECT_EQ(labelled_inuse, 25);
  EXPECT_EQ(plain, 10);
}

TEST(HeapSamplerTest, UnbiasedTotalsMatchWhatWasAllocated) {
  constexpr int64_t kRate = 64 * 1024;
  Fixture f(kRate);
  Rearm();
  // 200,000 x 1 KiB = 195 MiB: about 3,000 samples of weight ~64.5.
  AllocateFromHere(2, 200000, 1024);
  HeapSnapshot s = Snapshot(*f.sampler);
  int64_t bytes = 0;
  for (const HeapRecord& r : s.records) {
    if (r.size == 1024) bytes += r.alloc_bytes_weight;
  }
  bytes /= static_cast<int64_t>(kWeightOne);
  EXPECT_NEAR(static_cast<double>(bytes), 200000.0 * 1024,
              200000.0 * 1024 * 0.1);
}

TEST(HeapSamplerTest, RateZeroStopsSamplingButStillTracksFrees) {
  Fixture f(1);
  Rearm();
  AllocateFromHere(3, 100, 32);
  ASSERT_TRUE(f.sampler->set_rate(0).ok());
  Rearm();
  AllocateFromHere(4, 100, 32);  // not sampled
  for (int i = 0; i < 100; ++i) g_delete_hook(FakeBlock(3, i));
  HeapSnapshot s = Snapshot(*f.sampler);
  EXPECT_EQ(Objects(s, false), 100);
  EXPECT_EQ(Objects(s, true), 0);
  EXPECT_EQ(f.sampler->set_rate(-5).code(), StatusCode::kInvalidArgument);
}

TEST(HeapSamplerTest, RateZeroAtStartInstallsNoHookUntilARateIsSet) {
  Fixture f(0);
  EXPECT_EQ(g_new_hook, nullptr);  // malloc keeps tcmalloc's fast path
  EXPECT_EQ(g_delete_hook, nullptr);
  ASSERT_TRUE(f.sampler->set_rate(1).ok());
  ASSERT_NE(g_new_hook, nullptr);
  ASSERT_NE(g_delete_hook, nullptr);
  Rearm();
  AllocateFromHere(5, 10, 56);
  EXPECT_EQ(Objects(Snapshot(*f.sampler), false), 10);
  // Back to 0: the hooks stay, so frees of sampled blocks are still seen.
  ASSERT_TRUE(f.sampler->set_rate(0).ok());
  EXPECT_NE(g_delete_hook, nullptr);
  for (int i = 0; i < 10; ++i) g_delete_hook(FakeBlock(5, i));
  EXPECT_EQ(Objects(Snapshot(*f.sampler), true), 0);
}

TEST(HeapSamplerTest, ThreadsThatStartAndExitWhileHooksRun) {
  Fixture f(1);
  std::atomic<uint64_t> next_thread{10};
  for (int round = 0; round < 20; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        uint64_t id = next_thread.fetch_add(1);
        // The first call only draws this thread's sampling point.
        g_new_hook(FakeBlock(id, 1000), 8);
        AllocateFromHere(id, 50, 24);
        for (int i = 0; i < 50; ++i) g_delete_hook(FakeBlock(id, i));
      });
    }
    for (std::thread& t : threads) t.join();
  }
  HeapSnapshot s = Snapshot(*f.sampler);
  EXPECT_EQ(Objects(s, false), 20 * 8 * 50);
  EXPECT_EQ(Objects(s, true), 0);
}

// A signal handler that allocates while the interrupted thread is inside a
// hook, even inside its sampling slow path: nothing deadlocks, nothing is
// corrupted, and every block the handler freed is off the books.
std::atomic<uint64_t> g_handler_calls{0};

void AllocatingHandler(int) {
  uint64_t n = g_handler_calls.fetch_add(1);
  const void* block = FakeBlock(7, 100000 + n);
  if (g_new_hook != nullptr) g_new_hook(block, 96);
  if (g_delete_hook != nullptr) g_delete_hook(block);
}

TEST(HeapSamplerTest, SignalHandlersThatAllocateInsideTheHooks) {
  Fixture f(1);
  Rearm();
  struct sigaction action = {}, previous = {};
  action.sa_handler = AllocatingHandler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);
  const pthread_t self = pthread_self();
  std::atomic<bool> done{false};
  std::thread signaller([&] {
    while (!done.load()) {
      pthread_kill(self, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  // At least 40 rounds, and on until the signaller has interrupted some:
  // on a loaded machine it may not run at all while 40 rounds go by.
  int64_t rounds = 0;
  for (; rounds < 40 || g_handler_calls.load() < 10; ++rounds) {
    AllocateFromHere(8, 100, 40);
    for (int i = 0; i < 100; ++i) g_delete_hook(FakeBlock(8, i));
  }
  done = true;
  signaller.join();
  sigaction(SIGUSR1, &previous, nullptr);
  EXPECT_GT(g_handler_calls.load(), 0u);
  HeapSnapshot s = Snapshot(*f.sampler);
  // Every block, the handler's included, is off the books. An allocation
  // whose countdown a handler consumed may go unsampled (a sampling
  // decision, not a loss of accounting): at most one per handler call.
  EXPECT_EQ(Objects(s, true), 0);
  int64_t test_allocs = 0;
  for (const HeapRecord& r : s.records) {
    if (r.size == 40) test_allocs += r.alloc_weight;
  }
  test_allocs /= static_cast<int64_t>(kWeightOne);
  EXPECT_LE(test_allocs, rounds * 100);
  EXPECT_GE(test_allocs,
            rounds * 100 - static_cast<int64_t>(g_handler_calls.load()));
}

TEST(HeapSamplerTest, OnlyOneSamplerAtATimeAndHooksGoAway) {
  {
    Fixture f(1);
    ASSERT_NE(g_new_hook, nullptr);
    TcmallocApi api = FakeTcmalloc();
    StatusOr<std::unique_ptr<HeapSampler>> second = HeapSampler::Start(
        &api, f.walker.get(), 1, AllocationSource::kTcmallocHooks);
    EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(g_new_hook, nullptr);
  EXPECT_EQ(g_delete_hook, nullptr);
}

}  // namespace
}  // namespace inprof::internal
