// Slow requests capture their own CPU profile (issue 14, first part), as a
// user sees it: auto-capture turned on over HTTP, a request slow in a known
// function that also hands work to a pool thread, fast requests beside it;
// the capture listed at /debug/pprof/captures and read by the real
// `go tool pprof`.
//
// Nothing is judged by the clock: the slow request burns a measured amount
// of its threads' own CPU time, far over the threshold however slow the
// machine is, and the capture's CPU total is compared with that CPU time.
// The test waits for the capture to be listed (nothing announces it).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "inprof/request.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/regex.h"
#include "tests/support/temp_dir.h"
#include "tests/support/thread_cpu.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using test::ThreadCpuNanos;

// noipa: identical functions must not be folded into one symbol.
__attribute__((noipa)) int64_t SlowRequestWork(int64_t nanos) {
  const int64_t spent = test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
  return spent;
}
__attribute__((noipa)) int64_t PoolTaskWork(int64_t nanos) {
  const int64_t spent = test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
  return spent;
}
__attribute__((noipa)) int64_t FastRequestWork(int64_t nanos) {
  const int64_t spent = test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
  return spent;
}

// A pool of one worker thread, started before auto-capture is turned on,
// as a server's pool is.
class OneThreadPool {
 public:
  OneThreadPool() : thread_([this] { Run(); }) {}
  ~OneThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Runs `task` on the worker and waits for it.
  void RunAndWait(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mu_);
    task_ = std::move(task);
    cv_.notify_all();
    cv_.wait(lock, [this] { return !task_; });
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || task_; });
      if (stop_) return;
      task_();
      task_ = nullptr;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> task_;
  bool stop_ = false;
  std::thread thread_;
};

// The slow request: 400 ms of CPU in SlowRequestWork, then 200 ms in
// PoolTaskWork on the pool's thread, which adopts the request. Returns the
// CPU time both threads spent on it; *pool_wall_ns: how long the pool's
// part took.
int64_t SlowRequest(OneThreadPool& pool, int64_t* pool_wall_ns) {
  RequestScope scope("GET /report", {{"tenant", "acme"}});
  int64_t spent = SlowRequestWork(400'000'000);
  const RequestHandle request = CurrentRequest();
  pool.RunAndWait([&spent, request, pool_wall_ns] {
    const auto start = std::chrono::steady_clock::now();
    AdoptRequest adopt(request);
    spent += PoolTaskWork(200'000'000);
    *pool_wall_ns = (std::chrono::steady_clock::now() - start).count();
  });
  return spent;
}

// A capture's CPU total against the CPU time its threads spent: within
// ±25% (issue 14), also with the machine's cores contended (CI runs CPU
// burners beside these tests): samples carry the CPU time the thread's own
// clock measured, so timer signals the kernel merged lose nothing.
void ExpectCpuWithin(double cpu, int64_t spent) {
  EXPECT_GE(cpu, 0.75 * static_cast<double>(spent));
  EXPECT_LE(cpu, 1.25 * static_cast<double>(spent));
  std::printf("capture CPU %.0f ms of %.0f ms spent (%.0f%%)\n", cpu / 1e6,
              spent / 1e6, 100 * cpu / static_cast<double>(spent));
}

TEST(SlowRequestCaptureTest, Issue14_ASlowRequestLeavesItsOwnCpuProfile) {
  OneThreadPool pool;
  Options options;
  options.port = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result on =
      client.Post("/debug/pprof/autocapture?threshold_ms=100", "", "");
  ASSERT_TRUE(on);
  ASSERT_EQ(on->status, 200) << on->body;

  // Fast requests before and after: 1 ms of CPU each, never 100 ms.
  for (int i = 0; i < 20; ++i) {
    RequestScope scope("GET /fast");
    FastRequestWork(1'000'000);
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point slow_start = Clock::now();
  int64_t pool_wall_ns = 0;
  const int64_t spent = SlowRequest(pool, &pool_wall_ns);
  const int64_t duration_ns = (Clock::now() - slow_start).count();
  for (int i = 0; i < 20; ++i) {
    RequestScope scope("GET /fast");
    FastRequestWork(1'000'000);
  }

  // Wait until the capture is listed.
  std::string list;
  while ((list = test::GetOk(client, "/debug/pprof/captures"))
             .find("GET /report") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(list, Not(HasSubstr("GET /fast")));
  EXPECT_THAT(list, HasSubstr("\"labels\":{\"endpoint\":\"GET /report\","
                              "\"tenant\":\"acme\"}"));
  test::RegexGroups m;
  ASSERT_TRUE(test::Regex("\\{\"id\":(\\d+),\"endpoint\":\"GET /report\","
                          "\"duration_ms\":([0-9.]+),\"start\":\"[0-9T:.-]+Z\"")
                  .Search(list, &m))
      << list;
  const std::string id = m[1];
  EXPECT_GE(std::stod(m[2]), 100.0);  // over the threshold, by definition

  // The capture, as go tool pprof reads it.
  const std::string bytes = test::GetOk(client, "/debug/pprof/captures/" + id);
  test::TempDir dir;
  const std::string path = dir.WriteFile("capture.pb.gz", bytes);
  // By URL, as the README's recipe does.
  test::CommandResult top =
      test::GoToolPprof({"-top", "-sample_index=wall",
                         "http://127.0.0.1:" + std::to_string(agent->port()) +
                             "/debug/pprof/captures/" + id});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  EXPECT_THAT(top.out, HasSubstr("SlowRequestWork")) << top.out;
  EXPECT_THAT(top.out, HasSubstr("PoolTaskWork")) << top.out;  // adopted
  EXPECT_THAT(top.out, Not(HasSubstr("FastRequestWork")));
  test::CommandResult cpu_top =
      test::GoToolPprof({"-top", "-sample_index=cpu", path});
  ASSERT_EQ(cpu_top.exit_code, 0) << cpu_top.Describe();
  EXPECT_THAT(cpu_top.out, HasSubstr("SlowRequestWork")) << cpu_top.out;
  test::CommandResult comments = test::GoToolPprof({"-comments", path});
  ASSERT_EQ(comments.exit_code, 0) << comments.Describe();
  EXPECT_THAT(comments.out, HasSubstr("endpoint=GET /report"));
  EXPECT_THAT(comments.out, HasSubstr("threshold_ms=100"));
  test::CommandResult tags = test::GoToolPprof({"-tags", path});
  EXPECT_THAT(tags.out, HasSubstr("acme"));

  StatusOr<internal::Profile> profile = internal::DecodeProfile(bytes);
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  ASSERT_EQ(profile->sample_types.size(), 5u);
  EXPECT_EQ(profile->sample_types[1].type, "cpu");
  EXPECT_EQ(profile->sample_types[1].unit, "nanoseconds");
  EXPECT_EQ(profile->sample_types[2].type, "wall");
  EXPECT_EQ(profile->sample_types[2].unit, "nanoseconds");
  double cpu = 0, wall = 0;
  for (const internal::Sample& s : profile->samples) {
    cpu += s.values[1];
    wall += s.values[2];
  }
  // Wall time sums the request's threads: its own for its whole duration,
  // and the pool's while it worked for the request (200 ms of its CPU,
  // however long that took): at least the duration, at most both, ±25%.
  EXPECT_GE(wall, 0.75 * static_cast<double>(duration_ns));
  EXPECT_LE(wall, 1.25 * static_cast<double>(duration_ns + pool_wall_ns));
  ExpectCpuWithin(cpu, spent);
  EXPECT_GE(profile->duration_nanos, 100'000'000);

  // An id that is not a capture is a 404, never a path.
  for (const char* bad :
       {"/debug/pprof/captures/999999", "/debug/pprof/captures/..%2Fetc",
        "/debug/pprof/captures/1x"}) {
    httplib::Result r = client.Get(bad);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 404) << bad;
  }
}

// A request slow because it waits: asleep, then blocked on a lock another
// thread holds, then a little CPU. Its capture's wall time has the stacks of
// both waits, the first of which ended before the threshold was crossed,
// and totals the request's duration as the request itself measured it.
__attribute__((noipa)) void SleepPhase() {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
}
__attribute__((noipa)) void LockPhase(std::mutex& mu) {
  std::lock_guard<std::mutex> lock(mu);
  asm volatile("" ::: "memory");
}
__attribute__((noipa)) int64_t CpuPhase(int64_t nanos) {
  const int64_t spent = test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
  return spent;
}

TEST(SlowRequestCaptureTest, Issue14_WaitingShowsInWallTimeFromTheStart) {
  Options options;
  options.port = 0;
  options.autocapture_threshold_ms = 250;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());

  std::mutex mu;
  std::atomic<bool> held{false}, release{false};
  std::thread holder([&] {
    std::lock_guard<std::mutex> lock(mu);
    held = true;
    while (!release.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  while (!held.load()) std::this_thread::yield();
  using Clock = std::chrono::steady_clock;
  int64_t duration_ns = 0, cpu_ns = 0, lock_wait_ns = 0;
  {
    RequestScope scope("GET /blocked");
    const Clock::time_point start = Clock::now();
    const int64_t cpu_start = ThreadCpuNanos();
    SleepPhase();
    // The lock is released 200 ms of this thread's waiting later.
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      release = true;
    });
    const Clock::time_point lock_start = Clock::now();
    LockPhase(mu);
    lock_wait_ns = (Clock::now() - lock_start).count();
    releaser.join();
    CpuPhase(100'000'000);
    cpu_ns = ThreadCpuNanos() - cpu_start;
    duration_ns = (Clock::now() - start).count();
  }
  holder.join();

  std::string list;
  while ((list = test::GetOk(client, "/debug/pprof/captures"))
             .find("GET /blocked") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  test::RegexGroups m;
  ASSERT_TRUE(test::Regex("\\{\"id\":(\\d+),").Search(list, &m));
  const std::string bytes =
      test::GetOk(client, "/debug/pprof/captures/" + m[1]);
  test::TempDir dir;
  const std::string path = dir.WriteFile("capture.pb.gz", bytes);
  test::CommandResult top =
      test::GoToolPprof({"-top", "-sample_index=wall", path});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  EXPECT_THAT(top.out, HasSubstr("SleepPhase")) << top.out;
  EXPECT_THAT(top.out, HasSubstr("LockPhase")) << top.out;
  EXPECT_THAT(top.out, HasSubstr("CpuPhase")) << top.out;

  StatusOr<internal::Profile> profile = internal::DecodeProfile(bytes);
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  double wall = 0, cpu = 0, delay = 0;
  for (const internal::Sample& s : profile->samples) {
    cpu += s.values[1];
    wall += s.values[2];
    delay += s.values[4];
  }
  EXPECT_NEAR(wall, static_cast<double>(duration_ns), 0.25 * duration_ns);
  ExpectCpuWithin(cpu, cpu_ns);
  // The lock wait is also a block event of the request: its delay is the
  // wait the request measured, on LockPhase's stack.
  EXPECT_EQ(profile->sample_types[4].type, "delay");
  EXPECT_NEAR(delay, static_cast<double>(lock_wait_ns), 0.25 * lock_wait_ns);
  test::CommandResult delay_top =
      test::GoToolPprof({"-top", "-sample_index=delay", path});
  ASSERT_EQ(delay_top.exit_code, 0) << delay_top.Describe();
  EXPECT_THAT(delay_top.out, HasSubstr("LockPhase")) << delay_top.out;
  std::printf("capture delay %.0f ms of %.0f ms waited on the lock\n",
              delay / 1e6, lock_wait_ns / 1e6);
}

}  // namespace
}  // namespace inprof::e2e
