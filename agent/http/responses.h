// Response helpers shared by every /debug/pprof route: Go's net/http/pprof
// header conventions (pprof-spec.md §1.2) and its error shape (`serveError`,
// §1.3), so that `go tool pprof` prints our error text to its user.
#ifndef INPROF_AGENT_HTTP_RESPONSES_H_
#define INPROF_AGENT_HTTP_RESPONSES_H_

#include <httplib.h>

#include <exception>
#include <string>
#include <string_view>

#include "inprof/status.h"

namespace inprof::internal {

// HTTP status for a non-OK Status: kInvalidArgument → 400, kNotFound → 404,
// kFailedPrecondition and kUnavailable → 503, kUnimplemented → 501,
// everything else → 500.
int HttpStatusFor(StatusCode code);

// Returns `text` made safe for a one-line message: control characters
// (newlines included) become "\xNN" and the result is cut at `max_bytes`
// with "..." appended. Used for user-supplied values echoed in errors.
std::string OneLine(std::string_view text, size_t max_bytes = 128);

// Writes an error the way Go's serveError does: `status`,
// `Content-Type: text/plain; charset=utf-8`, `X-Go-Pprof: 1`,
// `X-Content-Type-Options: nosniff`, no Content-Disposition, body =
// OneLine(message) + "\n". Other headers already set on `res` are removed.
void ServeError(httplib::Response& res, int status, std::string_view message);

// The bytes of a whole HTTP/1.1 error response with ServeError's headers and
// body, plus `Connection: close`: for refusals the server writes itself,
// before cpp-httplib has parsed the request (agent/http/server.cc).
std::string RawErrorResponse(int status, std::string_view message);

// ServeError with the status chosen by HttpStatusFor(status.code()) and the
// message status.message(). `status` must not be OK (OK is served as 500).
void ServeStatus(httplib::Response& res, const Status& status);

// 200, `Content-Type: text/plain; charset=utf-8`, nosniff, body as is.
void ServeText(httplib::Response& res, std::string body);

// 200, `Content-Type: application/octet-stream`,
// `Content-Disposition: attachment; filename="<filename>"`, nosniff.
void ServeBinary(httplib::Response& res, std::string body,
                 std::string_view filename);

// Writes the one-line 500 for an exception a handler threw. Installed as the
// server's exception handler, and used by Guarded().
void HandleException(const httplib::Request& req, httplib::Response& res,
                     std::exception_ptr error);

// Runs `handler`, turning anything it throws into a one-line 500. httplib's
// exception handler (installed too) covers the same ground, but catching here
// does not depend on which exceptions a given httplib build catches: an
// exception escaping a worker thread would terminate the host.
template <typename Handler>
httplib::Server::Handler Guarded(Handler handler) {
  return [handler = std::move(handler)](const httplib::Request& req,
                                        httplib::Response& res) {
    try {
      handler(req, res);
    } catch (...) {
      HandleException(req, res, std::current_exception());
    }
  };
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_RESPONSES_H_
