#include "agent/http/capture_handlers.h"

#include <charconv>
#include <cstdio>
#include <string>

#include "agent/base/iso8601.h"
#include "agent/base/json_string.h"
#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

std::string RequestJson(const CaptureStore::Info& info) {
  const CaptureStore::Request& r = *info.request;
  char duration[32];
  std::snprintf(duration, sizeof(duration), "%.3f",
                static_cast<double>(r.duration_nanos) / 1e6);
  std::string labels = "{";
  for (size_t i = 0; i < r.labels.size(); ++i) {
    if (i > 0) labels += ',';
    labels +=
        JsonString(r.labels[i].first) + ':' + JsonString(r.labels[i].second);
  }
  labels += '}';
  const std::string id = std::to_string(info.id);
  return "{\"id\":" + id + ",\"endpoint\":" + JsonString(r.endpoint) +
         ",\"duration_ms\":" + duration +
         ",\"start\":" + JsonString(Iso8601(info.unix_nanos, true)) +
         ",\"labels\":" + labels +
         ",\"request_id\":" + std::to_string(r.request_id) +
         ",\"bytes\":" + std::to_string(info.bytes) +
         ",\"url\":\"/debug/pprof/captures/" + id + "\"}";
}

void ServeCapture(const CaptureStore& captures, const std::string& id_text,
                  httplib::Response& res) {
  uint64_t id = 0;
  auto [end, ec] =
      std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  std::optional<std::string> bytes;
  if (ec == std::errc() && end == id_text.data() + id_text.size()) {
    bytes = captures.Bytes(id);
  }
  if (!bytes) {
    return ServeError(res, 404,
                      "no such capture (dropped, or never taken): see "
                      "/debug/pprof/captures");
  }
  ServeBinary(res, std::move(*bytes), "capture-" + std::to_string(id));
}

}  // namespace

std::string CaptureListJson(const CaptureStore& captures) {
  std::string out = "{\"captures\":[";
  bool first = true;
  for (const CaptureStore::Info& info : captures.List()) {
    if (!info.request) continue;
    if (!first) out += ',';
    first = false;
    out += RequestJson(info);
  }
  return out + "]}\n";
}

void InstallCaptureHandlers(httplib::Server& server, CaptureStore* captures) {
  server.Get(
      "/debug/pprof/captures",
      Guarded([captures](const httplib::Request&, httplib::Response& res) {
        res.status = 200;
        res.set_content(CaptureListJson(*captures), "application/json");
      }));
  server.Get(
      R"(/debug/pprof/captures/([^/]*))",
      Guarded([captures](const httplib::Request& req, httplib::Response& res) {
        ServeCapture(*captures, req.matches[1], res);
      }));
}

}  // namespace inprof::internal
