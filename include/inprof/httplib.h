// -----------------------------------------------------------------------------
// File: inprof/httplib.h
// -----------------------------------------------------------------------------
//
// One call puts every request of a cpp-httplib server inside an
// inprof::RequestScope named by its method and route pattern, and attaches
// its W3C `traceparent` header (inprof::SetRequestTraceParent): profiles
// tell endpoints apart, /metrics has a latency histogram per endpoint, and a
// slow request's capture carries trace_id / span_id. Header-only; include
// <httplib.h> first (this header does not, so that it never pulls
// cpp-httplib's defines into a program that does not use it).
//
// Example:
//
//   httplib::Server server;
//   inprof::HttplibRouter routes = inprof::InstrumentHttplib(server);
//   routes.Get(R"(/users/(\d+))", [](const httplib::Request& req,
//                                    httplib::Response& res) { ... });
//
// Routes registered through the returned router (instead of on the server)
// name their requests "<METHOD> <pattern>": "GET /users/(\d+)", whatever the
// id in the URL. A request that no such route matches (a 404, a mount point,
// a route registered on the server directly) is named by its method and its
// path with id-like segments (digits, hex, UUIDs, long tokens) collapsed to
// ":id" — "GET /static/:id/app.css" — for its first
// max_unmatched_endpoints() distinct names; later new names become
// "<METHOD> (unmatched)". A scanner probing random URLs therefore costs at
// most that many label sets (of the process's kMaxLabelSets), never one per
// URL. The raw URL is never a label.
//
// What the call replaces: the server's pre-routing handler and logger
// (cpp-httplib 0.11.4 has no getters, so handlers set on the server before
// the call are lost and later ones disable the scopes). Set yours through
// the router (set_pre_routing_handler, set_logger): they run inside the
// request's scope, after inprof's part.
//
// Facts of cpp-httplib 0.11.4 (the Debian package) this relies on: routes
// are std::regex built from the pattern and kept privately, so the router
// keeps its own copy to name requests; the pre-routing handler runs on the
// connection's thread before routing (and before the body is read); the
// logger runs on the same thread after the response is written, also for
// requests that never reached routing (400, 414); if writing the response
// head fails, the logger is skipped and the next request on the thread
// closes the scope left open. Later versions' Request::matched_route is set
// during routing, after the scope must have started, so it is not used.
//
// Cost per request: one std::regex_match per route of the request's method
// until one matches (as many as cpp-httplib itself tries), a RequestScope,
// and for unmatched requests a lock; microseconds in all.
//
#ifndef INPROF_HTTPLIB_H_
#define INPROF_HTTPLIB_H_

#ifndef CPPHTTPLIB_HTTPLIB_H
#error "include <httplib.h> before inprof/httplib.h"
#endif

#include <cctype>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "inprof/request.h"

namespace inprof {
namespace httplib_internal {

// The scope of the request the calling thread serves, from the pre-routing
// handler to the logger. One per thread: cpp-httplib serves one request at a
// time on a thread.
inline thread_local std::optional<RequestScope> t_scope;

// True for a path segment that is probably an identifier rather than part of
// a route: all digits; 8+ characters of hex digits and dashes (hex ids,
// UUIDs) with a digit; 20+ characters with a digit (tokens).
inline bool IsIdLike(std::string_view segment) {
  if (segment.empty()) return false;
  bool digit = false, all_digits = true, hexish = true;
  for (char c : segment) {
    const bool d = std::isdigit(static_cast<unsigned char>(c)) != 0;
    digit |= d;
    all_digits &= d;
    hexish &= d || c == '-' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  return all_digits || (digit && hexish && segment.size() >= 8) ||
         (digit && segment.size() >= 20);
}

// `path` with id-like segments replaced by ":id".
inline std::string CollapseIds(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    out += IsIdLike(segment) ? std::string_view(":id") : segment;
    if (slash == std::string_view::npos) break;
    out += '/';
    path.remove_prefix(slash + 1);
  }
  return out;
}

struct Route {
  std::string method;    // as cpp-httplib files it: GET, POST, ...
  std::string endpoint;  // "<method> <pattern>"
  std::regex regex;
  bool content_reader;  // a HandlerWithContentReader route
};

// What the hooks share with the router. The public fields are written by
// HttplibRouter before the server listens and only read after; the set of
// unmatched names is the one thing requests change, under its mutex.
class RouterState {
 public:
  // The endpoint name of `req`, as the file comment describes.
  std::string EndpointFor(const httplib::Request& req) {
    // cpp-httplib serves HEAD from the GET routes, and tries a POST, PUT,
    // PATCH or DELETE's content-reader routes before its plain ones.
    // Both arms string_views: a std::string arm would make the result a
    // temporary the view outlives.
    const std::string_view method = req.method == "HEAD"
                                        ? std::string_view("GET")
                                        : std::string_view(req.method);
    for (bool content_reader : {true, false}) {
      for (const Route& route : routes) {
        if (route.content_reader == content_reader && route.method == method &&
            std::regex_match(req.path, route.regex)) {
          if (req.method == route.method) return route.endpoint;
          return req.method + route.endpoint.substr(route.method.size());
        }
      }
    }
    return UnmatchedEndpoint(req);
  }

  std::vector<Route> routes;
  httplib::Server::HandlerWithResponse pre_routing;
  httplib::Logger logger;
  size_t max_unmatched = 32;

 private:
  std::string UnmatchedEndpoint(const httplib::Request& req) {
    std::string name = req.method + " " + CollapseIds(req.path);
    std::lock_guard<std::mutex> lock(mu_);
    if (unmatched_.count(name) != 0) return name;
    if (unmatched_.size() < max_unmatched) {
      unmatched_.insert(name);
      return name;
    }
    return req.method + " (unmatched)";
  }

  std::mutex mu_;
  std::set<std::string> unmatched_;  // guarded by mu_
};

// Ends the calling thread's request scope on every way out of the logger.
struct EndScopeOnExit {
  ~EndScopeOnExit() { t_scope.reset(); }
};

}  // namespace httplib_internal

// HttplibRouter
//
// Registers routes on the instrumented httplib::Server and remembers their
// patterns, so that requests are named by them. Its methods mirror
// httplib::Server's and take the same handlers (also the content-reader
// kinds); a bad pattern throws std::regex_error from cpp-httplib, as
// registering on the server does.
//
// Ownership: refers to the server (which must outlive it); shares the route
// table with the hooks installed on the server, so the router may be
// dropped once the routes are registered.
//
// Thread safety: not thread-safe; register routes and handlers before the
// server listens, as cpp-httplib requires for its own.
class HttplibRouter {
 public:
  template <typename Handler>
  HttplibRouter& Get(const std::string& pattern, Handler&& handler) {
    server_->Get(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("GET", pattern);
  }
  template <typename Handler>
  HttplibRouter& Post(const std::string& pattern, Handler&& handler) {
    server_->Post(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("POST", pattern);
  }
  template <typename Handler>
  HttplibRouter& Put(const std::string& pattern, Handler&& handler) {
    server_->Put(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("PUT", pattern);
  }
  template <typename Handler>
  HttplibRouter& Patch(const std::string& pattern, Handler&& handler) {
    server_->Patch(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("PATCH", pattern);
  }
  template <typename Handler>
  HttplibRouter& Delete(const std::string& pattern, Handler&& handler) {
    server_->Delete(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("DELETE", pattern);
  }
  template <typename Handler>
  HttplibRouter& Options(const std::string& pattern, Handler&& handler) {
    server_->Options(pattern, std::forward<Handler>(handler));
    return Remember<Handler>("OPTIONS", pattern);
  }

  // The server's pre-routing handler, run inside the request's scope (with
  // its traceparent attached) on every request; what it returns decides, as
  // on the server.
  HttplibRouter& set_pre_routing_handler(
      httplib::Server::HandlerWithResponse handler) {
    state_->pre_routing = std::move(handler);
    return *this;
  }
  // The server's logger, run after the response is written, still inside
  // the request's scope (which ends after it).
  HttplibRouter& set_logger(httplib::Logger logger) {
    state_->logger = std::move(logger);
    return *this;
  }
  // How many distinct names requests that match no route may have (default
  // 32); later new ones are named "<METHOD> (unmatched)", and with 0 all
  // unmatched requests are.
  HttplibRouter& set_max_unmatched_endpoints(size_t count) {
    state_->max_unmatched = count;
    return *this;
  }
  size_t max_unmatched_endpoints() const { return state_->max_unmatched; }

  httplib::Server& server() const { return *server_; }

 private:
  friend HttplibRouter InstrumentHttplib(httplib::Server& server);
  HttplibRouter(httplib::Server& server,
                std::shared_ptr<httplib_internal::RouterState> state)
      : server_(&server), state_(std::move(state)) {}

  template <typename Handler>
  HttplibRouter& Remember(const char* method, const std::string& pattern) {
    constexpr bool kContentReader =
        std::is_invocable_v<Handler&, const httplib::Request&,
                            httplib::Response&, const httplib::ContentReader&>;
    state_->routes.push_back({method, std::string(method) + " " + pattern,
                              std::regex(pattern), kContentReader});
    return *this;
  }

  httplib::Server* server_;
  std::shared_ptr<httplib_internal::RouterState> state_;
};

// Installs inprof's pre-routing handler and logger on `server`, replacing
// the ones it had (see the file comment), and returns the router to
// register its routes through. Call it before the server listens. Not
// async-signal-safe.
[[nodiscard]] inline HttplibRouter InstrumentHttplib(httplib::Server& server) {
  auto state = std::make_shared<httplib_internal::RouterState>();
  server.set_pre_routing_handler(
      [state](const httplib::Request& req, httplib::Response& res) {
        // A scope still open here lost its logger call (the response head
        // failed to be written): it ends now, before the next request.
        httplib_internal::t_scope.reset();
        httplib_internal::t_scope.emplace(state->EndpointFor(req));
        if (req.has_header("traceparent")) {
          SetRequestTraceParent(req.get_header_value("traceparent"));
        }
        return state->pre_routing ? state->pre_routing(req, res)
                                  : httplib::Server::HandlerResponse::Unhandled;
      });
  server.set_logger(
      [state](const httplib::Request& req, const httplib::Response& res) {
        httplib_internal::EndScopeOnExit end_scope;
        if (state->logger) state->logger(req, res);
      });
  return HttplibRouter(server, std::move(state));
}

}  // namespace inprof

#endif  // INPROF_HTTPLIB_H_
