// /debug/pprof/goroutine and /debug/pprof/threads end to end: an agent in
// this process, threads with known stacks (one stuck inside a request,
// identical workers, one that blocks every real-time signal), read by the
// real `go tool pprof` and over HTTP in Go's two text forms. No accuracy
// judged, so it runs under the sanitizers too.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/request.h"
#include "tests/e2e/busy_work.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/regex.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;

constexpr int kWorkers = 8;

std::atomic<int> g_marker{0};
std::atomic<bool> g_stop{false};

// Short naps rather than one blocking read: ThreadSanitizer holds a signal
// until the thread's next intercepted call returns.
__attribute__((noinline)) void BlockOnPipe(int) {
  while (!g_stop.load()) usleep(2000);
  asm volatile("" ::: "memory");  // not a tail call
}

__attribute__((noinline)) void StuckHere(int fd) {
  g_marker = 1;  // distinct bodies survive identical code folding
  BlockOnPipe(fd);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void WorkerHere(int fd) {
  g_marker = 2;
  BlockOnPipe(fd);
  asm volatile("" ::: "memory");
}

// The threads, named and parked until destruction.
class KnownThreads {
 public:
  KnownThreads() {
    g_stop = false;
    EXPECT_EQ(pipe(fds_), 0);
    Spawn("e2e-stuck", [this] {
      inprof::RequestScope request("GET /stuck");
      StuckHere(fds_[0]);
    });
    for (int i = 0; i < kWorkers; ++i) {
      Spawn("e2e-worker", [this] { WorkerHere(fds_[0]); });
    }
    Spawn("e2e-masked", [this] {
      sigset_t all_rt;
      sigemptyset(&all_rt);
      for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) sigaddset(&all_rt, s);
      pthread_sigmask(SIG_BLOCK, &all_rt, nullptr);
      BlockOnPipe(fds_[0]);
    });
    while (started_.load() != static_cast<int>(threads_.size())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Until every thread sleeps in its read.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ~KnownThreads() {
    g_stop = true;
    close(fds_[1]);
    for (std::thread& t : threads_) t.join();
    close(fds_[0]);
  }

 private:
  template <typename F>
  void Spawn(const char* name, F body) {
    threads_.emplace_back([this, body] {
      started_.fetch_add(1);
      body();
    });
    pthread_setname_np(threads_.back().native_handle(), name);
  }

  int fds_[2] = {-1, -1};
  std::atomic<int> started_{0};
  std::vector<std::thread> threads_;
};

class ThreadDumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<Agent> agent = StartAgentOnAnyPort();
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_.emplace(std::move(*agent));
    threads_.emplace();
  }
  void TearDown() override {
    threads_.reset();
    agent_.reset();
  }

  httplib::Client Client() {
    httplib::Client client("127.0.0.1", agent_->port());
    client.set_read_timeout(10, 0);
    return client;
  }

  std::optional<Agent> agent_;
  std::optional<KnownThreads> threads_;
};

// pprof -top's cum column for the first line naming `function`; -1 if none.
int64_t CumOf(const std::string& top, const std::string& function) {
  std::istringstream lines(top);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find(function) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string flat, flat_pct, sum_pct, cum;
    fields >> flat >> flat_pct >> sum_pct >> cum;
    return std::atoll(cum.c_str());
  }
  return -1;
}

TEST_F(ThreadDumpTest, GoToolPprofReadsAndFoldsIdenticalThreads) {
  test::TempDir scratch;
  const std::string url = agent_->url() + "/debug/pprof/goroutine";
  test::CommandResult raw = test::GoToolPprof(
      {"-raw", "-output=" + scratch.path() + "/raw.txt", url});
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  std::optional<std::string> text = test::ReadFile(scratch.path() + "/raw.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, HasSubstr("PeriodType: goroutine count"));
  EXPECT_THAT(*text, HasSubstr("goroutine/count"));
  // The eight workers: one sample of 8, labelled with their name.
  EXPECT_TRUE(test::Regex(R"(\n +8: [^\n]*\n( +[a-z_]+:\[[^\n]*\]\n)* +)"
                          R"(thread_name:\[e2e-worker\])")
                  .Search(*text))
      << *text;
  EXPECT_THAT(*text, HasSubstr("endpoint:[GET /stuck]"));
  EXPECT_THAT(*text, HasSubstr("inprof_agent_thread:[true]"));
  EXPECT_THAT(*text, HasSubstr("inprof.ThreadSignalBlocked"));

  // /debug/pprof/threads is the same profile; -top -cum folds by function.
  test::CommandResult top =
      test::GoToolPprof({"-top", "-cum", "-nodecount=500", "-nodefraction=0",
                         "-output=" + scratch.path() + "/top.txt",
                         agent_->url() + "/debug/pprof/threads"});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  text = test::ReadFile(scratch.path() + "/top.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(CumOf(*text, "WorkerHere"), kWorkers) << *text;
  EXPECT_EQ(CumOf(*text, "StuckHere"), 1) << *text;
}

TEST_F(ThreadDumpTest, GroupedAndPerThreadTextOverHttp) {
  httplib::Client client = Client();
  const std::string grouped =
      test::GetOk(client, "/debug/pprof/goroutine?debug=1");
  EXPECT_EQ(grouped.rfind("goroutine profile: total ", 0), 0u) << grouped;
  const size_t group = grouped.find("\n" + std::to_string(kWorkers) + " @ 0x");
  ASSERT_NE(group, std::string::npos) << grouped;
  EXPECT_THAT(grouped.substr(group, grouped.find("\n\n", group + 1) - group),
              HasSubstr("WorkerHere"));
  EXPECT_THAT(grouped, HasSubstr("# labels: {\"endpoint\":\"GET /stuck\"}"));

  const std::string dump = test::GetOk(client, "/debug/pprof/threads?debug=2");
  const size_t stuck = dump.find("\"e2e-stuck\" [");
  ASSERT_NE(stuck, std::string::npos) << dump;
  const std::string entry =
      dump.substr(stuck, dump.find("\n\n", stuck) - stuck);
  EXPECT_THAT(entry, HasSubstr("request \"GET /stuck\""));
  EXPECT_THAT(entry, HasSubstr("StuckHere"));
  EXPECT_THAT(entry, HasSubstr("thread_dump_test.cc:"));
  const size_t masked = dump.find("\"e2e-masked\"");
  ASSERT_NE(masked, std::string::npos);
  EXPECT_THAT(dump.substr(masked, 300),
              HasSubstr("no stack: blocks the dump signal"));
  EXPECT_TRUE(test::Regex(R"(thread \d+ "inprof-http" \[[^\]]*inprof agent )"
                          R"(thread\]:)")
                  .Search(dump))
      << dump;
}

TEST_F(ThreadDumpTest, IndexListsItAndSecondsIsRefused) {
  httplib::Client client = Client();
  const std::string index = test::GetOk(client, "/debug/pprof/");
  EXPECT_THAT(index, HasSubstr("href='goroutine?debug=1'"));
  EXPECT_THAT(index, HasSubstr("href='goroutine?debug=2'"));
  httplib::Result r = client.Get("/debug/pprof/goroutine?seconds=2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("point in time"));
  r = client.Get("/debug/pprof/goroutine");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/octet-stream");
}

}  // namespace
}  // namespace inprof::e2e
