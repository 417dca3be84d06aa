// A cpp-httplib server whose every request runs in an inprof::RequestScope
// named by its route pattern, with its W3C traceparent attached: the
// InstrumentHttplib line below, and routes registered on what it returns. It
// serves on port 8080 (INPROF_* variables set the agent's address, default
// 127.0.0.1:6060):
//
//   curl -s http://127.0.0.1:8080/users/42
//   curl -s -d '' 'localhost:6060/debug/pprof/autocapture?threshold_ms=100'
//   tp=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//   curl -s -H "traceparent: $tp" 'http://127.0.0.1:8080/report?ms=300'
//   curl -s http://127.0.0.1:6060/debug/pprof/captures   # trace_id, span_id
//   curl -s http://127.0.0.1:6060/metrics | grep inprof_request_duration
//
// Requests to /users/42 and /users/7 are both "GET /users/(\d+)".

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "inprof/agent.h"
#include "inprof/httplib.h"

namespace {

void GetUser(const httplib::Request& request, httplib::Response& response) {
  response.set_content("user " + request.matches[1].str() + "\n", "text/plain");
}

// Computes for ?ms= milliseconds (default 20): a request that is slow on CPU.
void GetReport(const httplib::Request& request, httplib::Response& response) {
  const int ms = request.has_param("ms")
                     ? std::atoi(request.get_param_value("ms").c_str())
                     : 20;
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  uint64_t h = 1;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 100'000; ++i) h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15;
  }
  response.set_content("report " + std::to_string(h % 1000) + "\n",
                       "text/plain");
}

}  // namespace

int main() {
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
  httplib::Server server;
  // inprof: every request in a scope; routes go on `routes`, not `server`.
  auto routes = inprof::InstrumentHttplib(server);
  routes.Get(R"(/users/(\d+))", GetUser);
  routes.Get("/report", GetReport);
  std::printf("serving on http://127.0.0.1:8080, agent at %s\n",
              agent->url().c_str());
  std::fflush(stdout);
  return server.listen("127.0.0.1", 8080) ? 0 : 1;
}
