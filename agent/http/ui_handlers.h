// /debug/pprof/ui: the flame graph page that inprof-view also writes
// (report/flamegraph.h), served by the agent, with its data from this
// process: live profiles (the CPU profile over N seconds, and heap, allocs,
// mutex and block) and captures saved in memory
// (agent/capture/capture_store.h), shown one at a time or diffed.
//
//   GET  /debug/pprof/ui                 the page
//   GET  /debug/pprof/ui/captures        JSON: live profile names, captures
//                                        (a slow request's with its
//                                        "endpoint", "duration_ms" and, once
//                                        its endpoint has one, "baseline")
//   POST /debug/pprof/ui/captures?profile=NAME[&seconds=N]
//                                        takes a profile and stores it; JSON
//                                        {"id":N}
//   GET  /debug/pprof/ui/flame?profile=SRC[&base=SRC][&seconds=N]
//                                        [&sample_index=TYPE]
//                                        JSON flame tree (report/flame_json.h)
//
// SRC is a live profile name, "capture:ID", or "baseline:ID": the baseline
// of slow request capture ID's endpoint, normalized to one request
// (agent/http/capture_handlers.h), for "diff against baseline":
// profile=capture:ID&base=baseline:ID. The page opens that diff directly as
// /debug/pprof/ui#profile=capture:ID&base=baseline:ID. Live profiles are drawn
// from memory; only captures are stored (and so decoded) as profile.proto. The
// captures are the agent's (UiOptions::captures), not the page's: other sources
// add to the same store. Errors are one-line text/plain 4xx/5xx answers, as
// everywhere in the agent.
#ifndef INPROF_AGENT_HTTP_UI_HANDLERS_H_
#define INPROF_AGENT_HTTP_UI_HANDLERS_H_

#include <httplib.h>

#include <functional>
#include <string>
#include <vector>

#include "agent/capture/capture_store.h"
#include "agent/http/pprof_backend.h"
#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::internal {

// Takes profile `name` ("cpu" over `seconds`, or a named profile,
// cumulative) in memory for `req`, which it may watch for a client that went
// away. Thread-safe.
using UiProfileSource = std::function<StatusOr<Profile>(
    const std::string& name, int seconds, const httplib::Request& req)>;

struct UiOptions {
  std::vector<std::string> live_profiles;  // in the order the page lists them
  int default_seconds = 5;
  int max_seconds = 300;
  // The agent's capture store, where the Capture button saves. Required;
  // must outlive the server.
  CaptureStore* captures = nullptr;
  // Baselines of slow requests' endpoints (baseline:ID); may be empty.
  PprofBackend::RequestBaselines baselines;
};

// Installs the routes above on `server` (not listening yet). Must run before
// a catch-all route for /debug/pprof/... is installed.
void InstallUiHandlers(httplib::Server& server, UiProfileSource source,
                       UiOptions options);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_UI_HANDLERS_H_
