// RequestStats counts the HTTP requests the agent served, by route and
// status, for /metrics ("profile requests served"). Paths outside the known
// routes are counted as "other", so a scanner cannot grow the table.
//
// Thread safety: thread-safe.
#ifndef INPROF_AGENT_HTTP_REQUEST_STATS_H_
#define INPROF_AGENT_HTTP_REQUEST_STATS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "agent/base/prometheus_text.h"

namespace inprof::internal {

class RequestStats {
 public:
  void Record(std::string_view path, int status);

  // (route, status) -> requests.
  std::map<std::pair<std::string, int>, uint64_t> Snapshot() const;

  // The route name `path` is counted under.
  static std::string RouteOf(std::string_view path);

  // The HTTP server's part of /metrics: inprof_http_requests_total.
  void WriteMetrics(PrometheusText& text) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> counts_;  // guarded by mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_REQUEST_STATS_H_
