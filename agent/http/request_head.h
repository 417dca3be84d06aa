// The checks the agent's HTTP server makes on a request head (the request
// line and header fields) before cpp-httplib parses it or reads any byte of
// the body: a bounded number of header fields, a well-formed and honest body
// length, and a body only where a route takes one, no larger than its cap.
// A refused request gets the status and one-line reason of the verdict; the
// server writes it and closes the connection without reading the body.
//
// Example:
//
//   HeadLimits limits;
//   limits.body_limits = {{"POST", "/debug/pprof/symbol", 1 << 20}};
//   HeadVerdict verdict = CheckRequestHead(head, limits);
//   if (!verdict.ok()) return Refuse(verdict.status, verdict.reason);
//
#ifndef INPROF_AGENT_HTTP_REQUEST_HEAD_H_
#define INPROF_AGENT_HTTP_REQUEST_HEAD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inprof::internal {

// A route that takes a request body, and the largest it accepts.
struct BodyLimit {
  std::string method;  // "POST"
  std::string path;    // exact path, without the query: "/debug/pprof/symbol"
  uint64_t max_bytes = 0;
};

struct HeadLimits {
  // Header fields per request; more → 431.
  int max_header_count = 64;
  // Every other method and path takes no body: a nonzero Content-Length →
  // 413.
  std::vector<BodyLimit> body_limits;
};

// What to do with a request: admit it (status 0), or refuse it with an HTTP
// status and a one-line reason.
struct HeadVerdict {
  int status = 0;
  std::string reason;
  // When admitted: the body's length (its Content-Length, or 0).
  uint64_t body_bytes = 0;
  // A POST, PUT or PATCH with neither Content-Length nor Transfer-Encoding
  // (`curl -X POST`): its body is empty (RFC 7230, 3.3.3, rule 6), but
  // cpp-httplib refuses such a request, so the caller adds the header
  // "Content-Length: 0" to the head before httplib reads it.
  bool add_empty_length = false;

  bool ok() const { return status == 0; }
};

// Returns the length of the request head at the start of `buffer`, up to and
// including the blank line that ends it ("\r\n\r\n"), or 0 if the head is
// not complete yet.
size_t RequestHeadLength(std::string_view buffer);

// Judges a complete head (as delimited by RequestHeadLength). Refusals:
// 400 for a malformed request line or Content-Length (also conflicting
// ones), 431 for too many header fields, 411 for a Transfer-Encoding (only
// Content-Length bodies are accepted), 413 for a body on a route that takes
// none or over its cap. A POST, PUT or PATCH without a length has an empty
// body (add_empty_length).
HeadVerdict CheckRequestHead(std::string_view head, const HeadLimits& limits);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_REQUEST_HEAD_H_
