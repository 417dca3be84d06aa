// Block and mutex profiles of threads that contend with known hold times,
// read through `go tool pprof` as a user reads them: inprof's own primitives,
// and std::mutex, std::shared_mutex and std::condition_variable through the
// pthread interposer (this test links inprof::contention_interposer).
// The truth is what the test measures around each lock() and wait().

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "inprof/mutex.h"
#include "tests/support/go_tool.h"
#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr auto kHold = std::chrono::milliseconds(2);
constexpr int kThreads = 4;
constexpr int kRounds = 25;

StatusOr<Agent> StartAgent(int64_t block_rate, int64_t mutex_fraction) {
  Options options;
  options.port = 0;
  options.block_profile_rate = block_rate;
  options.mutex_profile_fraction = mutex_fraction;
  return Agent::Start(options);
}

std::string Fetch(const Agent& agent, const std::string& path,
                  int* status = nullptr, const std::string& method = "GET") {
  httplib::Client client("127.0.0.1", agent.port());
  client.set_read_timeout(std::chrono::seconds(60));
  httplib::Result result = method == "POST"
                               ? client.Post(path.c_str(), "", "text/plain")
                               : client.Get(path.c_str());
  if (!result) return "";
  if (status != nullptr) *status = result->status;
  return result->body;
}

// The cum value of `function` in `go tool pprof -top -unit=ms` output, in
// milliseconds; -1 when absent.
double CumMillis(const std::string& top, const std::string& function) {
  const test::Regex line(
      R"(\s*[0-9.]+(?:m?s)?\s+[0-9.]+%\s+[0-9.]+%\s+([0-9.]+)(m?s)?\s+)"
      R"([0-9.]+%\s+(.*))");
  std::istringstream in(top);
  std::string text;
  while (std::getline(in, text)) {
    test::RegexGroups m;
    if (line.Matches(text, &m) && m[3] == function) {
      double value = std::stod(m[1]);
      return m[2] == "s" ? value * 1000 : value;
    }
  }
  return -1;
}

// Reads `profile` (block or mutex) through go tool pprof; returns -top.
std::string PprofTop(const Agent& agent, const std::string& profile) {
  test::CommandResult top = test::GoToolPprof(
      {"-top", "-cum", "-nodecount=60", "-unit=ms", "-sample_index=delay",
       agent.url() + "/debug/pprof/" + profile});
  EXPECT_EQ(top.exit_code, 0) << top.Describe();
  EXPECT_THAT(top.err, Not(HasSubstr("arning"))) << top.Describe();
  return top.out;
}

// --- The contending program, for any lock type ------------------------------

// An unlock that is the last call of a function becomes a jump (sibling call
// optimization), and the function's frame is then missing from the unlock
// stack; the README says so. The test functions keep their frames.
inline void NotATailCall() { asm volatile("" ::: "memory"); }

// Each thread takes the lock kRounds times and holds it for kHold; the wait
// is measured around lock(). The frames are distinct per lock type, so that
// the profiles tell them apart.
template <typename Lock>
struct Contention {
  Lock lock;
  std::atomic<int64_t> waited_nanos{0};
  std::atomic<int> long_waits{0};  // lock() calls that surely slept

  __attribute__((noinline)) void WaitForTheLock() {
    const Clock::time_point start = Clock::now();
    lock.lock();
    const Clock::duration waited = Clock::now() - start;
    waited_nanos += waited.count();
    if (waited > std::chrono::microseconds(200)) ++long_waits;
  }
  __attribute__((noinline)) void HoldTheLock() {
    std::this_thread::sleep_for(kHold);
    lock.unlock();
    NotATailCall();
  }
  void Run() {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([this] {
        for (int r = 0; r < kRounds; ++r) {
          WaitForTheLock();
          HoldTheLock();
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
};

template <typename Lock>
void ExpectDelayMatchesTruth() {
  StatusOr<Agent> agent = StartAgent(1, 1);  // every event: exact figures
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Lock> contention;
  contention.Run();
  const double truth_ms = contention.waited_nanos.load() / 1e6;
  // The lock was contended: 4 threads, 2 ms each, 100 rounds.
  ASSERT_GT(truth_ms, 100.0);

  // Names come without template arguments; each test has its own agent,
  // whose profiles start empty.
  const std::string prefix = "inprof::e2e::(anonymous namespace)::Contention::";
  const std::string block = PprofTop(*agent, "block");
  const double waited = CumMillis(block, prefix + "WaitForTheLock");
  EXPECT_NEAR(waited, truth_ms, truth_ms * 0.20) << block;

  const std::string mutex = PprofTop(*agent, "mutex");
  const double caused = CumMillis(mutex, prefix + "HoldTheLock");
  EXPECT_NEAR(caused, truth_ms, truth_ms * 0.20) << mutex;
  // The waiters are not blamed in the mutex profile.
  EXPECT_EQ(CumMillis(mutex, prefix + "WaitForTheLock"), -1) << mutex;
}

TEST(ContentionProfileTest, InprofMutexDelayWithinTwentyPercentOfTruth) {
  ExpectDelayMatchesTruth<Mutex>();
}

TEST(ContentionProfileTest, StdMutexThroughInterposerWithinTwentyPercent) {
  ExpectDelayMatchesTruth<std::mutex>();
}

TEST(ContentionProfileTest, SharedMutexWritersWithinTwentyPercent) {
  ExpectDelayMatchesTruth<SharedMutex>();
}

TEST(ContentionProfileTest, StdSharedMutexThroughInterposerWithinTwenty) {
  ExpectDelayMatchesTruth<std::shared_mutex>();
}

// inprof's own locks keep the holder's frame even when the unlock is the
// last thing the function does (a lock_guard going out of scope), which
// would otherwise be compiled into a jump.
struct GuardAtTheEnd {
  Mutex lock;
  __attribute__((noinline)) void HoldWithGuard() {
    std::lock_guard<Mutex> guard(lock);
    std::this_thread::sleep_for(kHold);
  }
};

TEST(ContentionProfileTest, InprofMutexKeepsTheFrameOfAGuardAtTheEnd) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  GuardAtTheEnd guarded;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < 10; ++r) guarded.HoldWithGuard();
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string mutex = PprofTop(*agent, "mutex");
  EXPECT_GT(CumMillis(mutex,
                      "inprof::e2e::(anonymous "
                      "namespace)::GuardAtTheEnd::HoldWithGuard"),
            10.0)
      << mutex;
}

// Readers wait for a writer that holds the lock: the readers' wait is in
// the block profile, the writer is blamed in the mutex profile.
template <typename Lock>
struct ReadersAndWriter {
  Lock lock;
  std::atomic<int64_t> waited_nanos{0};
  std::atomic<bool> writing{false};

  __attribute__((noinline)) void ReadShared() {
    const Clock::time_point start = Clock::now();
    lock.lock_shared();
    waited_nanos += (Clock::now() - start).count();
    lock.unlock_shared();
    NotATailCall();
  }
  __attribute__((noinline)) void WriteExclusive() {
    lock.lock();
    writing = true;
    std::this_thread::sleep_for(kHold * 2);
    writing = false;
    lock.unlock();
    NotATailCall();
  }
};

template <typename Lock>
void ExpectReadersBlockedByWriter() {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  ReadersAndWriter<Lock> rw;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        rw.ReadShared();
        // Readers that never sleep would wait for a CPU (2 cores here)
        // inside lock_shared too, and the truth would count it.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  for (int r = 0; r < 50; ++r) {
    rw.WriteExclusive();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done = true;
  for (std::thread& thread : readers) thread.join();
  const double truth_ms = rw.waited_nanos.load() / 1e6;
  ASSERT_GT(truth_ms, 100.0);

  const std::string prefix =
      "inprof::e2e::(anonymous namespace)::ReadersAndWriter::";
  const std::string block = PprofTop(*agent, "block");
  EXPECT_NEAR(CumMillis(block, prefix + "ReadShared"), truth_ms,
              truth_ms * 0.20)
      << block;
  const std::string mutex = PprofTop(*agent, "mutex");
  EXPECT_NEAR(CumMillis(mutex, prefix + "WriteExclusive"), truth_ms,
              truth_ms * 0.20)
      << mutex;
}

TEST(ContentionProfileTest, SharedMutexReadersBlockedByWriter) {
  ExpectReadersBlockedByWriter<SharedMutex>();
}

TEST(ContentionProfileTest, StdSharedMutexReadersBlockedByWriter) {
  ExpectReadersBlockedByWriter<std::shared_mutex>();
}

// A consumer waits for a producer that signals every 5 ms: the time in
// wait() is in the block profile, under the waiting function.
template <typename Lock, typename Condition>
struct Signal {
  Lock lock;
  Condition condition;
  int produced = 0;
  std::atomic<int64_t> waited_nanos{0};

  __attribute__((noinline)) void WaitForSignal(int want) {
    std::unique_lock<Lock> guard(lock);
    const Clock::time_point start = Clock::now();
    condition.wait(guard, [&] { return produced >= want; });
    waited_nanos += (Clock::now() - start).count();
  }
};

template <typename Lock, typename Condition>
void ExpectConditionWaitInBlockProfile() {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Signal<Lock, Condition> signal;
  constexpr int kSignals = 40;
  std::thread consumer([&] {
    for (int i = 1; i <= kSignals; ++i) signal.WaitForSignal(i);
  });
  for (int i = 0; i < kSignals; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      std::lock_guard<Lock> guard(signal.lock);
      ++signal.produced;
    }
    signal.condition.notify_one();
  }
  consumer.join();
  const double truth_ms = signal.waited_nanos.load() / 1e6;
  ASSERT_GT(truth_ms, 100.0);
  const std::string block = PprofTop(*agent, "block");
  EXPECT_NEAR(
      CumMillis(block,
                "inprof::e2e::(anonymous namespace)::Signal::WaitForSignal"),
      truth_ms, truth_ms * 0.20)
      << block;
}

TEST(ContentionProfileTest, ConditionVariableWaitInBlockProfile) {
  ExpectConditionWaitInBlockProfile<Mutex, ConditionVariable>();
}

TEST(ContentionProfileTest, StdConditionVariableThroughInterposer) {
  ExpectConditionWaitInBlockProfile<std::mutex, std::condition_variable>();
}

// --- Endpoints: shape, rates, delta, legacy text -----------------------------

TEST(ContentionProfileTest, ProfilesHaveGoSampleTypesAndComments) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> contention;
  contention.Run();
  for (const char* name : {"block", "mutex"}) {
    int status = 0;
    std::string body =
        Fetch(*agent, std::string("/debug/pprof/") + name, &status);
    ASSERT_EQ(status, 200) << body;
    Status valid = internal::ValidateEncoded(body);
    ASSERT_TRUE(valid.ok()) << valid.ToString();
    StatusOr<internal::Profile> p = internal::DecodeProfile(body);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_EQ(p->sample_types.size(), 2u);
    EXPECT_EQ(p->sample_types[0].type, "contentions");
    EXPECT_EQ(p->sample_types[0].unit, "count");
    EXPECT_EQ(p->sample_types[1].type, "delay");
    EXPECT_EQ(p->sample_types[1].unit, "nanoseconds");
    EXPECT_EQ(p->period_type.type, "contentions");
    EXPECT_EQ(p->period, 1);
    EXPECT_GT(p->time_nanos, 0);
    EXPECT_EQ(p->duration_nanos, 0);  // cumulative, as Go's
    EXPECT_FALSE(p->samples.empty());
    std::string comments;
    for (const std::string& c : p->comments) comments += c + "\n";
    EXPECT_THAT(comments, HasSubstr("pthread interposer linked"));
  }
}

TEST(ContentionProfileTest, CountsAreEventsAtRateOne) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> contention;
  contention.Run();
  test::CommandResult top =
      test::GoToolPprof({"-top", "-cum", "-sample_index=contentions",
                         agent->url() + "/debug/pprof/block"});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  // Every lock() that slept is one event: at least those that took long,
  // at most one per round.
  const test::Regex line(
      R"(\s*\d+\s+[0-9.]+%\s+[0-9.]+%\s+(\d+)\s+[0-9.]+%\s+(.*))");
  std::istringstream in(top.out);
  std::string text;
  int64_t events = -1;
  while (std::getline(in, text)) {
    test::RegexGroups m;
    if (line.Matches(text, &m) &&
        m[2].ends_with("Contention::WaitForTheLock")) {
      events = std::stoll(m[1]);
    }
  }
  ASSERT_GT(contention.long_waits.load(), 0);
  // (A thread preempted right around lock() can take long without sleeping:
  // a tenth of slack.)
  EXPECT_GE(events, contention.long_waits.load() * 9 / 10) << top.out;
  EXPECT_LE(events, kThreads * kRounds) << top.out;
}

TEST(ContentionProfileTest, RateEndpointReadsAndSetsBoth) {
  StatusOr<Agent> agent = StartAgent(10000, 10);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  int status = 0;
  EXPECT_EQ(Fetch(*agent, "/debug/contention/rate", &status),
            "block_rate_ns=10000 mutex_fraction=10\n");
  EXPECT_EQ(status, 200);
  std::string body =
      Fetch(*agent, "/debug/contention/rate?block_ns=0", &status, "POST");
  EXPECT_EQ(status, 200) << body;
  EXPECT_THAT(body, HasSubstr("block_rate_ns=0 mutex_fraction=10 (was "
                              "block_rate_ns=10000 mutex_fraction=10)"));
  body = Fetch(*agent, "/debug/contention/rate?mutex_fraction=abc&block_ns=5",
               &status, "POST");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body, "mutex_fraction=abc: not a count (want digits)\n");
  body = Fetch(*agent,
               "/debug/contention/rate?block_ns=5&mutex_fraction=" +
                   std::to_string((1 << 20) + 1),
               &status, "POST");
  EXPECT_EQ(status, 400) << body;
  // Nothing changed by a refused request.
  EXPECT_EQ(Fetch(*agent, "/debug/contention/rate"),
            "block_rate_ns=0 mutex_fraction=10\n");
  body = Fetch(*agent, "/debug/contention/rate", &status, "POST");
  EXPECT_EQ(status, 400) << body;
  EXPECT_TRUE(agent->SetMutexProfileFraction(3).ok());
  EXPECT_TRUE(agent->SetBlockProfileRate(7).ok());
  EXPECT_EQ(Fetch(*agent, "/debug/contention/rate"),
            "block_rate_ns=7 mutex_fraction=3\n");
  EXPECT_FALSE(agent->SetBlockProfileRate(-1).ok());
}

TEST(ContentionProfileTest, OffRecordsNothing) {
  StatusOr<Agent> agent = StartAgent(0, 0);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> contention;
  contention.Run();
  for (const char* name : {"block", "mutex"}) {
    StatusOr<internal::Profile> p = internal::DecodeProfile(
        Fetch(*agent, std::string("/debug/pprof/") + name));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE(p->samples.empty()) << name;
  }
}

TEST(ContentionProfileTest, DeltaCoversOnlyTheWindow) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> before;
  before.Run();  // before the window: not in the delta
  std::string body;
  int status = 0;
  std::thread fetch(
      [&] { body = Fetch(*agent, "/debug/pprof/block?seconds=2", &status); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Contention<std::mutex> during;
  during.Run();
  fetch.join();
  ASSERT_EQ(status, 200) << body;
  StatusOr<internal::Profile> p = internal::DecodeProfile(body);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GT(p->duration_nanos, 1'900'000'000);
  int64_t delay = 0;
  for (const internal::Sample& s : p->samples) delay += s.values[1];
  const double truth = during.waited_nanos.load();
  EXPECT_NEAR(static_cast<double>(delay), truth, truth * 0.20);
}

TEST(ContentionProfileTest, LegacyTextIsReadByPprof) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> contention;
  contention.Run();
  int status = 0;
  const std::string text = Fetch(*agent, "/debug/pprof/mutex?debug=1", &status);
  ASSERT_EQ(status, 200);
  EXPECT_THAT(text, testing::StartsWith("--- mutex:\ncycles/second=1000000000\n"
                                        "sampling period=1\n"));
  EXPECT_THAT(text, HasSubstr("HoldTheLock"));
  test::TempDir dir;
  const std::string path = dir.path() + "/mutex.txt";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  test::CommandResult top =
      test::GoToolPprof({"-top", "-cum", "-unit=ms", "-sample_index=delay",
                         "-symbolize=none", path});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  const double truth_ms = contention.waited_nanos.load() / 1e6;
  // The text profile has addresses only: pprof's total is the check.
  const test::Regex total(R"(of ([0-9.]+)(m?s) total)");
  test::RegexGroups m;
  ASSERT_TRUE(total.Search(top.out, &m)) << top.out;
  double total_ms = std::stod(m[1]) * (m[2] == "s" ? 1000 : 1);
  EXPECT_NEAR(total_ms, truth_ms, truth_ms * 0.20) << top.out;
  EXPECT_EQ(Fetch(*agent, "/debug/pprof/block?debug=1&seconds=1", &status),
            "seconds and debug=1 cannot be combined: a delta profile is "
            "binary only\n");
  EXPECT_EQ(status, 400);
}

TEST(ContentionProfileTest, MetricsCarryTheTotals) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contention<Mutex> contention;
  contention.Run();
  const double truth = contention.waited_nanos.load() / 1e9;
  const std::string metrics = Fetch(*agent, "/metrics");
  for (const char* profile : {"block", "mutex"}) {
    const test::Regex line(
        std::string(R"(inprof_contention_delay_seconds_total\{profile=")") +
        profile + R"("\} ([0-9.e+-]+))");
    test::RegexGroups m;
    ASSERT_TRUE(line.Search(metrics, &m)) << metrics;
    EXPECT_NEAR(std::stod(m[1]), truth, truth * 0.20) << profile;
  }
  EXPECT_THAT(metrics, HasSubstr("inprof_mutex_profile_fraction 1\n"));
}

// Alloy and Parca difference cumulative profiles between scrapes by the
// stacks' addresses (pprof-spec.md §4.2): values must never decrease and
// addresses must stay the same.
TEST(ContentionProfileTest, ScrapesAreCumulativeWithStableAddresses) {
  StatusOr<Agent> agent = StartAgent(1, 1);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const auto scrape = [&](const std::string& name) {
    httplib::Client client("127.0.0.1", agent->port());
    httplib::Result result = client.Get(("/debug/pprof/" + name).c_str(),
                                        {{"User-Agent", "Alloy/v1.0"}});
    EXPECT_TRUE(result);
    EXPECT_EQ(result->get_header_value("Content-Type"),
              "application/octet-stream");
    EXPECT_EQ(result->get_header_value("Content-Disposition"),
              "attachment; filename=\"" + name + "\"");
    StatusOr<internal::Profile> p = internal::DecodeProfile(result->body);
    EXPECT_TRUE(p.ok());
    std::map<std::vector<uint64_t>, std::pair<int64_t, int64_t>> by_stack;
    for (const internal::Sample& s : p->samples) {
      std::vector<uint64_t> addresses;
      for (uint64_t id : s.location_ids) {
        addresses.push_back(p->locations.at(id - 1).address);
      }
      by_stack[addresses] = {s.values[0], s.values[1]};
    }
    return by_stack;
  };
  for (const char* name : {"block", "mutex"}) {
    Contention<Mutex> first;
    first.Run();
    const auto before = scrape(name);
    ASSERT_FALSE(before.empty());
    Contention<Mutex> second;
    second.Run();
    const auto after = scrape(name);
    for (const auto& [stack, values] : before) {
      auto it = after.find(stack);
      ASSERT_NE(it, after.end()) << name << ": a stack disappeared";
      EXPECT_GE(it->second.first, values.first);
      EXPECT_GE(it->second.second, values.second);
    }
  }
}

// --- The interposer preloaded into a program that does not link it ---------

TEST(ContentionProfileTest, PreloadedInterposerSeesStdMutex) {
  test::TempDir dir;
  for (bool preload : {true, false}) {
    const std::string out = dir.path() + (preload ? "/pre.pb.gz" : "/no.pb.gz");
    test::EnvVars env;
    if (preload) env.push_back({"LD_PRELOAD", INPROF_PRELOAD_LIBRARY});
    test::CommandResult run =
        test::RunCommand({INPROF_PRELOAD_TARGET, out}, env);
    ASSERT_EQ(run.exit_code, 0) << run.Describe();
    test::CommandResult top = test::GoToolPprof(
        {"-top", "-cum", "-unit=ms", "-sample_index=delay", out});
    ASSERT_EQ(top.exit_code, 0) << top.Describe();
    if (preload) {
      EXPECT_THAT(top.out, HasSubstr("HoldStdMutex")) << top.out;
      EXPECT_THAT(run.out, HasSubstr("pthread interposer preloaded"));
    } else {
      EXPECT_THAT(top.out, Not(HasSubstr("HoldStdMutex"))) << top.out;
      EXPECT_THAT(run.out, HasSubstr("no pthread interposer"));
    }
  }
}

}  // namespace
}  // namespace inprof::e2e
