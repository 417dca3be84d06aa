#include "agent/flight/request_latency.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "inprof/request.h"

namespace inprof::internal {
namespace {

using ::testing::HasSubstr;

uint64_t SetOf(std::string_view endpoint) {
  return LabelRegistry::Global().Derive(0, endpoint, {});
}

std::string Metrics() {
  PrometheusText text;
  RequestLatency::Global().WriteMetrics(text);
  return std::move(text).Take();
}

std::atomic<int> g_slow_seen{0};
std::atomic<uint64_t> g_slow_id{0};
void CountSlow(const RequestEnd& end) noexcept {
  g_slow_seen.fetch_add(1);
  g_slow_id.store(end.request_id);
}

// Ends given by value: durations chosen, not measured.
TEST(RequestLatencyTest, HistogramsAndSlowCountsByEndpoint) {
  RequestLatency& latency = RequestLatency::Global();
  latency.Configure(
      AutoCaptureSettingsFrom(100, {{"GET /search", 500}}).value());
  latency.SetSlowRequestSink(&CountSlow);
  const uint64_t users = SetOf("GET /hist-users");
  const uint64_t search = SetOf("GET /search");
  RequestLatency::OnRequestEnd({users, 1, 1000, 1000 + 3'000'000});    // 3 ms
  RequestLatency::OnRequestEnd({users, 2, 1000, 1000 + 150'000'000});  // slow
  RequestLatency::OnRequestEnd({search, 3, 0, 300'000'000});  // under 500
  RequestLatency::OnRequestEnd({search, 4, 0, 700'000'000});  // slow
  EXPECT_EQ(g_slow_seen.load(), 2);
  EXPECT_EQ(g_slow_id.load(), 4u);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr("# TYPE inprof_request_duration_seconds "
                              "histogram\n"));
  EXPECT_THAT(text,
              HasSubstr("inprof_request_duration_seconds_bucket{"
                        "endpoint=\"GET /hist-users\",le=\"0.001\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("inprof_request_duration_seconds_bucket{"
                        "endpoint=\"GET /hist-users\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("inprof_request_duration_seconds_bucket{"
                              "endpoint=\"GET /hist-users\",le=\"0.25\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("inprof_request_duration_seconds_bucket{"
                              "endpoint=\"GET /hist-users\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("inprof_request_duration_seconds_sum{"
                              "endpoint=\"GET /hist-users\"} 0.153\n"));
  EXPECT_THAT(text, HasSubstr("inprof_request_duration_seconds_count{"
                              "endpoint=\"GET /hist-users\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("inprof_slow_requests_total{endpoint=\"GET "
                              "/hist-users\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("inprof_slow_requests_total{endpoint=\"GET "
                              "/search\"} 1\n"));

  // A new threshold applies to the next request.
  latency.Configure(AutoCaptureSettingsFrom(200, {}).value());
  RequestLatency::OnRequestEnd({users, 5, 0, 150'000'000});
  EXPECT_EQ(g_slow_seen.load(), 2);
  latency.SetSlowRequestSink(nullptr);
  latency.Configure({});
}

TEST(RequestLatencyTest, ScopesAreTimedOnlyWhileEnabled) {
  RequestLatency& latency = RequestLatency::Global();
  latency.Configure({});
  const uint64_t set = SetOf("GET /timed");
  auto count = [&] {
    const std::string text = Metrics();
    const std::string key =
        "inprof_request_duration_seconds_count{endpoint=\"GET /timed\"} ";
    const size_t at = text.find(key);
    return at == std::string::npos ? 0
                                   : std::stoi(text.substr(at + key.size()));
  };
  { RequestScope scope("GET /timed"); }
  EXPECT_EQ(count(), 0);
  latency.Configure(AutoCaptureSettingsFrom(100, {}).value());
  {
    RequestScope scope("GET /timed");
    RequestScope nested("GET /timed", {{"phase", "inner"}});  // not a request
  }
  std::thread([] { RequestScope scope("GET /timed"); }).join();
  EXPECT_EQ(count(), 2);
  latency.Configure({});
  { RequestScope scope("GET /timed"); }
  EXPECT_EQ(count(), 2);
  EXPECT_NE(set, 0u);
}

TEST(RequestLatencyTest, ThreadsEndingRequestsTogether) {
  // Under ThreadSanitizer in CI: histograms made and read concurrently.
  RequestLatency& latency = RequestLatency::Global();
  latency.Configure(AutoCaptureSettingsFrom(1, {}).value());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 500; ++i) {
        RequestScope scope("GET /concurrent" + std::to_string((i + t) % 8));
      }
    });
  }
  std::thread reader([] {
    for (int i = 0; i < 20; ++i) Metrics();
  });
  for (std::thread& thread : threads) thread.join();
  reader.join();
  latency.Configure({});
  const std::string text = Metrics();
  int total = 0;
  for (int e = 0; e < 8; ++e) {
    const std::string key =
        "inprof_request_duration_seconds_count{endpoint=\"GET /concurrent" +
        std::to_string(e) + "\"} ";
    const size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << e;
    total += std::stoi(text.substr(at + key.size()));
  }
  EXPECT_EQ(total, 2000);
}

}  // namespace
}  // namespace inprof::internal
