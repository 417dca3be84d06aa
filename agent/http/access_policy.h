// AccessPolicy decides who may talk to the agent, from the request's headers
// alone (it runs before any body is read):
//   - Host: a request naming a host must name an allowed one: 127.0.0.1,
//     localhost, ::1, the address the server is bound to, or a name added by
//     the user; with or without a port. A web page that rebinds its own DNS
//     name to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
//     Requests without a Host (HTTP/1.0) pass.
//   - Origin: a request that carries one (browsers send it with every POST
//     and every cross-origin fetch) must come from the agent's own origin:
//     "http://" + its Host header, or, without a Host, an allowed name and
//     the port the request came in on. A form on another site posting to
//     the agent (CSRF) is refused, whatever the method.
//   - Token: when one is configured, every request must present it, in one
//     of three forms: `Authorization: Bearer TOKEN` (scripts, curl);
//     `Authorization: Basic` with TOKEN as the password (or as the user with
//     an empty password), which is what `go tool pprof
//     http://inprof:TOKEN@host:port/...` and browsers send; or a `token=TOKEN`
//     query parameter (a page opened as /debug/pprof/ui?token=TOKEN passes
//     it on to its own requests). Compared in constant time.
// Refusals: 403 for Host and Origin, 401 for the token, each with one line
// saying what was wrong and what to do.
//
// Example:
//
//   AccessPolicy policy({.bound_host = "127.0.0.1", .token = "s3cret"});
//   if (std::optional<AccessRefusal> no = policy.Check(req)) {
//     ServeError(res, no->status, no->reason);
//   }
//
#ifndef INPROF_AGENT_HTTP_ACCESS_POLICY_H_
#define INPROF_AGENT_HTTP_ACCESS_POLICY_H_

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inprof/status.h"

namespace inprof::internal {

struct AccessRules {
  // The address the server listens on; allowed as a Host name.
  std::string bound_host;
  // More allowed Host names ("name" or "name:port"; the port is ignored).
  // "*" allows any Host (behind a proxy that checks names itself).
  std::vector<std::string> allowed_hosts;
  // Empty: no token needed. Otherwise letters, digits and "-._~" only (see
  // ValidateToken).
  std::string token;
};

struct AccessRefusal {
  int status = 0;  // 401 or 403
  std::string reason;
};

// AccessPolicy
//
// Thread safety: thread-compatible; Check() is const and may run on every
// worker at once.
class AccessPolicy {
 public:
  explicit AccessPolicy(const AccessRules& rules);

  // nullopt when `req` may proceed; otherwise why not.
  std::optional<AccessRefusal> Check(const httplib::Request& req) const;

  // OK for an empty token or one of 1..256 characters from [A-Za-z0-9-._~]
  // (it must survive URLs and headers unchanged); kInvalidArgument
  // otherwise, without echoing the token.
  [[nodiscard]] static Status ValidateToken(std::string_view token);

  // The lower-case host name of a Host header value or URL authority:
  // "[::1]:6060" → "::1", "LocalHost:80" → "localhost", "example.org." →
  // "example.org". "" when `authority` is malformed (a non-numeric port, an
  // unclosed bracket).
  static std::string HostName(std::string_view authority);

 private:
  bool HostAllowed(std::string_view name) const;
  std::optional<AccessRefusal> CheckOrigin(const httplib::Request& req) const;
  bool Authorized(const httplib::Request& req) const;

  std::vector<std::string> names_;  // lower case, without brackets
  bool any_host_ = false;
  std::string token_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_ACCESS_POLICY_H_
