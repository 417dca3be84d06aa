#include "inprof/agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "inprof/request.h"

namespace inprof {
namespace {

using ::testing::HasSubstr;

// Threads of this process. Sanitizer runtimes start helper threads lazily,
// so tests start and stop one agent first (WarmUp) before counting.
int CountThreads() {
  int count = 0;
  DIR* dir = opendir("/proc/self/task");
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

bool SigprofIsDefault() {
  struct sigaction action;
  sigaction(SIGPROF, nullptr, &action);
  return (action.sa_flags & SA_SIGINFO) == 0 && action.sa_handler == SIG_DFL;
}

// A listening socket on 127.0.0.1 that holds a port for the test.
class HeldPort {
 public:
  HeldPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~HeldPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_;
};

Options AnyPort() {
  Options options;
  options.port = 0;
  return options;
}

void WarmUp() {
  StatusOr<Agent> agent = Agent::Start(AnyPort());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  agent->Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

TEST(AgentTest, ServesOnTheBoundPort) {
  StatusOr<Agent> agent = Agent::Start(AnyPort());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_GT(agent->port(), 0);
  EXPECT_EQ(agent->url(), "http://127.0.0.1:" + std::to_string(agent->port()));
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result index = client.Get("/debug/pprof/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_THAT(index->body, HasSubstr("profile"));
}

TEST(AgentTest, PortInUseFailsWithTheReasonAndLeavesNothingBehind) {
  HeldPort held;
  WarmUp();
  int threads_before = CountThreads();
  Options options;
  options.port = held.port();
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("Address already in use"));
  EXPECT_THAT(agent.status().message(), HasSubstr(std::to_string(held.port())));
  EXPECT_TRUE(SigprofIsDefault()) << "signal handler restored";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(CountThreads(), threads_before) << "no thread left behind";
  // And a later start works.
  StatusOr<Agent> later = Agent::Start(AnyPort());
  EXPECT_TRUE(later.ok()) << later.status().ToString();
}

TEST(AgentTest, BadAddressFailsWithTheReason) {
  Options options = AnyPort();
  options.host = "256.1.1.1";
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("256.1.1.1"));
  EXPECT_TRUE(SigprofIsDefault());
}

TEST(AgentTest, RefusesASecondAgentInTheSameProcess) {
  StatusOr<Agent> first = Agent::Start(AnyPort());
  ASSERT_TRUE(first.ok());
  StatusOr<Agent> second = Agent::Start(AnyPort());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

TEST(AgentTest, DestroyingTheHandleStopsEverythingAndRestoresTheSignal) {
  WarmUp();
  int threads_before = CountThreads();
  int port = 0;
  {
    StatusOr<Agent> agent = Agent::Start(AnyPort());
    ASSERT_TRUE(agent.ok());
    port = agent->port();
    EXPECT_FALSE(SigprofIsDefault());
  }
  EXPECT_TRUE(SigprofIsDefault());
  EXPECT_EQ(CountThreads(), threads_before);
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::milliseconds(300));
  EXPECT_FALSE(client.Get("/debug/pprof/"));
}

TEST(AgentTest, StopEndsAProfileRequestInProgress) {
  StatusOr<Agent> agent = Agent::Start(AnyPort());
  ASSERT_TRUE(agent.ok());
  int port = agent->port();
  std::thread request([port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(60));
    client.Get("/debug/pprof/profile?seconds=60");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto start = std::chrono::steady_clock::now();
  agent->Stop();
  request.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(AgentTest, RejectsInvalidOptionsWithTheValue) {
  Options options = AnyPort();
  options.hz = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(agent.status().message(), HasSubstr("hz=0"));
}

TEST(AgentTest, RejectsAHeapRateOutOfRange) {
  Options options = AnyPort();
  options.heap_sample_rate = -1;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("heap sample rate -1"));
}

// This test binary runs on glibc malloc (it does not link tcmalloc): the
// malloc front samples it, so every heap endpoint answers. Under a
// sanitizer, whose runtime is the allocator, they say why they cannot.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kFront = false;
#else
constexpr bool kFront = true;
#endif
TEST(AgentTest, OnGlibcMallocHeapEndpointsAnswerThroughTheFront) {
  StatusOr<Agent> agent = Agent::Start(AnyPort());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  for (const char* path : {"/debug/pprof/heap", "/debug/pprof/allocs?debug=1",
                           "/debug/pprof/heap?seconds=1", "/debug/heap/rate"}) {
    SCOPED_TRACE(path);
    httplib::Result result = client.Get(path);
    ASSERT_TRUE(result);
    if (kFront) {
      EXPECT_EQ(result->status, 200) << result->body;
    } else {
      EXPECT_EQ(result->status, 501);
      EXPECT_THAT(result->body, HasSubstr("sanitizer"));
      EXPECT_EQ(result->body.find('\n'), result->body.size() - 1);
    }
  }
  EXPECT_EQ(agent->SetHeapSampleRate(4096).ok(), kFront);
  // The allocator page and /metrics fall back to glibc's mallinfo2().
  httplib::Result allocator = client.Get("/debug/allocator");
  ASSERT_TRUE(allocator);
  EXPECT_EQ(allocator->status, 200);
  EXPECT_THAT(allocator->body, HasSubstr("\"allocator\": \"glibc\""));
  EXPECT_THAT(allocator->body, HasSubstr("\"bytes_in_use\": "));
  httplib::Result report = client.Get("/debug/allocator?format=text");
  ASSERT_TRUE(report);
  EXPECT_THAT(report->body, HasSubstr("<malloc version="));
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("inprof_allocator_bytes{allocator=\"glibc\","));
  httplib::Result cmdline = client.Get("/debug/pprof/cmdline");
  ASSERT_TRUE(cmdline);
  EXPECT_EQ(cmdline->status, 200);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    setenv(name, value, 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// Spends `nanos` of the calling thread's CPU time, as its own clock says.
void BurnThreadCpu(int64_t nanos) {
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
  };
  const int64_t start = cpu_now();
  uint64_t x = 1;
  while (cpu_now() - start < nanos) {
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005u + 1;
  }
  asm volatile("" : : "r"(x));
}

// Auto-capture changed at run time (README, "Slow requests"): validated as a
// whole, GET never changes it, and slow requests are counted by endpoint.
TEST(AgentTest, AutoCaptureIsChangedAtRunTimeAndCountsSlowRequests) {
  StatusOr<Agent> agent = Agent::Start(AnyPort());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  auto get = [&] {
    httplib::Result r = client.Get("/debug/pprof/autocapture");
    EXPECT_TRUE(r);
    return r ? r->body : "";
  };
  EXPECT_THAT(get(), HasSubstr("\"enabled\":false"));
  // curl -X POST with no body at all: valid, changes nothing.
  httplib::Result empty = client.Post("/debug/pprof/autocapture");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  httplib::Result on =
      client.Post("/debug/pprof/autocapture?threshold_ms=100", "", "");
  ASSERT_TRUE(on);
  EXPECT_EQ(on->status, 200);
  EXPECT_THAT(on->body, HasSubstr("\"enabled\":true,\"threshold_ms\":100"));
  httplib::Result bad = client.Post(
      "/debug/pprof/autocapture?threshold_ms=5&enabled=maybe", "", "");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("enabled=maybe"));
  EXPECT_EQ(std::count(bad->body.begin(), bad->body.end(), '\n'), 1);
  EXPECT_THAT(get(), HasSubstr("\"threshold_ms\":100"));  // unchanged
  httplib::Result sneaky =
      client.Get("/debug/pprof/autocapture?threshold_ms=1");
  ASSERT_TRUE(sneaky);
  EXPECT_EQ(sneaky->status, 405);

  // A request that spends 150 ms of its own thread's CPU time lasts over
  // 100 ms however busy the machine is.
  {
    RequestScope request("GET /sleepy");
    BurnThreadCpu(150'000'000);
  }
  const std::string slow =
      "inprof_slow_requests_total{endpoint=\"GET /sleepy\"} ";
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr(slow + "1\n"));
  EXPECT_THAT(metrics->body,
              HasSubstr("inprof_request_duration_seconds_count{endpoint="
                        "\"GET /sleepy\"} 1\n"));
  // Off: requests are no longer timed.
  ASSERT_TRUE(client.Post("/debug/pprof/autocapture?enabled=0", "", ""));
  {
    RequestScope request("GET /sleepy");
    BurnThreadCpu(150'000'000);
  }
  metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr(slow + "1\n"));
}

TEST(AgentTest, AutoCaptureFromOptions) {
  Options options = AnyPort();
  options.autocapture_threshold_ms = 250;
  options.autocapture_endpoint_threshold_ms = {{"GET /search", 900}};
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result r = client.Get("/debug/pprof/autocapture");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("\"enabled\":true,\"threshold_ms\":250,"
                                 "\"endpoints\":{\"GET /search\":{"
                                 "\"threshold_ms\":900}}"));
  agent->Stop();
  options.autocapture_threshold_ms = -1;
  EXPECT_THAT(Agent::Start(options).status().message(),
              HasSubstr("threshold_ms=-1"));
}

TEST(OptionsTest, FromEnvironmentReadsEveryVariable) {
  ScopedEnv addr("INPROF_ADDR", "0.0.0.0:7070");
  ScopedEnv hz("INPROF_HZ", "250");
  ScopedEnv max("INPROF_MAX_SECONDS", "60");
  ScopedEnv depth("INPROF_MAX_STACK_DEPTH", "32");
  ScopedEnv sig("INPROF_SIGNAL", "40");
  ScopedEnv heap("INPROF_HEAP_RATE", "1048576");
  ScopedEnv slow("INPROF_AUTOCAPTURE_THRESHOLD_MS", "120");
  ScopedEnv endpoints("INPROF_AUTOCAPTURE_ENDPOINTS",
                      "GET /search=500;;POST /a=b=7");
  ScopedEnv max_captures("INPROF_AUTOCAPTURE_MAX_CAPTURES", "5");
  ScopedEnv max_bytes("INPROF_AUTOCAPTURE_MAX_BYTES", "2097152");
  ScopedEnv per_second("INPROF_AUTOCAPTURE_PER_SECOND", "0.5");
  ScopedEnv hang("INPROF_AUTOCAPTURE_HANG_MULTIPLE", "0");
  ScopedEnv process("INPROF_AUTOCAPTURE_PROCESS_PROFILE_MS", "250");
  Options options = Options::FromEnvironment();
  EXPECT_EQ(options.env_error, "");
  EXPECT_EQ(options.host, "0.0.0.0");
  EXPECT_EQ(options.port, 7070);
  EXPECT_EQ(options.hz, 250);
  EXPECT_EQ(options.max_profile_seconds, 60);
  EXPECT_EQ(options.max_stack_depth, 32);
  EXPECT_EQ(options.cpu_signal, 40);
  EXPECT_EQ(options.heap_sample_rate, 1048576);
  EXPECT_EQ(options.autocapture_threshold_ms, 120);
  EXPECT_EQ(
      options.autocapture_endpoint_threshold_ms,
      (std::map<std::string, int64_t>{{"GET /search", 500}, {"POST /a=b", 7}}));
  EXPECT_EQ(options.autocapture_max_captures, 5);
  EXPECT_EQ(options.autocapture_max_bytes, 2097152);
  EXPECT_DOUBLE_EQ(options.autocapture_captures_per_second, 0.5);
  EXPECT_EQ(options.autocapture_hang_multiple, 0);
  EXPECT_EQ(options.autocapture_process_profile_ms, 250);
}

TEST(OptionsTest, AutoCaptureLimitsAreCheckedAtStart) {
  ScopedEnv per_second("INPROF_AUTOCAPTURE_PER_SECOND", "often");
  EXPECT_THAT(Options::FromEnvironment().env_error,
              HasSubstr("INPROF_AUTOCAPTURE_PER_SECOND=often: not a number"));
  Options options = AnyPort();
  options.autocapture_captures_per_second = 1000;
  EXPECT_THAT(Agent::Start(options).status().message(),
              HasSubstr("captures_per_second=1000"));
  options = AnyPort();
  options.autocapture_process_profile_ms = 60'001;
  EXPECT_THAT(Agent::Start(options).status().message(),
              HasSubstr("process_profile_ms=60001"));
  options = AnyPort();
  options.autocapture_threshold_ms = 100;
  options.autocapture_max_captures = 2;
  options.autocapture_process_profile_ms = 400;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result r = client.Get("/debug/pprof/autocapture");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("\"limits\":{\"max_captures\":2,"));
  EXPECT_THAT(r->body, HasSubstr("\"process_profile_ms\":400"));
}

TEST(OptionsTest, MalformedEndpointThresholdsAreReported) {
  ScopedEnv endpoints("INPROF_AUTOCAPTURE_ENDPOINTS", "GET /search:500");
  Options options = Options::FromEnvironment();
  EXPECT_THAT(options.env_error,
              HasSubstr("\"GET /search:500\" is not ENDPOINT=MILLISECONDS"));
}

TEST(OptionsTest, FromEnvironmentDefaultsAreGoLike) {
  Options options = Options::FromEnvironment();
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 6060);
  EXPECT_EQ(options.hz, 100);
  EXPECT_EQ(options.max_profile_seconds, 300);
  EXPECT_EQ(options.heap_sample_rate, 512 * 1024);  // Go's MemProfileRate
}

TEST(OptionsTest, PortOnlyAndIpv6Addresses) {
  {
    ScopedEnv addr("INPROF_ADDR", ":9999");
    Options options = Options::FromEnvironment();
    EXPECT_EQ(options.host, "127.0.0.1");
    EXPECT_EQ(options.port, 9999);
  }
  {
    ScopedEnv addr("INPROF_ADDR", "[::1]:0");
    Options options = Options::FromEnvironment();
    EXPECT_EQ(options.host, "::1");
    EXPECT_EQ(options.port, 0);
  }
}

TEST(OptionsTest, MalformedVariableIsReportedByStart) {
  ScopedEnv hz("INPROF_HZ", "fast");
  Options options = Options::FromEnvironment();
  EXPECT_THAT(options.env_error, HasSubstr("INPROF_HZ=fast"));
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_FALSE(agent.ok());
  EXPECT_THAT(agent.status().message(), HasSubstr("INPROF_HZ=fast"));
}

TEST(OptionsTest, MalformedAddressIsReported) {
  ScopedEnv addr("INPROF_ADDR", "localhost:http");
  EXPECT_THAT(Options::FromEnvironment().env_error,
              HasSubstr("INPROF_ADDR=localhost:http"));
}

}  // namespace
}  // namespace inprof
