// Slow requests' captures (agent/flight/flight_recorder.h), served from the
// agent's CaptureStore:
//
//   GET /debug/pprof/captures      JSON {"captures":[{"id", "endpoint",
//                                  "duration_ms", "start", "labels",
//                                  "request_id", "running", "bytes", "url"}]},
//                                  oldest first; slow requests only (the
//                                  UI's own captures are listed by the UI).
//                                  "running": a hung request captured live,
//                                  its duration so far; the same id is
//                                  completed in place when it ends
//   GET /debug/pprof/captures/ID   the capture: gzipped profile.proto, for
//                                  go tool pprof; 404 for an id that is not
//                                  a stored capture (never a path)
//   GET /debug/pprof/captures/ID?baseline=1
//                                  the baseline of the capture's endpoint
//                                  (agent/flight/baselines.h): its last few
//                                  typical (under-threshold) requests' own
//                                  samples, as gzipped profile.proto with the
//                                  capture's sample types, normalized to one
//                                  request (values divided by the number of
//                                  requests; comments say how many, over
//                                  what period), so that
//                                    go tool pprof -diff_base=ID?baseline=1 ID
//                                  reads "this request vs a typical one".
//                                  404 with the reason while the endpoint
//                                  has none yet; baseline=0 is the capture
//                                  itself; any other parameter or value is a
//                                  400. Baselines are not entries of the
//                                  list; a capture's entry has
//                                  "baseline_url" once its endpoint has one.
#ifndef INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_
#define INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/capture/capture_store.h"
#include "agent/http/pprof_backend.h"

namespace inprof::internal {

using RequestBaselines = PprofBackend::RequestBaselines;

// Installs the routes above; `captures` must outlive the server, and
// whatever `baselines` refers to too (empty functions: no baselines, every
// ?baseline=1 is a 404). Must run before a catch-all route for
// /debug/pprof/... is installed.
void InstallCaptureHandlers(httplib::Server& server, CaptureStore* captures,
                            RequestBaselines baselines = {});

// The JSON list above (exposed for tests).
std::string CaptureListJson(const CaptureStore& captures,
                            const RequestBaselines& baselines = {});

// The id in `text` (base-10 digits, nothing else), or nullopt.
std::optional<uint64_t> ParseCaptureId(std::string_view text);

// The slow request's capture `id`, or nullopt for an id that is not one
// (stored, and a request's).
std::optional<CaptureStore::Info> FindRequestCapture(
    const CaptureStore& captures, uint64_t id);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_
