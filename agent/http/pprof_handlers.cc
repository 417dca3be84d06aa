#include "agent/http/pprof_handlers.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "agent/http/capture_handlers.h"
#include "agent/http/connection_probe.h"
#include "agent/http/params.h"
#include "agent/http/responses.h"
#include "agent/http/ui_handlers.h"

namespace inprof::internal {
namespace {

// One row of the index page; also the list of names the 404 message offers.
// Keep sorted by name (Go sorts its index). A new profile kind is one line
// here plus its route below.
struct IndexEntry {
  const char* name;
  const char* href;  // relative to /debug/pprof/
  const char* description;
};

constexpr IndexEntry kIndexEntries[] = {
    {"allocs", "allocs?debug=1",
     "A sampling of all past memory allocations (needs tcmalloc)."},
    {"block", "block?debug=1",
     "Stacks that led to blocking on inprof locks and conditions (and "
     "on pthread locks with the interposer). The rate is read with GET and "
     "set with POST /debug/contention/rate?block_ns=N."},
    {"cmdline", "cmdline",
     "The command line invocation of the current program, arguments "
     "separated by NUL bytes."},
    {"goroutine", "goroutine?debug=1",
     "The stacks of all current threads (Go's name; also at "
     "/debug/pprof/threads). debug=2 lists each thread with its name, "
     "kernel state, CPU time and request."},
    {"heap", "heap?debug=1",
     "A sampling of memory allocations of live objects (needs tcmalloc). "
     "You can specify the seconds GET parameter for the difference over "
     "that many seconds. The sampling rate is read with GET and set with "
     "POST /debug/heap/rate?bytes=N."},
    {"mutex", "mutex?debug=1",
     "Stacks of holders of contended locks, with the waiting they "
     "caused. The fraction is set with POST "
     "/debug/contention/rate?mutex_fraction=N."},
    {"profile", "profile?seconds=30",
     "CPU profile. You can specify the duration in the seconds GET "
     "parameter. After you get the profile file, use the go tool pprof "
     "command to investigate the profile."},
    {"symbol", "symbol",
     "Maps addresses to function names (Go's symbol protocol, used by go "
     "tool pprof): GET with addresses joined by '+' in the query string, "
     "or POST them in the body."},
};

std::string KnownProfileNames() {
  std::string names;
  for (const IndexEntry& entry : kIndexEntries) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

std::string IndexHtml() {
  std::string html =
      "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
      "/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to export "
      "in legacy text format (profiles that support it)</p>\n<br>\n"
      "Types of profiles available:\n<table>\n"
      "<thead><td>Profile</td></thead>\n";
  for (const IndexEntry& entry : kIndexEntries) {
    html += "<tr><td><a href='";
    html += entry.href;
    html += "'>";
    html += entry.name;
    html += "</a></td></tr>\n";
  }
  html += "</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n";
  for (const IndexEntry& entry : kIndexEntries) {
    html += "<li><div class=profile-name>";
    html += entry.name;
    html += ": </div> ";
    html += entry.description;
    html += "</li>\n";
  }
  html +=
      "</ul>\n</p>\n<p><a href='goroutine?debug=2'>full goroutine stack "
      "dump</a>: every thread's stack (inprof)</p>\n<p><a href='ui'>ui</a>: "
      "these profiles as flame graphs "
      "in the browser; save captures and compare any two (inprof)</p>\n"
      "</body>\n</html>\n";
  return html;
}

// State shared by the handlers of one server.
struct HandlerState {
  PprofBackend backend;
  PprofOptions options;
  std::string index_html;
  std::string known_names;
  std::atomic<int> profiles_in_flight{0};
};

// Counts a CPU profile request in flight for its whole scope.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& counter)
      : counter_(counter), count_(counter.fetch_add(1) + 1) {}
  ~InFlight() { counter_.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  int count() const { return count_; }

 private:
  std::atomic<int>& counter_;
  const int count_;
};

// Serves the 503 and returns true when `in_flight` is over the limit of
// profiles served at once (`what`: "CPU profile", "profile").
bool RefuseOverLimit(const PprofOptions& options, const InFlight& in_flight,
                     const char* what, httplib::Response& res) {
  if (in_flight.count() <= options.max_concurrent_profiles) return false;
  ServeError(res, 503,
             std::string("too many concurrent ") + what + " requests (limit " +
                 std::to_string(options.max_concurrent_profiles) +
                 "); retry later");
  return true;
}

// True once the server stops or the requester disconnected; valid while
// `probe` lives.
std::function<bool()> ClientGoneCheck(const PprofOptions& options,
                                      ConnectionProbe& probe) {
  return [&options, &probe] {
    return (options.stopping && options.stopping()) || probe.ClientGone();
  };
}

void ServeProfile(HandlerState& state, const httplib::Request& req,
                  httplib::Response& res) {
  const PprofOptions& options = state.options;
  StatusOr<int> seconds = ParseProfileSeconds(
      req, options.default_profile_seconds, options.max_profile_seconds);
  if (!seconds.ok()) return ServeStatus(res, seconds.status());
  if (!state.backend.cpu_profile) {
    return ServeError(res, 503,
                      "CPU profiling is not available in this process");
  }
  InFlight in_flight(state.profiles_in_flight);
  if (RefuseOverLimit(options, in_flight, "CPU profile", res)) return;
  ConnectionProbe probe(req);
  const std::function<bool()> client_gone = ClientGoneCheck(options, probe);
  StatusOr<std::string> profile =
      state.backend.cpu_profile(*seconds, client_gone);
  if (!profile.ok()) return ServeStatus(res, profile.status());
  ServeBinary(res, std::move(profile).value(), "profile");
}

// /debug/pprof/heap, /allocs, /block and /mutex, in Go's order of checks
// (pprof-spec.md §1.5, §1.6): `seconds` present → delta (400 when combined
// with debug); `gc` accepted and ignored; `debug` unparsable → 0.
void ServeCumulativeProfile(HandlerState& state, const std::string& name,
                            const httplib::Request& req,
                            httplib::Response& res) {
  PprofBackend::NamedProfileRequest request;
  request.name = name;
  request.debug = ParseDebugValue(req);
  const std::string seconds = req.get_param_value("seconds");
  if (!seconds.empty()) {
    StatusOr<int> parsed =
        ParseSecondsValue(seconds, state.options.max_profile_seconds);
    if (!parsed.ok()) return ServeStatus(res, parsed.status());
    if (request.debug != 0) {
      return ServeError(res, 400,
                        "seconds and debug=" + std::to_string(request.debug) +
                            " cannot be combined: a delta profile is binary "
                            "only");
    }
    request.seconds = *parsed;
  }
  if (!state.backend.named_profile) {
    return ServeError(res, 501, name + " profiles are not available");
  }
  // Only deltas hold a worker for long, so only they count toward the
  // limit and are refused over it: a burst of cheap fetches must not crowd
  // out a CPU profile.
  std::optional<InFlight> in_flight;
  if (request.seconds > 0) {
    in_flight.emplace(state.profiles_in_flight);
    if (RefuseOverLimit(state.options, *in_flight, "profile", res)) return;
  }
  ConnectionProbe probe(req);
  request.client_gone = ClientGoneCheck(state.options, probe);
  StatusOr<std::string> body = state.backend.named_profile(request);
  if (!body.ok()) return ServeStatus(res, body.status());
  if (request.debug != 0) return ServeText(res, std::move(body).value());
  ServeBinary(res, std::move(body).value(),
              request.seconds > 0 ? name + "-delta" : name);
}

// A GET that asks for a change (a link or an <img> on a web page can send
// one): refused, so that state changes only by POST.
void RefuseGetMutation(httplib::Response& res, const std::string& message) {
  ServeError(res, 405, message);
  res.set_header("Allow", "GET, POST");
}

// A profile in memory for /debug/pprof/ui, under the same limits as the
// endpoints.
StatusOr<Profile> FetchForUi(HandlerState& state, const std::string& name,
                             int seconds, const httplib::Request& req) {
  // As the endpoints: only CPU profiles hold a worker for long and count.
  std::optional<InFlight> in_flight;
  if (name == "cpu") {
    in_flight.emplace(state.profiles_in_flight);
    if (in_flight->count() > state.options.max_concurrent_profiles) {
      return UnavailableError(
          "too many concurrent profile requests (limit " +
          std::to_string(state.options.max_concurrent_profiles) + ")");
    }
  }
  ConnectionProbe probe(req);
  const std::function<bool()> client_gone =
      ClientGoneCheck(state.options, probe);
  if (!state.backend.profile) {
    return UnavailableError(name + " profiles are not available");
  }
  return state.backend.profile(name, name == "cpu" ? seconds : 0, client_gone);
}

// GET: the auto-capture settings (JSON); POST: changes them.
void ServeAutoCapture(const HandlerState& state, const httplib::Request& req,
                      httplib::Response& res) {
  const PprofBackend& backend = state.backend;
  if (!backend.autocapture || !backend.set_autocapture) {
    return ServeError(res, 501, "auto-capture is not available");
  }
  if (req.method != "POST") {
    if (!req.params.empty()) {
      return RefuseGetMutation(res,
                               "use POST to change auto-capture: curl -X POST "
                               "'/debug/pprof/autocapture?threshold_ms=N'");
    }
    res.status = 200;
    return res.set_content(backend.autocapture(), "application/json");
  }
  std::vector<std::pair<std::string, std::string>> params(req.params.begin(),
                                                          req.params.end());
  StatusOr<std::string> json = backend.set_autocapture(params);
  if (!json.ok()) return ServeStatus(res, json.status());
  res.status = 200;
  res.set_content(std::move(json).value(), "application/json");
}

// GET: the current rate; POST ?bytes=N: sets it.
void ServeHeapRate(const HandlerState& state, const httplib::Request& req,
                   httplib::Response& res) {
  if (!state.backend.heap_rate || !state.backend.set_heap_rate) {
    return ServeError(res, 501, "heap profiling is not available");
  }
  if (req.method != "POST") {
    if (req.has_param("bytes")) {
      return RefuseGetMutation(
          res,
          "use POST to set the heap sample rate: curl -d '' "
          "'/debug/heap/rate?bytes=N'");
    }
    StatusOr<int64_t> rate = state.backend.heap_rate();
    if (!rate.ok()) return ServeStatus(res, rate.status());
    return ServeText(res, std::to_string(*rate) + "\n");
  }
  StatusOr<int64_t> bytes =
      ParseCountParam("bytes", req.get_param_value("bytes"));
  if (!bytes.ok()) return ServeStatus(res, bytes.status());
  StatusOr<int64_t> previous = state.backend.set_heap_rate(*bytes);
  if (!previous.ok()) return ServeStatus(res, previous.status());
  ServeText(res, "heap sample rate: " + std::to_string(*bytes) +
                     " bytes (was " + std::to_string(*previous) + ")\n");
}

// GET: the contention sampling; POST ?block_ns=N and/or ?mutex_fraction=M
// sets it.
void ServeContentionRate(const HandlerState& state, const httplib::Request& req,
                         httplib::Response& res) {
  const PprofBackend& backend = state.backend;
  if (!backend.contention_rates || !backend.set_contention_rates) {
    return ServeError(res, 501, "contention profiling is not available");
  }
  const auto describe = [](const PprofBackend::ContentionRates& rates) {
    return "block_rate_ns=" + std::to_string(rates.block_rate_nanos) +
           " mutex_fraction=" + std::to_string(rates.mutex_fraction);
  };
  if (req.method != "POST") {
    if (req.has_param("block_ns") || req.has_param("mutex_fraction")) {
      return RefuseGetMutation(
          res,
          "use POST to set the contention sampling: curl -d '' "
          "'/debug/contention/rate?block_ns=N&mutex_fraction=M'");
    }
    StatusOr<PprofBackend::ContentionRates> rates = backend.contention_rates();
    if (!rates.ok()) return ServeStatus(res, rates.status());
    return ServeText(res, describe(*rates) + "\n");
  }
  std::optional<int64_t> values[2];
  const char* const names[2] = {"block_ns", "mutex_fraction"};
  for (int i = 0; i < 2; ++i) {
    if (!req.has_param(names[i])) continue;
    StatusOr<int64_t> value =
        ParseCountParam(names[i], req.get_param_value(names[i]));
    if (!value.ok()) return ServeStatus(res, value.status());
    values[i] = *value;
  }
  if (!values[0] && !values[1]) {
    return ServeError(res, 400,
                      "nothing to set: give block_ns=N and/or "
                      "mutex_fraction=N");
  }
  StatusOr<PprofBackend::ContentionRates> previous =
      backend.set_contention_rates(values[0], values[1]);
  if (!previous.ok()) return ServeStatus(res, previous.status());
  StatusOr<PprofBackend::ContentionRates> now = backend.contention_rates();
  if (!now.ok()) return ServeStatus(res, now.status());
  ServeText(res, "contention sampling: " + describe(*now) + " (was " +
                     describe(*previous) + ")\n");
}

void ServeSymbol(const HandlerState& state, std::string_view input,
                 httplib::Response& res) {
  ServeText(res, AnswerSymbolRequest(input, state.backend.symbol_name));
}

void ServeNamedProfile(const HandlerState& state, const std::string& name,
                       httplib::Response& res) {
  if (name == "trace") {
    return ServeError(res, 404,
                      "trace: Go execution traces are not available from a "
                      "C++ process; use /debug/pprof/profile for a CPU "
                      "profile");
  }
  ServeError(res, 404,
             "Unknown profile: " + OneLine(name, 64) +
                 " (known: " + state.known_names + ")");
}

httplib::Server::HandlerResponse HandleError(const httplib::Request& req,
                                             httplib::Response& res) {
  // Our own errors already carry a body; only fill in httplib's bare ones.
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  if (res.status == 404) {
    ServeError(res, 404,
               "Not found: " + OneLine(req.path, 64) +
                   " (profiling endpoints are under /debug/pprof/)");
  } else {
    ServeError(res, res.status, "HTTP status " + std::to_string(res.status));
  }
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

StatusOr<std::string> ReadSelfCmdline() {
  const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return InternalError(std::string("cannot read /proc/self/cmdline: ") +
                         std::strerror(errno));
  }
  std::string cmdline;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      close(fd);
      return InternalError(std::string("cannot read /proc/self/cmdline: ") +
                           std::strerror(saved));
    }
    if (n == 0) break;
    cmdline.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // Each argument ends in NUL; Go joins with NUL, so drop the last one.
  if (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  return cmdline;
}

std::string AnswerSymbolRequest(
    std::string_view input,
    const std::function<std::string(uint64_t)>& symbol_name) {
  // pprof-spec.md §1.8: "num_symbols: 1" says symbols are available.
  std::string out = "num_symbols: 1\n";
  while (true) {
    const size_t plus = input.find('+');
    const std::string_view token = input.substr(0, plus);
    const std::optional<uint64_t> address = ParseSymbolAddress(token);
    if (address.has_value() && *address != 0 && symbol_name) {
      const std::string name = symbol_name(*address);
      if (!name.empty()) {
        char hex[24];
        std::snprintf(hex, sizeof(hex), "0x%" PRIx64 " ", *address);
        out += hex;
        out += OneLine(name, 4096);  // A newline would split the answer.
        out += '\n';
      }
    }
    if (plus == std::string_view::npos) break;
    input.remove_prefix(plus + 1);
  }
  return out;
}

void InstallPprofHandlers(httplib::Server& server, PprofBackend backend,
                          PprofOptions options) {
  auto state = std::make_shared<HandlerState>();
  state->backend = std::move(backend);
  state->options = std::move(options);
  state->index_html = IndexHtml();
  state->known_names = KnownProfileNames();

  server.set_exception_handler(HandleException);
  if (RequestStats* stats = state->options.request_stats) {
    server.set_logger(
        [stats](const httplib::Request& req, const httplib::Response& res) {
          stats->Record(req.path, res.status);
        });
  }
  server.set_error_handler(httplib::Server::HandlerWithResponse(HandleError));

  // Routes are regexes over the decoded path, tried in registration order:
  // specific names first, the catch-all for unknown names last.
  using Request = httplib::Request;
  using Response = httplib::Response;
  server.Get("/debug/pprof", Guarded([](const Request& req, Response& res) {
               std::string location = "/debug/pprof/";
               const std::string_view query = RawQuery(req);
               if (!query.empty()) location += "?" + std::string(query);
               res.set_header("X-Content-Type-Options", "nosniff");
               res.set_redirect(location, 301);
             }));
  server.Get("/debug/pprof/", Guarded([state](const Request&, Response& res) {
               res.status = 200;
               res.set_header("X-Content-Type-Options", "nosniff");
               res.set_content(state->index_html, "text/html; charset=utf-8");
             }));
  server.Get("/debug/pprof/cmdline", Guarded([](const Request&, Response& res) {
               StatusOr<std::string> cmdline = ReadSelfCmdline();
               if (!cmdline.ok()) return ServeStatus(res, cmdline.status());
               ServeText(res, std::move(cmdline).value());
             }));
  server.Get("/debug/pprof/profile",
             Guarded([state](const Request& req, Response& res) {
               ServeProfile(*state, req, res);
             }));
  // Go reads the POST body, and the raw query for any other method.
  server.Get("/debug/pprof/symbol",
             Guarded([state](const Request& req, Response& res) {
               ServeSymbol(*state, RawQuery(req), res);
             }));
  server.Post("/debug/pprof/symbol",
              Guarded([state](const Request& req, Response& res) {
                ServeSymbol(*state, req.body, res);
              }));
  for (const char* name : {"heap", "allocs", "block", "mutex", "goroutine"}) {
    server.Get(std::string("/debug/pprof/") + name,
               Guarded([state, name = std::string(name)](const Request& req,
                                                         Response& res) {
                 ServeCumulativeProfile(*state, name, req, res);
               }));
  }
  // The thread dump under a name that says what it is in a C++ process.
  server.Get("/debug/pprof/threads",
             Guarded([state](const Request& req, Response& res) {
               ServeCumulativeProfile(*state, "goroutine", req, res);
             }));
  const auto heap_rate = Guarded([state](const Request& req, Response& res) {
    ServeHeapRate(*state, req, res);
  });
  server.Get("/debug/heap/rate", heap_rate);
  server.Post("/debug/heap/rate", heap_rate);
  const auto contention_rate =
      Guarded([state](const Request& req, Response& res) {
        ServeContentionRate(*state, req, res);
      });
  server.Get("/debug/contention/rate", contention_rate);
  server.Post("/debug/contention/rate", contention_rate);
  const auto autocapture = Guarded([state](const Request& req, Response& res) {
    ServeAutoCapture(*state, req, res);
  });
  server.Get("/debug/pprof/autocapture", autocapture);
  server.Post("/debug/pprof/autocapture", autocapture);
  InstallCaptureHandlers(server, state->options.captures,
                         state->backend.request_baselines);
  InstallUiHandlers(
      server,
      [state](const std::string& name, int seconds,
              const httplib::Request& req) {
        return FetchForUi(*state, name, seconds, req);
      },
      UiOptions{.live_profiles = {"cpu", "heap", "allocs", "mutex", "block"},
                .default_seconds = 5,
                .max_seconds = state->options.max_profile_seconds,
                .captures = state->options.captures,
                .baselines = state->backend.request_baselines});
  server.Get(R"(/debug/pprof/([\s\S]+))",
             Guarded([state](const Request& req, Response& res) {
               ServeNamedProfile(*state, req.matches[1], res);
             }));
}

}  // namespace inprof::internal
