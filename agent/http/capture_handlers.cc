#include "agent/http/capture_handlers.h"

#include <charconv>
#include <cstdio>
#include <string>

#include "agent/base/iso8601.h"
#include "agent/base/json_string.h"
#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

constexpr char kNoCapture[] =
    "no such capture (dropped, or never taken): see /debug/pprof/captures";

std::string CaptureUrl(const CaptureStore::Info& info) {
  return "/debug/pprof/captures/" + std::to_string(info.id);
}

bool HasBaseline(const RequestBaselines& baselines,
                 const CaptureStore::Info& info) {
  return baselines.exists && baselines.exists(info.request->endpoint);
}

std::string RequestJson(const CaptureStore::Info& info,
                        const RequestBaselines& baselines) {
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
  std::string out = "{\"id\":" + std::to_string(info.id) +
                    ",\"endpoint\":" + JsonString(r.endpoint) +
                    ",\"duration_ms\":" + duration +
                    ",\"start\":" + JsonString(Iso8601(info.unix_nanos, true)) +
                    ",\"labels\":" + labels +
                    ",\"request_id\":" + std::to_string(r.request_id) +
                    ",\"running\":" + (r.running ? "true" : "false") +
                    ",\"bytes\":" + std::to_string(info.bytes) + ",\"url\":\"" +
                    CaptureUrl(info) + "\"";
  if (HasBaseline(baselines, info)) {
    out += ",\"baseline_url\":\"" + CaptureUrl(info) + "?baseline=1\"";
  }
  if (r.process_profile_ms > 0) {
    out += ",\"process_profile_ms\":" + std::to_string(r.process_profile_ms) +
           ",\"process_url\":\"" + CaptureUrl(info) + "?process=1\"";
  }
  return out + "}";
}

// Which profile of a capture a request asks for.
enum class CapturePart { kRequest, kBaseline, kProcess };

// The `baseline` and `process` parameters: at most one of them 1, each 0 or
// 1; anything else (another parameter, another value) is kInvalidArgument.
StatusOr<CapturePart> WantedPart(const httplib::Request& req) {
  CapturePart part = CapturePart::kRequest;
  for (const auto& [name, value] : req.params) {
    if (name != "baseline" && name != "process") {
      return InvalidArgumentError(OneLine(name, 32) +
                                  ": unknown parameter (captures take "
                                  "baseline=1 or process=1)");
    }
    if (value != "0" && value != "1") {
      return InvalidArgumentError(name + "=" + OneLine(value, 32) +
                                  ": must be 0 or 1");
    }
    if (value == "0") continue;
    if (part != CapturePart::kRequest) {
      return InvalidArgumentError("baseline=1 and process=1: one at a time");
    }
    part = name == "baseline" ? CapturePart::kBaseline : CapturePart::kProcess;
  }
  return part;
}

void ServeBaseline(const CaptureStore& captures,
                   const RequestBaselines& baselines, uint64_t id,
                   const std::string& name, httplib::Response& res) {
  std::optional<CaptureStore::Info> info = FindRequestCapture(captures, id);
  if (!info) {
    return ServeError(res, 404,
                      captures.Bytes(id)
                          ? "capture " + std::to_string(id) +
                                " is not a slow request's: it has no baseline"
                          : std::string(kNoCapture));
  }
  if (!baselines.profile) {
    return ServeError(res, 404, "no baselines in this process");
  }
  StatusOr<std::string> bytes = baselines.profile(info->request->endpoint);
  if (!bytes.ok()) return ServeStatus(res, bytes.status());
  ServeBinary(res, std::move(bytes).value(), name + "-baseline");
}

void ServeProcessProfile(const CaptureStore& captures, uint64_t id,
                         const std::string& name, httplib::Response& res) {
  std::optional<std::string> bytes = captures.ProcessBytes(id);
  if (bytes) return ServeBinary(res, std::move(*bytes), name + "-process");
  if (!captures.Bytes(id)) return ServeError(res, 404, kNoCapture);
  ServeError(res, 404,
             "capture " + std::to_string(id) +
                 " has no process profile: auto-capture's process_profile_ms "
                 "was 0 when it was taken, another was being taken, or its "
                 "window has not ended yet");
}

void ServeCapture(const CaptureStore& captures,
                  const RequestBaselines& baselines,
                  const httplib::Request& req, httplib::Response& res) {
  StatusOr<CapturePart> part = WantedPart(req);
  if (!part.ok()) return ServeStatus(res, part.status());
  std::optional<uint64_t> id = ParseCaptureId(req.matches[1].str());
  if (!id) return ServeError(res, 404, kNoCapture);
  const std::string name = "capture-" + std::to_string(*id);
  switch (*part) {
    case CapturePart::kBaseline:
      return ServeBaseline(captures, baselines, *id, name, res);
    case CapturePart::kProcess:
      return ServeProcessProfile(captures, *id, name, res);
    case CapturePart::kRequest:
      break;
  }
  std::optional<std::string> bytes = captures.Bytes(*id);
  if (!bytes) return ServeError(res, 404, kNoCapture);
  ServeBinary(res, std::move(*bytes), name);
}

}  // namespace

std::optional<uint64_t> ParseCaptureId(std::string_view text) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return id;
}

std::optional<CaptureStore::Info> FindRequestCapture(
    const CaptureStore& captures, uint64_t id) {
  for (CaptureStore::Info& info : captures.List()) {
    if (info.id == id && info.request) return std::move(info);
  }
  return std::nullopt;
}

std::string CaptureListJson(const CaptureStore& captures,
                            const RequestBaselines& baselines) {
  std::string out = "{\"captures\":[";
  bool first = true;
  for (const CaptureStore::Info& info : captures.List()) {
    if (!info.request) continue;
    if (!first) out += ',';
    first = false;
    out += RequestJson(info, baselines);
  }
  return out + "]}\n";
}

void InstallCaptureHandlers(httplib::Server& server, CaptureStore* captures,
                            RequestBaselines baselines) {
  server.Get("/debug/pprof/captures",
             Guarded([captures, baselines](const httplib::Request&,
                                           httplib::Response& res) {
               res.status = 200;
               res.set_content(CaptureListJson(*captures, baselines),
                               "application/json");
             }));
  server.Get(R"(/debug/pprof/captures/([^/]*))",
             Guarded([captures, baselines](const httplib::Request& req,
                                           httplib::Response& res) {
               ServeCapture(*captures, baselines, req, res);
             }));
}

}  // namespace inprof::internal
