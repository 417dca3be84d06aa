#include "agent/http/request_stats.h"

namespace inprof::internal {
namespace {

constexpr std::string_view kRoutes[] = {
    "/debug/pprof/",        "/debug/pprof/profile",
    "/debug/pprof/heap",    "/debug/pprof/allocs",
    "/debug/pprof/block",   "/debug/pprof/mutex",
    "/debug/pprof/cmdline", "/debug/pprof/symbol",
    "/debug/heap/rate",     "/debug/contention/rate",
    "/debug/allocator",     "/debug/allocator/release",
    "/debug/pools",         "/metrics",
};

}  // namespace

std::string RequestStats::RouteOf(std::string_view path) {
  if (path == "/debug/pprof") return "/debug/pprof/";
  for (std::string_view route : kRoutes) {
    if (path == route) return std::string(route);
  }
  return "other";
}

void RequestStats::Record(std::string_view path, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{RouteOf(path), status}];
}

std::map<std::pair<std::string, int>, uint64_t> RequestStats::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

void RequestStats::WriteMetrics(PrometheusText& text) const {
  text.Family("inprof_http_requests_total", "counter",
              "Requests the agent's HTTP endpoint served, by route and "
              "status code.");
  for (const auto& [key, count] : Snapshot()) {
    text.Sample("inprof_http_requests_total",
                {{"route", key.first}, {"code", std::to_string(key.second)}},
                static_cast<double>(count));
  }
}

}  // namespace inprof::internal
