#include "agent/http/debug_handlers.h"

#include <functional>
#include <string>

#include "agent/base/prometheus_text.h"
#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

using Request = httplib::Request;
using Response = httplib::Response;

// Both /debug/allocator and /debug/pools: `format` json (default) or text.
void ServeJsonOrText(const std::function<std::string()>& json,
                     const std::function<std::string()>& text, const char* what,
                     const Request& req, Response& res) {
  const std::string format =
      req.has_param("format") ? req.get_param_value("format") : "json";
  if (format != "json" && format != "text") {
    return ServeError(
        res, 400, "format=" + OneLine(format, 32) + ": must be json or text");
  }
  const std::function<std::string()>& render = format == "json" ? json : text;
  if (!render) {
    return ServeError(res, 501, std::string(what) + " are not available");
  }
  if (format == "text") return ServeText(res, render());
  res.status = 200;
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(render(), "application/json");
}

void ServeRelease(const PprofBackend& backend, const Request& req,
                  Response& res) {
  if (req.method != "POST") {
    ServeError(res, 405,
               "use POST to return free memory to the operating system");
    // After ServeError, which starts from an empty header set.
    res.set_header("Allow", "POST");
    return;
  }
  if (!backend.release_allocator_memory) {
    return ServeError(res, 501, "releasing memory is not available");
  }
  res.status = 200;
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(backend.release_allocator_memory(), "application/json");
}

void ServeMetrics(const PprofBackend& backend, Response& res) {
  if (!backend.metrics) return ServeError(res, 501, "no metrics");
  res.status = 200;
  res.set_content(backend.metrics(), PrometheusText::kContentType);
}

template <typename F>
httplib::Server::Handler Route(const PprofBackend& backend, F serve) {
  return Guarded([backend, serve](const Request& req, Response& res) {
    serve(backend, req, res);
  });
}

}  // namespace

void InstallDebugHandlers(httplib::Server& server,
                          const PprofBackend& backend) {
  server.Get("/debug/allocator",
             Route(backend, [](const PprofBackend& b, const Request& req,
                               Response& res) {
               ServeJsonOrText(b.allocator_json, b.allocator_text,
                               "allocator statistics", req, res);
             }));
  server.Get("/debug/pools",
             Route(backend, [](const PprofBackend& b, const Request& req,
                               Response& res) {
               ServeJsonOrText(b.pools_json, b.pools_text, "pool statistics",
                               req, res);
             }));
  server.Get("/debug/allocator/release", Route(backend, ServeRelease));
  server.Post("/debug/allocator/release", Route(backend, ServeRelease));
  server.Get("/metrics",
             Route(backend, [](const PprofBackend& b, const Request&,
                               Response& res) { ServeMetrics(b, res); }));
}

}  // namespace inprof::internal
