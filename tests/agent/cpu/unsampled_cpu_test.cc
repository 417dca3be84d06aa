// FindUnsampledCpu (agent/cpu/unsampled_cpu.h): which threads a CPU profile
// corrects, by how much, and which it leaves alone; and the readings of
// threads' CPU clocks it works from, against the threads' own clocks.

#include "agent/cpu/unsampled_cpu.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "tests/support/thread_cpu.h"

namespace inprof::internal {
namespace {

constexpr int64_t kPeriod = 10'000'000;

std::string NameOf(pid_t tid) { return "worker-" + std::to_string(tid); }

TEST(UnsampledCpuTest, CorrectsThreadsShortOfTheirCpuByAPeriodOrMore) {
  const ThreadCpuClocks start = {{1, 0}, {2, 500'000'000}, {3, 7}};
  const ThreadCpuClocks end = {
      {1, 300'000'000},     // 300 ms, 10 samples: 200 ms unsampled
      {2, 515'000'000},     // 15 ms, 1 sample: 5 ms short, within a period
      {3, 7 + 40'000'000},  // 40 ms, 3 samples: exactly one period short
      {4, 25'000'000}};     // started during the profile, never sampled
  const std::unordered_map<uint32_t, int64_t> sampled = {
      {1, 10}, {2, 1}, {3, 3}};
  const UnsampledCpu found =
      FindUnsampledCpu(start, end, sampled, kPeriod, NameOf);
  ASSERT_EQ(found.threads.size(), 3u);
  EXPECT_EQ(found.threads[0].tid, 1);
  EXPECT_EQ(found.threads[0].name, "worker-1");
  EXPECT_EQ(found.threads[0].measured_ns, 300'000'000);
  EXPECT_EQ(found.threads[0].sampled_ns, 100'000'000);
  EXPECT_EQ(found.threads[0].unsampled_ns, 200'000'000);
  EXPECT_EQ(found.threads[1].tid, 3);
  EXPECT_EQ(found.threads[1].unsampled_ns, kPeriod);
  EXPECT_EQ(found.threads[2].tid, 4);
  EXPECT_EQ(found.threads[2].unsampled_ns, 25'000'000);
  EXPECT_EQ(found.total_ns, 200'000'000 + kPeriod + 25'000'000);
  EXPECT_EQ(found.threads_ended, 0);
}

// More samples than CPU time (the timers' phase, or a sample of the
// process timer) is never a negative correction; a thread that ended is
// counted, not corrected; a reused id whose clock is behind is skipped;
// the agent's own threads are left out.
TEST(UnsampledCpuTest, NeverNegativeAndLeavesOutWhatItCannotKnow) {
  const ThreadCpuClocks start = {
      {1, 0}, {2, 0}, {3, 900'000'000}, {4, 0}, {5, 0}};
  const ThreadCpuClocks end = {{1, 100'000'000},
                               {3, 1'000'000},  // id 3 reused
                               {4, 200'000'000},
                               {5, 200'000'000}};
  const std::unordered_map<uint32_t, int64_t> sampled = {{1, 30}};
  const UnsampledCpu found =
      FindUnsampledCpu(start, end, sampled, kPeriod, [](pid_t tid) {
        return std::string(tid == 4 ? "inprof-collect" : "app");
      });
  ASSERT_EQ(found.threads.size(), 1u);
  EXPECT_EQ(found.threads[0].tid, 5);
  EXPECT_EQ(found.threads[0].name, "app");
  EXPECT_EQ(found.total_ns, 200'000'000);
  EXPECT_EQ(found.threads_ended, 1);  // tid 2
}

// The readings are each thread's own CPU clock, the agent's threads and
// threads created before it alike (read by id, no pthread_t needed).
TEST(UnsampledCpuTest, ReadsEachThreadsOwnClockAndName) {
  std::atomic<pid_t> tid{0};
  std::atomic<int64_t> burnt{0};
  std::atomic<bool> done{false};
  std::thread burner([&] {
    pthread_setname_np(pthread_self(), "burner-test");
    test::BurnThreadCpu(50'000'000);
    burnt = test::ThreadCpuNanos();
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    tid.notify_all();
    done.wait(false);
  });
  tid.wait(0);
  const ThreadCpuClocks clocks = ReadThreadCpuClocks();
  done = true;
  done.notify_all();
  burner.join();
  ASSERT_EQ(clocks.count(tid.load()), 1u);
  // Read after the thread's own last reading, and it sleeps since.
  EXPECT_GE(clocks.at(tid.load()), burnt.load());
  EXPECT_LT(clocks.at(tid.load()), burnt.load() + 5'000'000);
  EXPECT_EQ(clocks.count(static_cast<pid_t>(syscall(SYS_gettid))), 1u);
  EXPECT_FALSE(ReadThreadName(static_cast<pid_t>(syscall(SYS_gettid))).empty());
  EXPECT_EQ(ReadThreadName(tid.load()), "");  // it has ended
}

TEST(UnsampledCpuTest, ThreadNameIsTheKernelsName) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread named([&] {
    pthread_setname_np(pthread_self(), "named-worker");
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    tid.notify_all();
    done.wait(false);
  });
  tid.wait(0);
  EXPECT_EQ(ReadThreadName(tid.load()), "named-worker");
  done = true;
  done.notify_all();
  named.join();
}

}  // namespace
}  // namespace inprof::internal
