// The contention profiler driven through inprof's primitives: exact figures
// at rate 1, unbiased estimates when sampling, the sample budget under
// heavy contention, and nothing recorded (nor broken) without a profiler.
// Also run under ASan and TSan.

#include "agent/contention/contention_profiler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/base/thread_labels.h"
#include "agent/contention/contention_table.h"
#include "agent/unwind/stack_walker.h"
#include "inprof/mutex.h"
#include "inprof/request.h"
#include "tests/support/thread_state.h"

namespace inprof::internal {
namespace {

using Clock = std::chrono::steady_clock;

struct Totals {
  double events = 0;
  double delay_nanos = 0;
  uint64_t samples = 0;
};

Totals Sum(const ContentionTable& table) {
  Totals totals;
  table.ForEach([&](const ContentionTable::View& view) {
    totals.events += static_cast<double>(view.count) / kCountOne;
    totals.delay_nanos += static_cast<double>(view.delay_nanos);
    totals.samples += view.samples;
  });
  return totals;
}

class ContentionProfilerTest : public ::testing::Test {
 protected:
  void StartProfiler(int64_t block_rate, int64_t fraction) {
    StatusOr<std::unique_ptr<StackWalker>> w = StackWalker::Start();
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    walker_ = std::move(*w);
    StatusOr<std::unique_ptr<ContentionProfiler>> p =
        ContentionProfiler::Start(walker_.get(), block_rate, fraction);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    profiler_ = std::move(*p);
  }
  void TearDown() override {
    profiler_.reset();
    walker_.reset();
  }

  std::unique_ptr<StackWalker> walker_;
  std::unique_ptr<ContentionProfiler> profiler_;
};

// Four threads take `mu` in turn and hold it for `hold`; returns the total
// time they waited, measured around lock(), and adds the sum of the squared
// waits (ns^2) to `*waited_squared` if given.
int64_t Contend(Mutex& mu, std::chrono::microseconds hold, int rounds,
                double* waited_squared = nullptr) {
  std::atomic<int64_t> waited{0};
  std::mutex squares_mu;
  double squares = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      double mine = 0;
      for (int r = 0; r < rounds; ++r) {
        const Clock::time_point start = Clock::now();
        mu.lock();
        const int64_t wait = (Clock::now() - start).count();
        waited += wait;
        mine += static_cast<double>(wait) * static_cast<double>(wait);
        const Clock::time_point until = Clock::now() + hold;
        while (Clock::now() < until) {
        }
        mu.unlock();
      }
      std::lock_guard<std::mutex> guard(squares_mu);
      squares += mine;
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (waited_squared != nullptr) *waited_squared += squares;
  return waited.load();
}

TEST_F(ContentionProfilerTest, AtRateOneBlockAndMutexBothEqualTheWaiting) {
  StartProfiler(1, 1);
  Mutex mu;
  const double truth =
      static_cast<double>(Contend(mu, std::chrono::microseconds(500), 40));
  ASSERT_GT(truth, 0);
  const Totals block = Sum(profiler_->table(ContentionKind::kBlock));
  const Totals mutex = Sum(profiler_->table(ContentionKind::kMutex));
  EXPECT_NEAR(block.delay_nanos, truth, truth * 0.2);
  // What the waiters suffered is what the holders caused.
  EXPECT_NEAR(mutex.delay_nanos, block.delay_nanos, block.delay_nanos * 0.2);
  EXPECT_GT(block.events, 0);
  EXPECT_LE(block.events, 4 * 40);
  EXPECT_EQ(profiler_->stats(ContentionKind::kBlock).samples, block.samples);
}

// Waits (block) are charged to the waiter's label set and holds (mutex) to
// the holder's: two requests contending for one lock both show, by name.
TEST_F(ContentionProfilerTest, EventsCarryTheThreadsLabelSet) {
  StartProfiler(1, 1);
  Mutex mu;
  std::atomic<uint64_t> ids[2] = {0, 0};
  // Per kind, the delay charged to each request and to anything else.
  auto delays = [&](ContentionKind kind) {
    std::vector<double> delay(3, 0);
    profiler_->table(kind).ForEach([&](const ContentionTable::View& view) {
      const int who = view.label_set == ids[0].load()   ? 0
                      : view.label_set == ids[1].load() ? 1
                                                        : 2;
      delay[who] += static_cast<double>(view.delay_nanos);
    });
    return delay;
  };
  auto both_seen = [&] {
    for (ContentionKind kind :
         {ContentionKind::kBlock, ContentionKind::kMutex}) {
      std::vector<double> d = delays(kind);
      if (d[0] == 0 || d[1] == 0) return false;
    }
    return true;
  };
  // Rounds until each request both waited and made the other wait: a busy
  // machine may run one thread's round alone.
  for (int round = 0; round < 200 && !both_seen(); ++round) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        inprof::RequestScope scope(t == 0 ? "GET /a" : "GET /b");
        ids[t] = CurrentLabelSet();
        ready.fetch_add(1);
        while (ready.load() < 2) std::this_thread::yield();
        for (int r = 0; r < 20; ++r) {
          mu.lock();
          const Clock::time_point until =
              Clock::now() + std::chrono::microseconds(200);
          while (Clock::now() < until) {
          }
          mu.unlock();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  EXPECT_TRUE(both_seen());
  EXPECT_NE(ids[0].load(), ids[1].load());
  for (ContentionKind kind : {ContentionKind::kBlock, ContentionKind::kMutex}) {
    EXPECT_EQ(delays(kind)[2], 0) << "an event outside both scopes";
  }
}

TEST_F(ContentionProfilerTest, SampledBlockProfileIsUnbiased) {
  // Waits of ~300 µs against a 1.5 ms rate: each is kept with probability
  // ~0.2 and then stands for ~5 events of 1.5 ms.
  StartProfiler(1'500'000, 0);
  Mutex mu;
  ConditionVariable never;
  int64_t truth = 0;
  constexpr int kWaits = 1500;
  std::unique_lock<Mutex> lock(mu);
  for (int i = 0; i < kWaits; ++i) {
    const Clock::time_point start = Clock::now();
    never.wait_for(lock, std::chrono::microseconds(300));
    truth += (Clock::now() - start).count();
  }
  const Totals block = Sum(profiler_->table(ContentionKind::kBlock));
  EXPECT_LT(block.samples, kWaits * 0.6);  // sampled, not recorded whole
  EXPECT_GT(block.samples, 30u);
  EXPECT_NEAR(block.delay_nanos, static_cast<double>(truth), truth * 0.25);
  // Counts are unbiased too, but heavier-tailed: a short wait that happens
  // to be kept stands for rate/wait events (one 10 µs wait kept: 150).
  EXPECT_NEAR(block.events, kWaits, kWaits * 0.4);
}

TEST_F(ContentionProfilerTest, MutexFractionIsUnbiased) {
  StartProfiler(1, 2);
  Mutex mu;
  double squares = 0;
  Contend(mu, std::chrono::microseconds(200), 400, &squares);
  const Totals block = Sum(profiler_->table(ContentionKind::kBlock));
  const Totals mutex = Sum(profiler_->table(ContentionKind::kMutex));
  // About one contended unlock in two is kept, weighted by two: some 70 to
  // 150 samples here. Keeping an unlock that caused delay D with chance 1/2
  // at weight 2 adds D^2 to the estimate's variance; an unlock releases at
  // most the three other threads' waits, so D^2 <= 3 * (sum of their d^2).
  // A loaded machine makes a few waits long (a preempted holder), and they
  // dominate: the bound is four standard errors computed from the waits the
  // threads measured, never tighter than 15%.
  ASSERT_GT(mutex.samples, 40u);
  const double tolerance =
      std::max(block.delay_nanos * 0.15, 4 * std::sqrt(3 * squares));
  EXPECT_NEAR(mutex.delay_nanos, block.delay_nanos, tolerance)
      << "sqrt(sum of squared waits) " << std::sqrt(squares) << " ns";
}

TEST_F(ContentionProfilerTest, BudgetBoundsSamplesUnderHeavyContention) {
  StartProfiler(1, 1);
  Mutex mu;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        std::lock_guard<Mutex> guard(mu);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  for (ContentionKind kind : {ContentionKind::kBlock, ContentionKind::kMutex}) {
    const ContentionKindStats stats = profiler_->stats(kind);
    // kSamplesPerWindow per 100 ms window, plus the lag of the doublings.
    EXPECT_LT(stats.samples, 4 * 10 * kSamplesPerWindow)
        << static_cast<int>(kind);
  }
}

// One certain wait: another thread blocks on `mu`, held here until the
// kernel has it asleep (four threads taking turns may, on a loaded machine,
// run one after the other and never meet).
void ContendOnce(Mutex& mu) {
  mu.lock();
  std::atomic<pid_t> waiter{0};
  std::thread thread([&] {
    waiter = test::CurrentTid();
    waiter.notify_all();
    mu.lock();
    mu.unlock();
  });
  waiter.wait(0);
  test::WaitUntilAsleep(waiter.load());
  mu.unlock();
  thread.join();
}

TEST_F(ContentionProfilerTest, RatesChangeAtRunTimeAndAreValidated) {
  StartProfiler(0, 0);
  Mutex mu;
  ContendOnce(mu);
  EXPECT_EQ(Sum(profiler_->table(ContentionKind::kBlock)).samples, 0u);
  ASSERT_TRUE(profiler_->set_block_rate(1).ok());
  ASSERT_TRUE(profiler_->set_mutex_fraction(1).ok());
  ContendOnce(mu);
  EXPECT_GT(Sum(profiler_->table(ContentionKind::kBlock)).samples, 0u);
  EXPECT_GT(Sum(profiler_->table(ContentionKind::kMutex)).samples, 0u);
  EXPECT_FALSE(profiler_->set_block_rate(-1).ok());
  EXPECT_FALSE(profiler_->set_mutex_fraction((int64_t{1} << 20) + 1).ok());
  EXPECT_EQ(profiler_->block_rate(), 1);
}

TEST_F(ContentionProfilerTest, OnlyOneProfilerAtATime) {
  StartProfiler(1, 1);
  StatusOr<std::unique_ptr<ContentionProfiler>> second =
      ContentionProfiler::Start(walker_.get(), 1, 1);
  EXPECT_FALSE(second.ok());
}

TEST(ContentionWithoutProfilerTest, PrimitivesWorkAndRecordNothing) {
  ContentionTable* block = ContentionTable::Block();
  ASSERT_NE(block, nullptr);
  block->Reset();
  Mutex mu;
  int64_t counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::lock_guard<Mutex> guard(mu);
        ++counter;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter, 4 * 20000);
  EXPECT_EQ(Sum(*block).samples, 0u);
}

TEST_F(ContentionProfilerTest, ContendedLockKeepsErrno) {
  StartProfiler(1, 1);
  Mutex mu;
  mu.lock();
  std::atomic<int> seen{-1};
  std::thread waiter([&] {
    errno = 1234;
    mu.lock();
    seen = errno;
    mu.unlock();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  errno = 4321;
  mu.unlock();
  EXPECT_EQ(errno, 4321);
  waiter.join();
  EXPECT_EQ(seen.load(), 1234);
}

TEST_F(ContentionProfilerTest, HookBypassHidesAWait) {
  StartProfiler(1, 1);
  ContentionWait wait;
  {
    HookBypass bypass;
    BeginContentionWait(&wait, wait);
  }
  EXPECT_EQ(wait.start_nanos, 0u);
  EndContentionWait(wait, 0);
  EXPECT_EQ(Sum(profiler_->table(ContentionKind::kBlock)).samples, 0u);
}

}  // namespace
}  // namespace inprof::internal
