// cpp-httplib servers in one call (issue 14, item 6; include/inprof/httplib.h):
// a real httplib::Server instrumented with inprof::InstrumentHttplib, the
// agent beside it, requests over the loopback. Requests are named by route
// pattern, never by URL, in the scope the handlers see, in /metrics'
// latency histograms and in CPU profiles; unmatched paths are collapsed and
// capped; a slow request's traceparent reaches its capture's labels.
//
// Nothing is judged by the clock: handlers burn their own thread's CPU time
// (a slow one far over the threshold however slow the machine is), and
// sleeps only pace the polling for what the agent records after a response
// has been sent (the request's scope ends after the write).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/base/thread_labels.h"
#include "agent/labels/label_registry.h"
#include "agent/labels/request_observer.h"
#include "agent/profile/decode.h"
#include "inprof/agent.h"
#include "inprof/httplib.h"
#include "inprof/request.h"
#include "tests/support/thread_cpu.h"

namespace inprof::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kUsersPattern[] = R"(/users/(\d+))";
constexpr char kUsersEndpoint[] = R"(GET /users/(\d+))";
constexpr char kTraceParent[] =
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// noipa: identical functions must not be folded into one symbol.
__attribute__((noipa)) void UserWork(int64_t nanos) {
  test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
}
__attribute__((noipa)) void SlowReportWork(int64_t nanos) {
  test::BurnThreadCpu(nanos);
  asm volatile("" ::: "memory");
}

// The endpoint label the samplers would stamp on a sample taken now.
std::string CurrentEndpoint() {
  const internal::LabelSet* set =
      internal::LabelRegistry::Global().Find(internal::CurrentLabelSet());
  if (set == nullptr) return "";
  for (const internal::LabelPair& pair : set->pairs) {
    if (pair.key == internal::kEndpointKey) return std::string(pair.value);
  }
  return "";
}

// Endpoint names seen by handlers, in arrival order.
class Seen {
 public:
  void Add(std::string endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    endpoints_.push_back(std::move(endpoint));
  }
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(endpoints_);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> endpoints_;
};

// An httplib::Server on a free loopback port, listening on its own thread
// from Start() to destruction.
class TestServer {
 public:
  TestServer() : routes_(InstrumentHttplib(server_)) {}
  ~TestServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  HttplibRouter& routes() { return routes_; }
  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  HttplibRouter routes_;
  int port_ = 0;
  std::thread thread_;
};

// The agent with auto-capture on at `threshold_ms`, which also turns on the
// per-endpoint latency histograms of /metrics.
class AgentWithAutoCapture {
 public:
  explicit AgentWithAutoCapture(int threshold_ms) {
    Options options;
    options.port = 0;
    StatusOr<Agent> agent = Agent::Start(options);
    EXPECT_TRUE(agent.ok()) << agent.status().ToString();
    if (!agent.ok()) return;
    agent_.emplace(*std::move(agent));
    client_.emplace("127.0.0.1", agent_->port());
    httplib::Result on = client_->Post(
        "/debug/pprof/autocapture?threshold_ms=" + std::to_string(threshold_ms),
        "", "");
    EXPECT_TRUE(on);
    if (on) {
      EXPECT_EQ(on->status, 200) << on->body;
    }
  }
  bool ok() const { return agent_.has_value(); }
  std::string Get(const std::string& path) {
    httplib::Result r = client_->Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return "";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return r->body;
  }

 private:
  std::optional<Agent> agent_;
  std::optional<httplib::Client> client_;
};

// The value of the first /metrics line that starts with `prefix`, or -1.
double MetricValue(const std::string& metrics, const std::string& prefix) {
  const size_t at = metrics.find("\n" + prefix);
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + 1 + prefix.size()));
}

TEST(HttplibIntegrationTest, RoutePatternNamesTheRequestNeverTheUrl) {
  AgentWithAutoCapture agent(/*threshold_ms=*/60'000);
  ASSERT_TRUE(agent.ok());
  Seen seen;
  TestServer server;
  server.routes().Get(kUsersPattern,
                      [&seen](const httplib::Request&, httplib::Response& res) {
                        seen.Add(CurrentEndpoint());
                        UserWork(1'000'000);
                        res.set_content("user", "text/plain");
                      });
  server.Start();
  // Histograms live as long as the process: count from what they hold now.
  const std::string users = "{endpoint=\"GET /users/(\\\\d+)\"";
  const std::string count = "inprof_request_duration_seconds_count" + users;
  const double before =
      std::max(0.0, MetricValue(agent.Get("/metrics"), count + "} "));
  httplib::Client client("127.0.0.1", server.port());
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    httplib::Result r = client.Get("/users/" + std::to_string(1000 + i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(seen.Take(), std::vector<std::string>(kRequests, kUsersEndpoint));

  // The histogram counts a request when its scope ends, just after its
  // response was written: wait for the last one.
  std::string metrics;
  while (MetricValue(metrics = agent.Get("/metrics"), count + "} ") <
         before + kRequests) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(MetricValue(metrics, count + "} "), before + kRequests);
  // Prometheus histogram conventions: cumulative buckets ending at +Inf
  // (equal to _count), and _sum in seconds.
  const std::string bucket = "inprof_request_duration_seconds_bucket" + users;
  EXPECT_EQ(MetricValue(metrics, bucket + ",le=\"+Inf\"} "),
            before + kRequests);
  EXPECT_GE(MetricValue(metrics, bucket + ",le=\"10\"} "), 0);
  EXPECT_GE(MetricValue(metrics, bucket + ",le=\"0.0005\"} "), 0);
  EXPECT_GT(MetricValue(metrics,
                        "inprof_request_duration_seconds_sum" + users + "} "),
            0);
  EXPECT_THAT(metrics, HasSubstr("# TYPE inprof_request_duration_seconds "
                                 "histogram"));
  EXPECT_THAT(metrics, Not(HasSubstr("/users/100")));
}

TEST(HttplibIntegrationTest, CpuProfileSamplesCarryTheRoutePattern) {
  AgentWithAutoCapture agent(/*threshold_ms=*/60'000);
  ASSERT_TRUE(agent.ok());
  TestServer server;
  server.routes().Get(kUsersPattern,
                      [](const httplib::Request&, httplib::Response& res) {
                        UserWork(20'000'000);
                        res.set_content("user", "text/plain");
                      });
  server.Start();
  // Load until the profile has been taken.
  std::atomic<bool> stop{false};
  std::thread load([&stop, port = server.port()] {
    httplib::Client client("127.0.0.1", port);
    for (int i = 0; !stop.load(); ++i)
      client.Get("/users/" + std::to_string(i));
  });
  // As many 1 s profiles as it takes to see the handler's function.
  double labeled = 0;
  std::map<std::string, int> endpoints;
  while (labeled == 0) {
    StatusOr<internal::Profile> profile =
        internal::DecodeProfile(agent.Get("/debug/pprof/profile?seconds=1"));
    ASSERT_TRUE(profile.ok()) << profile.status().ToString();
    for (const internal::Sample& sample : profile->samples) {
      std::string endpoint;
      for (const internal::Label& label : sample.labels) {
        if (label.key == "endpoint") endpoint = label.str;
      }
      ++endpoints[endpoint];
      if (endpoint == kUsersEndpoint) labeled += sample.values[0];
    }
  }
  stop = true;
  load.join();
  EXPECT_GT(labeled, 0);
  for (const auto& [endpoint, count] : endpoints) {
    EXPECT_THAT(endpoint, Not(HasSubstr("/users/1"))) << count;
  }
}

TEST(HttplibIntegrationTest, UnmatchedPathsAreCollapsedAndCapped) {
  Seen seen;
  std::atomic<int> logged{0}, logged_in_request{0};
  TestServer server;
  server.routes()
      .Get(kUsersPattern,
           [](const httplib::Request&, httplib::Response& res) {
             res.set_content("user", "text/plain");
           })
      .set_max_unmatched_endpoints(2)
      // The user's own hooks, chained: they run inside the request.
      .set_pre_routing_handler(
          [&seen](const httplib::Request&, httplib::Response&) {
            seen.Add(CurrentEndpoint());
            return httplib::Server::HandlerResponse::Unhandled;
          })
      .set_logger([&](const httplib::Request&, const httplib::Response&) {
        if (CurrentRequest().valid()) ++logged_in_request;
        ++logged;
      });
  server.Start();
  httplib::Client client("127.0.0.1", server.port());
  for (const char* path : {"/files/123/a", "/files/0af7651916cd43dd/a",
                           "/files/0af76519-16cd-43dd-8448-eb211c80319c/a",
                           "/scan/wp-admin", "/scan/.env", "/files/9/a"}) {
    httplib::Result r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
  httplib::Result head = client.Head("/users/5");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_THAT(seen.Take(), ElementsAre("GET /files/:id/a", "GET /files/:id/a",
                                       "GET /files/:id/a", "GET /scan/wp-admin",
                                       "GET (unmatched)", "GET /files/:id/a",
                                       R"(HEAD /users/(\d+))"));
  // The logger runs after each response is written: wait for the last.
  while (logged.load() < 7) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(logged_in_request.load(), 7);
}

// The ends of requests, as the flight recorder would hear of them.
std::mutex g_ends_mu;
std::vector<internal::RequestEnd> g_ends;
void RecordEnd(const internal::RequestEnd& end) noexcept {
  std::lock_guard<std::mutex> lock(g_ends_mu);
  g_ends.push_back(end);
}

TEST(HttplibIntegrationTest, TraceParentHeaderReachesTheRequestsEnd) {
  {
    std::lock_guard<std::mutex> lock(g_ends_mu);
    g_ends.clear();
  }
  internal::SetRequestObserver(&RecordEnd);
  TestServer server;
  server.routes().Get(kUsersPattern,
                      [](const httplib::Request&, httplib::Response& res) {
                        res.set_content("user", "text/plain");
                      });
  server.Start();
  httplib::Client client("127.0.0.1", server.port());
  ASSERT_TRUE(client.Get("/users/1", {{"traceparent", kTraceParent}}));
  ASSERT_TRUE(client.Get("/users/2", {{"traceparent", "00-bad"}}));
  // The scope ends after the response was written: wait for both ends.
  std::vector<internal::RequestEnd> ends;
  while (ends.size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard<std::mutex> lock(g_ends_mu);
    ends = g_ends;
  }
  internal::SetRequestObserver(nullptr);
  ASSERT_EQ(ends.size(), 2u);
  // Each request on a connection of its own: they may end in either order.
  if (!ends[0].has_trace) std::swap(ends[0], ends[1]);
  EXPECT_TRUE(ends[0].has_trace);
  EXPECT_EQ(ends[0].trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ends[0].span_id_hex(), "00f067aa0ba902b7");
  EXPECT_FALSE(ends[1].has_trace);  // malformed: ignored
}

// Needs the flight recorder to copy RequestEnd's trace ids into the
// capture's labels (agent/flight/flight_recorder.cc, RequestInfo).
TEST(HttplibIntegrationTest, SlowRequestCaptureCarriesItsTraceParent) {
  AgentWithAutoCapture agent(/*threshold_ms=*/100);
  ASSERT_TRUE(agent.ok());
  TestServer server;
  server.routes().Get(R"(/reports/(\d+))",
                      [](const httplib::Request& req, httplib::Response& res) {
                        // 300 ms of CPU: slower than 100 ms on any machine.
                        if (req.matches[1] == "1") SlowReportWork(300'000'000);
                        res.set_content("report", "text/plain");
                      });
  server.Start();
  httplib::Client client("127.0.0.1", server.port());
  // A fast request with another trace leaves nothing.
  httplib::Result fast =
      client.Get("/reports/2",
                 {{"traceparent",
                   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  ASSERT_TRUE(fast);
  httplib::Result slow =
      client.Get("/reports/1", {{"traceparent", kTraceParent}});
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 200);

  std::string list;
  while ((list = agent.Get("/debug/pprof/captures"))
             .find("\"endpoint\":\"GET /reports/(\\\\d+)\"") ==
         std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(list,
              HasSubstr("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
  EXPECT_THAT(list, HasSubstr("\"span_id\":\"00f067aa0ba902b7\""));
  EXPECT_THAT(list, Not(HasSubstr("0af7651916cd43dd8448eb211c80319c")));
  EXPECT_THAT(list, Not(HasSubstr("/reports/1")));
}

}  // namespace
}  // namespace inprof::e2e
