// Fetching a profile from a running agent or Go service over HTTP, the way
// `go tool pprof http://host:port/...` does (pprof-spec.md §3.1): a source
// without a scheme gets http://, an empty path means /debug/pprof/profile,
// `seconds` sets the URL's seconds parameter and sizes the timeout.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_FETCH_H_
#define INPROF_VIEWER_FETCH_H_

#include <string>
#include <string_view>

#include "inprof/status.h"

namespace inprof::viewer {

struct FetchOptions {
  int seconds = -1;         // >= 0: set the URL's `seconds` parameter
  int timeout_seconds = 0;  // 0: 1.5 x seconds + 5 when seconds > 0, else 60
};

// True if `source` names a URL: it has an http:// or https:// scheme, or
// has the form host:port[/path].
bool LooksLikeUrl(std::string_view source);

// Returns the body of a GET of `url`. Fails with kInvalidArgument for a
// malformed or https URL, kUnavailable when the server cannot be reached or
// times out, and kNotFound / kInvalidArgument (by status) with the server's
// first line of text for any answer but 200.
[[nodiscard]] StatusOr<std::string> FetchUrl(std::string_view url,
                                             const FetchOptions& options);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_FETCH_H_
