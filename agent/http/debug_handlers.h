// Routes beside /debug/pprof: the allocator's page (/debug/allocator, JSON
// or ?format=text, and POST /debug/allocator/release) and Prometheus
// /metrics. Like the pprof routes they only parse, call the PprofBackend and
// write; errors are one line of text/plain.
#ifndef INPROF_AGENT_HTTP_DEBUG_HANDLERS_H_
#define INPROF_AGENT_HTTP_DEBUG_HANDLERS_H_

#include <httplib.h>

#include "agent/http/pprof_backend.h"

namespace inprof::internal {

// Installs the routes on `server` (not listening yet). Routes whose backend
// function is empty answer 501. Install the pprof handlers too: they set the
// exception and error handlers these routes rely on.
void InstallDebugHandlers(httplib::Server& server, const PprofBackend& backend);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_DEBUG_HANDLERS_H_
