// The issue's acceptance test: a program with two hot functions on two
// threads is profiled over HTTP by the real `go tool pprof`; the CPU split
// between the functions and the total CPU time must be true.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/check_valid.h"
#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "tests/e2e/busy_work.h"
#include "tests/support/go_tool.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;

int64_t ThreadCpuNanos(pthread_t thread) {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(thread, &clock) != 0) return 0;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Milliseconds in the flat column of the `-top -unit=ms` row naming `name`.
double FlatMillis(const std::string& top, const std::string& name) {
  std::istringstream lines(top);
  std::string line;
  std::regex row(R"(^\s*([-0-9.]+)ms\s+[-0-9.]+%\s+[-0-9.]+%\s+[-0-9.]+ms)");
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.find(name) != std::string::npos &&
        std::regex_search(line, m, row)) {
      return std::stod(m[1]);
    }
  }
  return -1;
}

double TotalMillis(const std::string& top) {
  std::smatch m;
  if (std::regex_search(top, m,
                        std::regex(R"(Total samples = ([0-9.]+)(m?s))"))) {
    double value = std::stod(m[1]);
    return m[2] == "s" ? value * 1000 : value;
  }
  return -1;
}

class BusyThreads {
 public:
  BusyThreads() {
    alpha_ = std::thread([this] { HotAlpha(stop_); });
    beta_ = std::thread([this] { HotBeta(stop_); });
  }
  ~BusyThreads() {
    stop_ = true;
    alpha_.join();
    beta_.join();
  }
  int64_t alpha_cpu() { return ThreadCpuNanos(alpha_.native_handle()); }
  int64_t beta_cpu() { return ThreadCpuNanos(beta_.native_handle()); }

 private:
  std::atomic<bool> stop_{false};
  std::thread alpha_, beta_;
};

TEST(GoPprofCpuTest, SplitAndTotalThroughTheRealGoToolPprof) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  BusyThreads busy;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  constexpr int kSeconds = 4;
  test::TempDir scratch;
  int64_t alpha0 = busy.alpha_cpu(), beta0 = busy.beta_cpu();
  test::CommandResult top =
      test::GoToolPprof({"-top", "-nodecount=200", "-nodefraction=0",
                         "-unit=ms", "-output=" + scratch.path() + "/top.txt",
                         agent->url() + "/debug/pprof/profile?seconds=" +
                             std::to_string(kSeconds)});
  int64_t alpha = busy.alpha_cpu() - alpha0, beta = busy.beta_cpu() - beta0;
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  std::optional<std::string> text = test::ReadFile(scratch.path() + "/top.txt");
  ASSERT_TRUE(text.has_value());

  double alpha_ms = FlatMillis(*text, "HotAlpha");
  double beta_ms = FlatMillis(*text, "HotBeta");
  double total_ms = TotalMillis(*text);
  ASSERT_GT(alpha_ms, 0) << *text;
  ASSERT_GT(beta_ms, 0) << *text;
  // The split between the two functions, against each thread's own clock.
  double measured_share = 100.0 * alpha / (alpha + beta);
  double profiled_share = 100.0 * alpha_ms / (alpha_ms + beta_ms);
  EXPECT_NEAR(profiled_share, measured_share, 5.0) << *text;
  // The total against the threads' own CPU clocks: what they really ran.
  double measured_ms = (alpha + beta) / 1e6;
  EXPECT_NEAR(alpha_ms + beta_ms, measured_ms, 0.2 * measured_ms) << *text;
  EXPECT_NEAR(total_ms, measured_ms, 0.2 * measured_ms) << *text;
  // And against threads x seconds, when the machine gave the two threads
  // their two cores (a busy CI neighbour can take one; then the clocks above
  // are the truth and this comparison would only measure the neighbour).
  double ideal_ms = 2 * kSeconds * 1000.0;
  if (measured_ms >= 0.8 * ideal_ms) {
    EXPECT_NEAR(total_ms, ideal_ms, 0.2 * ideal_ms) << *text;
  } else {
    std::printf("note: machine busy, the threads ran %.0f of %.0f ms\n",
                measured_ms, ideal_ms);
  }
}

TEST(GoPprofCpuTest, SavedProfileIsValidAndFullySymbolized) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  BusyThreads busy;
  test::TempDir scratch;
  test::CommandResult raw =
      test::GoToolPprof({"-raw", "-output=" + scratch.path() + "/raw.txt",
                         agent->url() + "/debug/pprof/profile?seconds=2"});
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  // pprof printed nothing about symbolization: it found nothing to do.
  EXPECT_THAT(raw.err, ::testing::Not(HasSubstr("symbolz")));
  EXPECT_THAT(raw.err, ::testing::Not(HasSubstr("Local symbolization")));
  std::optional<std::string> text = test::ReadFile(scratch.path() + "/raw.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, HasSubstr("PeriodType: cpu nanoseconds"));
  EXPECT_THAT(*text, HasSubstr("Period: 10000000"));
  EXPECT_THAT(*text, HasSubstr("samples/count cpu/nanoseconds"));
  EXPECT_THAT(*text, HasSubstr("HotAlpha"));
  EXPECT_THAT(*text, HasSubstr("[FN]"));  // mapping flags: has_functions
}

TEST(GoPprofCpuTest, TwoConcurrentFetchesBothGetCompleteProfiles) {
  StatusOr<Agent> agent = StartAgentOnAnyPort();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  BusyThreads busy;
  std::string url = agent->url() + "/debug/pprof/profile?seconds=3";
  test::TempDir scratch;
  test::CommandResult first, second;
  int64_t cpu0 = busy.alpha_cpu() + busy.beta_cpu();
  std::thread other([&] {
    second = test::GoToolPprof(
        {"-top", "-unit=ms", "-output=" + scratch.path() + "/b.txt", url});
  });
  first = test::GoToolPprof(
      {"-top", "-unit=ms", "-output=" + scratch.path() + "/a.txt", url});
  other.join();
  double measured_ms = (busy.alpha_cpu() + busy.beta_cpu() - cpu0) / 1e6;
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  for (const char* name : {"/a.txt", "/b.txt"}) {
    std::optional<std::string> text = test::ReadFile(scratch.path() + name);
    ASSERT_TRUE(text.has_value());
    EXPECT_THAT(*text, HasSubstr("Duration: 3"));
    // Each profile saw (nearly) all the CPU the threads used meanwhile; the
    // windows overlap by all but the few ms between the two requests.
    EXPECT_NEAR(TotalMillis(*text), measured_ms, 0.25 * measured_ms) << *text;
    EXPECT_GT(FlatMillis(*text, "HotBeta"), 0) << *text;
  }
}

}  // namespace
}  // namespace inprof::e2e
