// A real, unmodified server from Debian's archive profiled through
// libinprof_preload.so (issue 15, item 2): redis-server 7.0 (package
// redis-server: a stripped PIE exporting its functions with -rdynamic,
// multi-threaded with --io-threads, its own jemalloc), loaded by its own
// load tool redis-benchmark (package redis-tools), its CPU profile read by
// the real go tool pprof. Like Go, the packages are hard requirements: a
// missing one fails the test with the apt-get line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/preload_process.h"
#include "tests/support/go_tool.h"
#include "tests/support/http_get.h"
#include "tests/support/pprof_top.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::test {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Require(const char* program, const char* package) {
  const char* path = std::getenv("PATH");
  std::string found = FindExecutable(program, path == nullptr ? "" : path);
  EXPECT_FALSE(found.empty())
      << program << " not found: apt-get install " << package;
  return found;
}

// Waits until `pid` listens on every port of `ports`.
bool WaitForPorts(PreloadedProcess& process, const std::vector<int>& ports) {
  for (int attempt = 0; attempt < 3000 && process.Running(); ++attempt) {
    const std::vector<int> listening = ListeningPorts(process.pid());
    if (std::all_of(ports.begin(), ports.end(), [&](int port) {
          return std::find(listening.begin(), listening.end(), port) !=
                 listening.end();
        })) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(PreloadRedisTest, CpuProfileOfRedisUnderRedisBenchmark) {
  const std::string redis = Require("redis-server", "redis-server");
  const std::string benchmark = Require("redis-benchmark", "redis-tools");
  ASSERT_FALSE(redis.empty() || benchmark.empty());
  const int redis_port = FreePort();
  int agent_port = FreePort();
  while (agent_port == redis_port) agent_port = FreePort();

  PreloadedProcess server(
      {redis, "--port", std::to_string(redis_port), "--bind", "127.0.0.1",
       "--save", "", "--appendonly", "no", "--daemonize", "no", "--io-threads",
       "2"},
      {{"LD_PRELOAD", INPROF_PRELOAD_LIBRARY},
       {"INPROF_ADDR", "127.0.0.1:" + std::to_string(agent_port)},
       {"INPROF_PRELOAD_PROGRAM", "redis-server"}});
  ASSERT_TRUE(WaitForPorts(server, {redis_port, agent_port}))
      << server.Stdout() << server.Stderr();

  // Load for as long as the profile takes: -n far beyond it, killed after.
  PreloadedProcess load(
      {benchmark, "-p", std::to_string(redis_port), "-t", "set,get", "-n",
       "100000000", "-c", "50", "-q", "--threads", "1"},
      {});
  httplib::Client client("127.0.0.1", agent_port);
  client.set_read_timeout(std::chrono::seconds(60));
  const std::string body = GetOk(client, "/debug/pprof/profile?seconds=3");
  EXPECT_TRUE(load.Running()) << load.Stdout() << load.Stderr();
  load.Stop();

  TempDir dir;
  const std::string path = dir.WriteFile("redis.pb.gz", body);
  CommandResult top = GoToolPprof({"-top", "-cum", path});
  ASSERT_EQ(top.exit_code, 0) << top.Describe();
  const PprofTop table = ParsePprofTop(top.out);
  EXPECT_GT(PprofMagnitude(table.shown), 0.0) << top.out;
  EXPECT_FALSE(table.rows.empty()) << top.out;
  // Named from redis' dynamic symbol table: the event loop and the command
  // path (agent/symbolize reads .dynsym when there is no .symtab).
  EXPECT_THAT(top.out, HasSubstr("aeMain"));
  EXPECT_THAT(top.out, AnyOf(HasSubstr("processCommand"),
                             HasSubstr("readQueryFromClient"),
                             HasSubstr("IOThreadMain")));

  // The main mapping is the server's executable (Debian's redis-server is
  // a symlink to redis-check-rdb, and /proc/self/maps names the file).
  CommandResult raw = GoToolPprof({"-raw", path});
  ASSERT_EQ(raw.exit_code, 0) << raw.Describe();
  const size_t mappings = raw.out.find("Mappings\n1: ");
  ASSERT_NE(mappings, std::string::npos) << raw.out;
  const std::string first =
      raw.out.substr(mappings, raw.out.find('\n', mappings + 9) - mappings);
  EXPECT_THAT(first, AnyOf(HasSubstr("/redis-check-rdb "),
                           HasSubstr("/redis-server ")));

  EXPECT_TRUE(server.Running());
  EXPECT_THAT(server.Stderr(), IsEmpty());
}

// The README's script for it (examples/preload_unmodified.sh), run as a
// user runs it: it starts redis under the preload, loads it, prints the
// profile's top functions, and stops both.
TEST(PreloadRedisTest, TheExampleScriptProfilesRedis) {
  ASSERT_FALSE(Require("redis-server", "redis-server").empty());
  ASSERT_FALSE(Require("redis-cli", "redis-tools").empty());
  ASSERT_FALSE(RequireGo().empty());
  const int redis_port = FreePort();
  int agent_port = FreePort();
  while (agent_port == redis_port) agent_port = FreePort();
  CommandResult run =
      RunCommand({"bash", INPROF_PRELOAD_EXAMPLE, "2"},
                 {{"PRELOAD", INPROF_PRELOAD_LIBRARY},
                  {"REDIS_PORT", std::to_string(redis_port)},
                  {"INPROF_ADDR", "127.0.0.1:" + std::to_string(agent_port)}},
                 std::chrono::minutes(3));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  // Its top functions (flat, the first 25 lines), named from redis'
  // dynamic symbol table: which ones lead depends on the run.
  EXPECT_THAT(
      run.out,
      AnyOf(HasSubstr("IOThreadMain"), HasSubstr("processCommand"),
            HasSubstr("readQueryFromClient"),
            HasSubstr("handleClientsWithPendingWrites"), HasSubstr("aeMain")))
      << run.Describe();
  EXPECT_THAT(run.out, HasSubstr("File: redis-"));
  // The script stopped the server it started: nothing answers its port.
  httplib::Client agent("127.0.0.1", agent_port);
  agent.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(agent.Get("/debug/pprof/"))
      << "the preloaded redis-server still serves";
}

}  // namespace
}  // namespace inprof::test
