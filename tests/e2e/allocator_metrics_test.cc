// /debug/allocator and /metrics of a program that runs on tcmalloc (this
// test links it), read as users read them: curl-like clients, promtool, and
// a real Prometheus server scraping the agent.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/pool.h"
#include "inprof/request.h"
#include "tests/support/regex.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kMiB = 1 << 20;

StatusOr<Agent> StartAgent() {
  Options options;
  options.port = 0;
  return Agent::Start(options);
}

// An agent with auto-capture on (a threshold no request here reaches) and
// one request timed: /metrics then has the request-latency histogram.
StatusOr<Agent> StartAgentTimingRequests() {
  Options options;
  options.port = 0;
  options.autocapture_threshold_ms = 3'600'000;
  StatusOr<Agent> agent = Agent::Start(options);
  { RequestScope scope("GET /timed"); }
  return agent;
}

// The integer after "key": in a flat JSON object, or -1.
int64_t JsonNumber(const std::string& json, const std::string& key) {
  test::RegexGroups match;
  if (!test::Regex("\"" + key + "\": (-?[0-9]+)").Search(json, &match)) {
    return -1;
  }
  return std::stoll(match[1]);
}

TEST(AllocatorMetricsTest, AllocatorPageShowsTcmallocsFigures) {
  StatusOr<Agent> agent = StartAgent();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  std::vector<char*> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(new char[kMiB]);
    held.back()[0] = 1;
  }
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result json = client.Get("/debug/allocator");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200);
  EXPECT_EQ(json->get_header_value("Content-Type"), "application/json");
  EXPECT_THAT(json->body, HasSubstr("\"allocator\": \"tcmalloc\""));
  EXPECT_THAT(json->body, HasSubstr("\"version\": \"gperftools 2."));
  EXPECT_GE(JsonNumber(json->body, "bytes_in_use"), 64 * kMiB);
  EXPECT_GE(JsonNumber(json->body, "heap_size"),
            JsonNumber(json->body, "bytes_in_use"));
  for (const char* key :
       {"pageheap_free_bytes", "pageheap_unmapped_bytes",
        "central_cache_free_bytes", "transfer_cache_free_bytes",
        "thread_cache_free_bytes", "metadata_bytes"}) {
    EXPECT_GE(JsonNumber(json->body, key), 0) << key;
  }
  EXPECT_GT(JsonNumber(json->body, "metadata_bytes"), 0);

  httplib::Result text = client.Get("/debug/allocator?format=text");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_THAT(text->body, HasSubstr("Bytes in use by application"));
  httplib::Result bad = client.Get("/debug/allocator?format=yaml");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "format=yaml: must be json or text\n");
  for (char* p : held) delete[] p;
}

TEST(AllocatorMetricsTest, ReleaseReturnsFreedPagesToTheSystem) {
  StatusOr<Agent> agent = StartAgent();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  // A large block comes from tcmalloc's page heap and goes back there.
  char* volatile block = static_cast<char*>(std::malloc(64 * kMiB));
  for (int64_t i = 0; i < 64 * kMiB; i += 4096) block[i] = 1;
  std::free(block);
  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result get = client.Get("/debug/allocator/release");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  httplib::Result released =
      client.Post("/debug/allocator/release", "", "text/plain");
  ASSERT_TRUE(released);
  EXPECT_EQ(released->status, 200);
  EXPECT_GE(JsonNumber(released->body, "released_bytes"), 64 * kMiB)
      << released->body;
}

std::string Metrics(const Agent& agent) {
  httplib::Client client("127.0.0.1", agent.port());
  httplib::Result result = client.Get("/metrics");
  if (!result || result->status != 200) return "";
  EXPECT_EQ(result->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  return result->body;
}

TEST(AllocatorMetricsTest, MetricsPassPromtool) {
  StatusOr<Agent> agent = StartAgentTimingRequests();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  // A pool, so that its families are checked too.
  Pool<std::string> pool("promtool_strings");
  { PoolPtr<std::string> s = pool.Get(); }
  httplib::Client client("127.0.0.1", agent->port());
  ASSERT_TRUE(client.Get("/debug/pprof/cmdline"));
  // httplib counts a request after its response went out: the count may
  // lag the answer by a moment.
  const std::string counted =
      "inprof_http_requests_total{route=\"/debug/pprof/cmdline\",code=\"200\"} "
      "1\n";
  std::string metrics = Metrics(*agent);
  for (int i = 0; i < 100 && metrics.find(counted) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    metrics = Metrics(*agent);
  }
  EXPECT_THAT(metrics, HasSubstr("inprof_allocator_bytes{allocator=\"tcmalloc\""
                                 ",kind=\"bytes_in_use\"}"));
  EXPECT_THAT(metrics, HasSubstr("inprof_heap_sample_rate_bytes 524288\n"));
  EXPECT_THAT(metrics, HasSubstr("inprof_samples_total{source=\"heap\"}"));
  EXPECT_THAT(metrics, HasSubstr(counted));
  EXPECT_THAT(metrics, HasSubstr("inprof_request_duration_seconds_bucket{"
                                 "endpoint=\"GET /timed\",le=\"+Inf\"} 1\n"));
  test::TempDir dir;
  const std::string file = dir.WriteFile("metrics.txt", metrics);
  test::CommandResult check =
      test::RunCommand({"sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(AllocatorMetricsTest, ARealPrometheusScrapesTheAgent) {
  StatusOr<Agent> agent = StartAgentTimingRequests();
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  test::TempDir dir;
  const std::string config = dir.WriteFile(
      "prometheus.yml",
      "global:\n  scrape_interval: 1s\n"
      "scrape_configs:\n  - job_name: inprof\n    static_configs:\n"
      "      - targets: ['127.0.0.1:" +
          std::to_string(agent->port()) + "']\n");
  const int port = FreePort();
  test::BackgroundProcess prometheus(
      {"prometheus", "--config.file=" + config,
       "--storage.tsdb.path=" + dir.Path("data"),
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      dir.Path("prometheus.log"));
  ASSERT_TRUE(prometheus.started()) << "apt-get install prometheus";

  httplib::Client client("127.0.0.1", port);
  std::string answer;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && prometheus.Running()) {
    httplib::Result result =
        client.Get("/api/v1/query?query=inprof_heap_sample_rate_bytes");
    if (result && result->status == 200 &&
        result->body.find("\"524288\"") != std::string::npos) {
      answer = result->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_THAT(answer, HasSubstr("\"job\":\"inprof\""))
      << test::ReadFile(dir.Path("prometheus.log")).value_or("(no log)");
  // The scrape itself was healthy.
  httplib::Result up = client.Get("/api/v1/query?query=up");
  ASSERT_TRUE(up);
  EXPECT_THAT(up->body, HasSubstr("\"1\"]"));
  // The latency histogram reads as one: a quantile over its buckets.
  httplib::Result quantile = client.Get(
      "/api/v1/query?query=histogram_quantile(0.5,"
      "inprof_request_duration_seconds_bucket)");
  ASSERT_TRUE(quantile);
  EXPECT_EQ(quantile->status, 200) << quantile->body;
  EXPECT_THAT(quantile->body, HasSubstr("\"endpoint\":\"GET /timed\""))
      << quantile->body;
}

}  // namespace
}  // namespace inprof::e2e
