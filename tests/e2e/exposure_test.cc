// The agent as something a hostile client or web page can reach (issue 12,
// items 5 and 7), tested against a real Agent:
//   - a flood of idle connections leaves the host at least half of its file
//     descriptors, and the agent answers again once they are gone;
//   - a web page cannot change the agent's state (CSRF) or read it through
//     a rebound DNS name;
//   - with a token, requests need it, `go tool pprof` can send it, and the
//     /debug/pprof/ui page carries it.
// All traffic stays on 127.0.0.1. Nothing is judged by wall-clock time.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "tests/e2e/busy_work.h"
#include "tests/support/chromium.h"
#include "tests/support/go_tool.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;

// --- The host: a child process with a low descriptor limit running the agent.

constexpr rlim_t kHostFdLimit = 256;

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// The length of the accept queue of the agent's listening socket on `port`
// (TCP_INFO's tcpi_unacked for a listener), or -1 if none is found.
int AcceptQueueLength(int port) {
  for (int fd = 0; fd < static_cast<int>(kHostFdLimit); ++fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        !listening) {
      continue;
    }
    sockaddr_storage addr{};
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.ss_family != AF_INET ||
        ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port) != port) {
      continue;
    }
    tcp_info info{};
    len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return static_cast<int>(info.tcpi_unacked);
  }
  return -1;
}

// How many descriptors the host can still open, up to its limit.
int OpenableDescriptors() {
  std::vector<int> fds;
  for (rlim_t i = 0; i < kHostFdLimit; ++i) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  return static_cast<int>(fds.size());
}

// Runs in the forked child: lowers RLIMIT_NOFILE, starts the agent, reports
// its port, then answers commands: 'c' → once the agent has taken every
// pending connection off its accept queue, how many descriptors the host can
// still open; 'q' → exit.
[[noreturn]] void RunHost(int commands, int replies) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = kHostFdLimit;
  int port = -1;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    Options options;
    options.port = 0;
    StatusOr<Agent> agent = Agent::Start(options);
    if (agent.ok()) {
      port = agent->port();
      WriteAll(replies, &port, sizeof(port));
      char command = 0;
      while (ReadAll(commands, &command, 1) && command != 'q') {
        // Safety bound only: a working agent empties the queue at once.
        for (int i = 0; i < 2000 && AcceptQueueLength(port) > 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        const int openable = OpenableDescriptors();
        WriteAll(replies, &openable, sizeof(openable));
      }
      _exit(0);
    }
  }
  WriteAll(replies, &port, sizeof(port));
  _exit(1);
}

// A TCP connection to 127.0.0.1:port that sends nothing. connect() is
// bounded (SO_SNDTIMEO) so that a server that stopped accepting cannot stall
// the test; reads are bounded only as a safety net.
int ConnectIdle(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{};
  tv.tv_sec = 5;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  tv.tv_sec = 60;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ExposureTest, IdleConnectionFloodLeavesTheHostHalfItsDescriptors) {
  // Enough descriptors here for the flood.
  rlimit mine{};
  getrlimit(RLIMIT_NOFILE, &mine);
  if (mine.rlim_cur < 1024 && mine.rlim_max >= 1024) {
    mine.rlim_cur = 1024;
    setrlimit(RLIMIT_NOFILE, &mine);
  }
  int commands[2];
  int replies[2];
  ASSERT_EQ(pipe2(commands, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(replies, O_CLOEXEC), 0);
  const pid_t host = fork();
  ASSERT_GE(host, 0);
  if (host == 0) {
    close(commands[1]);
    close(replies[0]);
    RunHost(commands[0], replies[1]);
  }
  close(commands[0]);
  close(replies[1]);
  int port = -1;
  ASSERT_TRUE(ReadAll(replies[0], &port, sizeof(port)));
  ASSERT_GT(port, 0) << "the host could not start the agent";

  // More idle connections than the host has descriptors.
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    const int fd = ConnectIdle(port);
    if (fd < 0) break;  // the agent stopped accepting: the host is full
    idle.push_back(fd);
  }
  ASSERT_TRUE(WriteAll(commands[1], "c", 1));
  int openable = -1;
  ASSERT_TRUE(ReadAll(replies[0], &openable, sizeof(openable)));
  EXPECT_GE(openable, static_cast<int>(kHostFdLimit / 2))
      << "with " << idle.size() << " idle connections open";
  ASSERT_EQ(idle.size(), 300u);
  // (Which of them were refused with a 503 depends on how fast they came:
  // HttpServerLimitsTest.ConnectionsOverTheCapAreRefusedAtOnce checks that.)

  // Once the idle connections time out, a normal request is served. (The
  // idle sockets stay open on this side throughout.)
  int status = 0;
  for (int attempt = 0; attempt < 600 && status != 200; ++attempt) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(60, 0);
    httplib::Result res = client.Get("/debug/pprof/cmdline");
    status = res ? res->status : 0;
    if (status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(status, 200);

  for (int fd : idle) close(fd);
  ASSERT_TRUE(WriteAll(commands[1], "q", 1));
  int wstatus = 0;
  ASSERT_EQ(waitpid(host, &wstatus, 0), host);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  close(commands[1]);
  close(replies[0]);
}

// --- Web pages: CSRF and DNS rebinding against a real agent.

struct Answer {
  int status = 0;
  std::string body;
};

Answer Call(int port, const std::string& method, const std::string& path,
            const httplib::Headers& headers) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  httplib::Result res =
      method == "POST" ? client.Post(path.c_str(), headers, "", "text/plain")
                       : client.Get(path.c_str(), headers);
  if (!res) return {};
  return {res->status, res->body};
}

TEST(ExposureTest, CrossSiteFormPostsChangeNothing) {
  Options options;
  options.port = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const int port = agent->port();
  const std::string before =
      Call(port, "GET", "/debug/contention/rate", {}).body;
  // What a page on evil.example gets by submitting forms to the agent.
  const httplib::Headers evil = {{"Origin", "http://evil.example"}};
  for (const char* path :
       {"/debug/contention/rate?block_ns=1&mutex_fraction=1",
        "/debug/heap/rate?bytes=1", "/debug/allocator/release",
        "/debug/pprof/ui/captures?profile=block"}) {
    SCOPED_TRACE(path);
    Answer res = Call(port, "POST", path, evil);
    EXPECT_EQ(res.status, 403) << res.body;
    EXPECT_EQ(res.body,
              "Origin: http://evil.example is not this agent's origin; "
              "cross-site requests are refused\n");
  }
  EXPECT_EQ(Call(port, "GET", "/debug/contention/rate", {}).body, before);
  EXPECT_THAT(Call(port, "GET", "/debug/pprof/ui/captures", {}).body,
              HasSubstr("\"captures\":[]"));
  // Mutations are POST only.
  EXPECT_EQ(Call(port, "GET", "/debug/contention/rate?block_ns=1", {}).status,
            405);
  EXPECT_EQ(Call(port, "GET", "/debug/allocator/release", {}).status, 405);
  EXPECT_EQ(Call(port, "GET", "/debug/contention/rate", {}).body, before);
}

TEST(ExposureTest, RebindingDnsNameGetsNoCommandLine) {
  Options options;
  options.port = 0;
  StatusOr<Agent> agent = Agent::Start(options);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const int port = agent->port();
  Answer res = Call(port, "GET", "/debug/pprof/cmdline",
                    {{"Host", "evil.example:" + std::to_string(port)}});
  EXPECT_EQ(res.status, 403);
  EXPECT_THAT(res.body, HasSubstr("Host: evil.example"));
  EXPECT_EQ(Call(port, "GET", "/debug/pprof/cmdline", {}).status, 200);
}

// --- The token.

constexpr char kToken[] = "e2e-Token.7~x";

// An agent started from the environment, as libinprof_preload starts one.
StatusOr<Agent> StartAgentWithToken() {
  setenv("INPROF_TOKEN", kToken, 1);
  setenv("INPROF_ALLOWED_HOSTS", " profiler.example , 10.1.2.3", 1);
  setenv("INPROF_PORT", "0", 1);
  Options options = Options::FromEnvironment();
  unsetenv("INPROF_TOKEN");
  unsetenv("INPROF_ALLOWED_HOSTS");
  unsetenv("INPROF_PORT");
  EXPECT_EQ(options.env_error, "");
  EXPECT_EQ(options.allowed_hosts,
            (std::vector<std::string>{"profiler.example", "10.1.2.3"}));
  options.block_profile_rate = 1;
  return Agent::Start(options);
}

TEST(ExposureTest, TokenGuardsEveryEndpoint) {
  // A malformed token is refused at start, without echoing it.
  Options bad;
  bad.port = 0;
  bad.token = "has space";
  const StatusOr<Agent> malformed = Agent::Start(bad);
  ASSERT_FALSE(malformed.ok());
  EXPECT_THAT(malformed.status().message(), HasSubstr("token: only letters"));

  StatusOr<Agent> agent = StartAgentWithToken();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const int port = agent->port();
  const httplib::Headers bearer = {
      {"Authorization", std::string("Bearer ") + kToken}};
  for (const char* path :
       {"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/block",
        "/debug/pprof/symbol", "/debug/pprof/ui", "/metrics",
        "/debug/allocator", "/debug/contention/rate"}) {
    SCOPED_TRACE(path);
    Answer refused = Call(port, "GET", path, {});
    EXPECT_EQ(refused.status, 401);
    EXPECT_THAT(refused.body, HasSubstr("needs its token"));
    EXPECT_EQ(Call(port, "GET", path, bearer).status, 200);
  }
  EXPECT_EQ(Call(port, "POST", "/debug/contention/rate?block_ns=5", {}).status,
            401);
  EXPECT_EQ(
      Call(port, "POST", "/debug/contention/rate?block_ns=5", bearer).status,
      200);
  // Names from INPROF_ALLOWED_HOSTS are served; the token is still needed.
  EXPECT_EQ(Call(port, "GET", "/debug/pprof/cmdline",
                 {{"Host", "profiler.example:6060"}})
                .status,
            401);
  httplib::Headers named = bearer;
  named.emplace("Host", "profiler.example:6060");
  EXPECT_EQ(Call(port, "GET", "/debug/pprof/cmdline", named).status, 200);
}

// One thread burning CPU in HotAlpha while it lives.
class Burner {
 public:
  Burner() : thread_([this] { HotAlpha(stop_); }) {}
  ~Burner() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ExposureTest, GoToolPprofSendsTheToken) {
  StatusOr<Agent> agent = StartAgentWithToken();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Burner burner;
  Contend(3, 20);
  const std::string port = std::to_string(agent->port());
  test::TempDir scratch;
  // The documented way: the token as the password in the URL. go tool
  // pprof sends it as HTTP Basic authentication, also to /symbol.
  test::CommandResult basic = test::GoToolPprof(
      {"-raw", "-output=" + scratch.path() + "/basic.txt",
       "http://inprof:" + std::string(kToken) + "@127.0.0.1:" + port +
           "/debug/pprof/profile?seconds=1"});
  ASSERT_EQ(basic.exit_code, 0) << basic.Describe();
  std::optional<std::string> text =
      test::ReadFile(scratch.path() + "/basic.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, HasSubstr("PeriodType: cpu nanoseconds"));
  // The query parameter works too (pprof keeps the query, adding seconds).
  test::CommandResult query = test::GoToolPprof(
      {"-raw", "-output=" + scratch.path() + "/query.txt",
       "http://127.0.0.1:" + port + "/debug/pprof/block?token=" + kToken});
  ASSERT_EQ(query.exit_code, 0) << query.Describe();
  text = test::ReadFile(scratch.path() + "/query.txt");
  ASSERT_TRUE(text.has_value());
  EXPECT_THAT(*text, HasSubstr("HoldBriefly"));
  // Without it, pprof fails and shows the agent's one-line reason.
  test::CommandResult none = test::GoToolPprof(
      {"-raw", "http://127.0.0.1:" + port + "/debug/pprof/block"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_THAT(none.err, HasSubstr("401 Unauthorized"));
  EXPECT_THAT(none.err, HasSubstr("needs its token"));
}

TEST(ExposureTest, UiPageCarriesTheToken) {
  StatusOr<Agent> agent = StartAgentWithToken();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  Contend(3, 20);
  EXPECT_EQ(Call(agent->port(), "GET", "/debug/pprof/ui", {}).status, 401);
  std::filesystem::create_directories(INPROF_SCREENSHOT_DIR);
  const std::string shot =
      std::string(INPROF_SCREENSHOT_DIR) + "/ui_with_token.png";
  // The page's own requests (the capture list, the flame tree) need the
  // token as well: it carries the one in its URL.
  test::BrowserPage page =
      test::LoadInChromium(agent->url() + "/debug/pprof/ui?token=" + kToken +
                               "#profile=block&search=HoldBriefly",
                           shot);
  ASSERT_TRUE(page.ok);
  EXPECT_THAT(page.console, ::testing::Not(HasSubstr("Uncaught")))
      << page.console;
  EXPECT_EQ(test::BodyAttribute(page.dom, "data-state"), "ready")
      << test::BodyAttribute(page.dom, "data-error");
  EXPECT_NE(test::BodyAttribute(page.dom, "data-matches"), "0");
}

}  // namespace
}  // namespace inprof::e2e
