#include "agent/http/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace inprof::internal {
namespace {

int ThreadCount() {
  int count = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

void InstallHello(httplib::Server& server, const std::function<bool()>&) {
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello", "text/plain");
  });
}

TEST(HttpServerTest, PortZeroPicksAFreePortAndServes) {
  auto server =
      HttpServer::Start({.host = "127.0.0.1", .port = 0}, InstallHello);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result res = client.Get("/hello");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "hello");
}

TEST(HttpServerTest, PortInUseReportsErrnoAndLeavesNoThread) {
  // Occupy a port with a listening socket of our own.
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(sock, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  const int threads_before = ThreadCount();
  auto server =
      HttpServer::Start({.host = "127.0.0.1", .port = port}, InstallHello);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server.status().message(),
            "cannot listen on 127.0.0.1:" + std::to_string(port) +
                ": Address already in use");
  EXPECT_EQ(ThreadCount(), threads_before);
  close(sock);
}

TEST(HttpServerTest, RejectsOutOfRangePort) {
  auto server = HttpServer::Start({.port = 65536}, InstallHello);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.status().message(),
            "port=65536: must be between 0 and 65535");
}

TEST(HttpServerTest, BadAddressReportsReason) {
  const int threads_before = ThreadCount();
  // 192.0.2.0/24 is TEST-NET-1: numeric, so no DNS, and not on any interface.
  auto server =
      HttpServer::Start({.host = "192.0.2.1", .port = 0}, InstallHello);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(),
            "cannot listen on 192.0.2.1:0: Cannot assign requested address");
  EXPECT_EQ(ThreadCount(), threads_before);
}

TEST(HttpServerTest, StopJoinsAllThreadsAndIsIdempotent) {
  // A first cycle lets runtimes start their own helper threads (TSan has one).
  HttpServer::Start({.host = "127.0.0.1", .port = 0}, InstallHello)
      .value()
      ->Stop();
  const int threads_before = ThreadCount();
  auto server = HttpServer::Start(
      {.host = "127.0.0.1", .port = 0, .threads = 3}, InstallHello);
  ASSERT_TRUE(server.ok());
  // The listener plus the three workers, all there once Start() returns.
  EXPECT_EQ(ThreadCount(), threads_before + 4);
  (*server)->Stop();
  EXPECT_EQ(ThreadCount(), threads_before);
  (*server)->Stop();
  server->reset();
  EXPECT_EQ(ThreadCount(), threads_before);
}

// Counts this process's threads whose name is `name` (/proc/self/task/*/comm).
int ThreadsNamed(const std::string& name) {
  int count = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const std::string path =
        std::string("/proc/self/task/") + entry->d_name + "/comm";
    char comm[32] = {};
    if (FILE* file = std::fopen(path.c_str(), "r")) {
      if (std::fgets(comm, sizeof(comm), file) != nullptr &&
          name + "\n" == comm) {
        ++count;
      }
      std::fclose(file);
    }
  }
  closedir(dir);
  return count;
}

// The server's threads say whose they are in top -H, gdb and thread dumps:
// on a host with thousands of threads, the agent's are the inprof-* ones.
// The workers exist, named, once Start() returns (each names itself before
// the pool's constructor returns); a request is served all the same.
TEST(HttpServerTest, ThreadsAreNamedAsTheAgents) {
  const int listeners = ThreadsNamed("inprof-listen");
  const int workers = ThreadsNamed("inprof-http");
  auto server = HttpServer::Start(
      {.host = "127.0.0.1", .port = 0, .threads = 3}, InstallHello);
  ASSERT_TRUE(server.ok());
  httplib::Client client("127.0.0.1", (*server)->port());
  ASSERT_TRUE(client.Get("/hello"));
  EXPECT_EQ(ThreadsNamed("inprof-listen"), listeners + 1);
  EXPECT_EQ(ThreadsNamed("inprof-http"), workers + 3);
  (*server)->Stop();
  EXPECT_EQ(ThreadsNamed("inprof-listen"), listeners);
  EXPECT_EQ(ThreadsNamed("inprof-http"), workers);
}

TEST(HttpServerTest, StoppingPredicateEndsLongHandlers) {
  std::atomic<bool> in_handler{false};
  auto server = HttpServer::Start(
      {.host = "127.0.0.1", .port = 0},
      [&](httplib::Server& s, const std::function<bool()>& stopping) {
        s.Get("/long",
              [&, stopping](const httplib::Request&, httplib::Response& res) {
                in_handler = true;
                while (!stopping()) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                res.set_content("stopped", "text/plain");
              });
      });
  ASSERT_TRUE(server.ok());
  std::thread client_thread([port = (*server)->port()] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    client.Get("/long");
  });
  while (!in_handler) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*server)->Stop();  // Returns because the handler sees stopping().
  client_thread.join();
}

}  // namespace
}  // namespace inprof::internal
