// Slow requests' captures (agent/flight/flight_recorder.h), served from the
// agent's CaptureStore:
//
//   GET /debug/pprof/captures      JSON {"captures":[{"id", "endpoint",
//                                  "duration_ms", "start", "labels",
//                                  "request_id", "bytes", "url"}]}, oldest
//                                  first; slow requests only (the UI's own
//                                  captures are listed by the UI)
//   GET /debug/pprof/captures/ID   the capture: gzipped profile.proto, for
//                                  go tool pprof; 404 for an id that is not
//                                  a stored capture (never a path)
#ifndef INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_
#define INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_

#include <httplib.h>

#include "agent/capture/capture_store.h"

namespace inprof::internal {

// Installs the routes above; `captures` must outlive the server. Must run
// before a catch-all route for /debug/pprof/... is installed.
void InstallCaptureHandlers(httplib::Server& server, CaptureStore* captures);

// The JSON list above (exposed for tests).
std::string CaptureListJson(const CaptureStore& captures);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_CAPTURE_HANDLERS_H_
