#include "agent/http/ui_handlers.h"

#include <ctime>
#include <memory>

#include "agent/base/iso8601.h"
#include "agent/base/json_string.h"
#include "agent/capture/capture_store.h"
#include "agent/http/capture_handlers.h"
#include "agent/http/params.h"
#include "agent/http/responses.h"
#include "agent/profile/encode.h"
#include "report/flame_json.h"
#include "report/flamegraph.h"

namespace inprof::internal {
namespace {

struct UiState {
  UiProfileSource source;
  UiOptions options;
  CaptureStore& captures;  // the agent's, options.captures
  std::string page;
};

bool IsLive(const UiState& state, const std::string& name) {
  for (const std::string& live : state.options.live_profiles) {
    if (live == name) return true;
  }
  return false;
}

StatusOr<int> Seconds(const UiState& state, const httplib::Request& req) {
  if (!req.has_param("seconds")) return state.options.default_seconds;
  return ParseSecondsValue(req.get_param_value("seconds"),
                           state.options.max_seconds);
}

// A source's profile and a label for the page's subtitle.
struct Source {
  Profile profile;
  std::string label;
};

// The bytes of SRC "capture:ID" or "baseline:ID" (`kind` is which).
StatusOr<std::string> StoredBytes(const UiState& state, const std::string& spec,
                                  std::string_view kind) {
  std::optional<uint64_t> id =
      ParseCaptureId(std::string_view(spec).substr(kind.size() + 1));
  if (!id) return InvalidArgumentError(spec + ": not a capture id");
  const std::string no_capture =
      spec + ": no such capture (dropped, or never taken)";
  if (kind == "capture") {
    std::optional<std::string> bytes = state.captures.Bytes(*id);
    if (!bytes) return NotFoundError(no_capture);
    return std::move(*bytes);
  }
  std::optional<CaptureStore::Info> info =
      FindRequestCapture(state.captures, *id);
  if (!info) return NotFoundError(no_capture + " or not a slow request's");
  if (!state.options.baselines.profile) {
    return NotFoundError(spec + ": no baselines in this process");
  }
  return state.options.baselines.profile(info->request->endpoint);
}

StatusOr<Source> Resolve(UiState& state, const std::string& spec, int seconds,
                         const httplib::Request& req) {
  for (std::string_view kind : {"capture", "baseline"}) {
    if (!spec.starts_with(std::string(kind) + ":")) continue;
    StatusOr<std::string> bytes = StoredBytes(state, spec, kind);
    if (!bytes.ok()) return bytes.status();
    StatusOr<Profile> profile = report::DecodeChecked(*bytes, spec);
    if (!profile.ok()) return profile.status();
    std::string label = spec;
    if (kind == "baseline") label += " (typical request)";
    return Source{std::move(profile).value(), label};
  }
  if (!IsLive(state, spec)) {
    return InvalidArgumentError("profile=" + spec +
                                ": not a profile name or capture:ID");
  }
  StatusOr<Profile> profile = state.source(spec, seconds, req);
  if (!profile.ok()) return profile.status();
  return Source{std::move(profile).value(),
                spec == "cpu" ? "cpu " + std::to_string(seconds) + "s" : spec};
}

// A slow request's capture's endpoint and duration, and its baseline's SRC
// once its endpoint has one; "" for other captures.
std::string RequestFields(const UiState& state, const CaptureStore::Info& c) {
  if (!c.request) return "";
  std::string out = ",\"endpoint\":" + JsonString(c.request->endpoint) +
                    ",\"duration_ms\":" +
                    std::to_string(c.request->duration_nanos / 1'000'000);
  const PprofBackend::RequestBaselines& baselines = state.options.baselines;
  if (baselines.exists && baselines.exists(c.request->endpoint)) {
    out += ",\"baseline\":\"baseline:" + std::to_string(c.id) + "\"";
  }
  return out;
}

void ServeCaptureList(const UiState& state, httplib::Response& res) {
  std::string out = "{\"live\":[";
  for (size_t i = 0; i < state.options.live_profiles.size(); ++i) {
    if (i > 0) out += ',';
    out += JsonString(state.options.live_profiles[i]);
  }
  out += "],\"captures\":[";
  std::vector<CaptureStore::Info> list = state.captures.List();
  for (size_t i = 0; i < list.size(); ++i) {
    const CaptureStore::Info& c = list[i];
    if (i > 0) out += ',';
    out += "{\"id\":" + std::to_string(c.id) +
           ",\"profile\":" + JsonString(c.profile) +
           ",\"seconds\":" + std::to_string(c.seconds) +
           ",\"time\":" + JsonString(Iso8601(c.unix_nanos)) +
           ",\"bytes\":" + std::to_string(c.bytes) + RequestFields(state, c) +
           "}";
  }
  res.status = 200;
  res.set_content(out + "]}\n", "application/json");
}

void ServeCapture(UiState& state, const httplib::Request& req,
                  httplib::Response& res) {
  std::string name = req.get_param_value("profile");
  if (!IsLive(state, name)) {
    return ServeError(res, 400, "profile=" + name + ": not a profile name");
  }
  StatusOr<int> seconds = Seconds(state, req);
  if (!seconds.ok()) return ServeStatus(res, seconds.status());
  StatusOr<Profile> profile = state.source(name, *seconds, req);
  if (!profile.ok()) return ServeStatus(res, profile.status());
  uint64_t id = state.captures.Add(name, name == "cpu" ? *seconds : 0,
                                   SerializeProfile(*profile));
  res.status = 200;
  res.set_content("{\"id\":" + std::to_string(id) + "}\n", "application/json");
}

void ServeFlame(UiState& state, const httplib::Request& req,
                httplib::Response& res) {
  StatusOr<int> seconds = Seconds(state, req);
  if (!seconds.ok()) return ServeStatus(res, seconds.status());
  if (!req.has_param("profile")) {
    return ServeError(res, 400, "profile=NAME or profile=capture:ID needed");
  }
  StatusOr<Source> next =
      Resolve(state, req.get_param_value("profile"), *seconds, req);
  if (!next.ok()) return ServeStatus(res, next.status());
  std::optional<Source> base;
  if (!req.get_param_value("base").empty()) {
    StatusOr<Source> b =
        Resolve(state, req.get_param_value("base"), *seconds, req);
    if (!b.ok()) return ServeStatus(res, b.status());
    base = std::move(b).value();
  }
  report::FlameJsonRequest request;
  request.sample_index = req.get_param_value("sample_index");
  request.title =
      base ? "diff: " + base->label + " \u2192 " + next->label : next->label;
  StatusOr<std::string> json = report::FlameJsonFromProfiles(
      next->profile, base ? &base->profile : nullptr, request);
  if (!json.ok()) return ServeStatus(res, json.status());
  res.status = 200;
  res.set_content(std::move(json).value(), "application/json");
}

// Opened as /debug/pprof/ui?token=TOKEN (an agent with a token, README
// "Security"), the page's own requests must carry the token too. This
// script, run before the page's, reads it from the page's URL once (the
// page later rewrites its URL) and adds it to every fetch() as a bearer
// token. The token is never written into the page by the server.
constexpr char kTokenCarrier[] = R"(<script>
(function () {
  var token = new URLSearchParams(location.search).get("token");
  if (!token) return;
  var plainFetch = window.fetch;
  window.fetch = function (url, init) {
    init = Object.assign({}, init);
    var headers = new Headers(init.headers || {});
    headers.set("Authorization", "Bearer " + token);
    init.headers = headers;
    return plainFetch(url, init);
  };
})();
</script>
)";

std::string WithTokenCarrier(std::string page) {
  const size_t head = page.find("<head>");
  if (head != std::string::npos)
    page.insert(head + 6, "\n" + std::string(kTokenCarrier));
  return page;
}

}  // namespace

void InstallUiHandlers(httplib::Server& server, UiProfileSource source,
                       UiOptions options) {
  CaptureStore& captures = *options.captures;
  auto state = std::make_shared<UiState>(
      UiState{.source = std::move(source),
              .options = std::move(options),
              .captures = captures,
              .page = WithTokenCarrier(report::FlameGraphUiPage())});
  using Request = httplib::Request;
  using Response = httplib::Response;
  server.Get("/debug/pprof/ui", Guarded([state](const Request&, Response& res) {
               res.status = 200;
               res.set_header("X-Content-Type-Options", "nosniff");
               res.set_content(state->page, "text/html; charset=utf-8");
             }));
  server.Get("/debug/pprof/ui/captures",
             Guarded([state](const Request&, Response& res) {
               ServeCaptureList(*state, res);
             }));
  server.Post("/debug/pprof/ui/captures",
              Guarded([state](const Request& req, Response& res) {
                ServeCapture(*state, req, res);
              }));
  server.Get("/debug/pprof/ui/flame",
             Guarded([state](const Request& req, Response& res) {
               ServeFlame(*state, req, res);
             }));
}

}  // namespace inprof::internal
