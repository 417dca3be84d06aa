// HttpServer owns the agent's cpp-httplib server and its listening thread.
// Routes are installed by the caller (e.g. InstallPprofHandlers) before the
// server starts listening.
//
// Example:
//
//   StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
//       HttpServerOptions{.host = "127.0.0.1", .port = 6060},
//       [&](httplib::Server& s, const std::function<bool()>& stopping) {
//         PprofOptions options;
//         options.stopping = stopping;
//         InstallPprofHandlers(s, backend, options);
//       });
//   if (!server.ok()) return server.status();
//   int port = (*server)->port();
//
// cpp-httplib 0.11.4 facts this relies on:
//   - Requests run on a TaskQueue created per listen; the library default is
//     a ThreadPool of max(8, hardware_concurrency - 1) threads
//     (CPPHTTPLIB_THREAD_POOL_COUNT, fixed when libcpp-httplib.so was built).
//     We install our own ThreadPool of HttpServerOptions::threads workers so
//     the count is ours, not the build machine's. A connection holds a worker
//     for its whole keep-alive life.
//   - Read/write timeouts are per socket call (select before each recv/send),
//     not a deadline for the whole request, so a handler that blocks for a
//     300 s CPU profile is never cut by them.
//   - stop() closes the listening socket; listen_after_bind() then joins the
//     workers, i.e. waits for requests in progress. Long handlers must watch
//     the `stopping` predicate given to the installer.
#ifndef INPROF_AGENT_HTTP_SERVER_H_
#define INPROF_AGENT_HTTP_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "inprof/status.h"

namespace inprof::internal {

struct HttpServerOptions {
  // Address to listen on (a numeric address or a name getaddrinfo resolves).
  std::string host = "127.0.0.1";
  // 0 picks any free port; see HttpServer::port().
  int port = 6060;
  // Worker threads; each open connection (and each long CPU profile) holds
  // one. Must exceed PprofOptions::max_concurrent_profiles.
  int threads = 8;
  // Per socket call; see the header comment.
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  // How long an idle keep-alive connection holds a worker (and delays Stop).
  int keep_alive_timeout_seconds = 2;
};

// Installs routes on the server before it listens. `stopping` returns true
// once Stop() has begun; it stays valid for the server's lifetime.
using RouteInstaller = std::function<void(
    httplib::Server& server, const std::function<bool()>& stopping)>;

// HttpServer
//
// Ownership: owns the httplib::Server, its worker threads and the listening
// thread. The destructor calls Stop().
//
// Thread safety: port() is thread-safe. Stop() and the destructor are
// thread-compatible (one caller at a time) and must not run on a request
// handler's thread (they join the workers).
class HttpServer {
 public:
  // Binds `options.host:options.port`, installs routes with `install` and
  // starts serving on a new thread. Returns once the server accepts
  // connections. Fails with kInvalidArgument for a port outside 0..65535 or
  // threads < 1, and kUnavailable with a line like
  // "cannot listen on 127.0.0.1:6060: Address already in use" when binding
  // fails; no thread is left behind on failure.
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, const RouteInstaller& install);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }

  // Stops accepting, tells long handlers to finish (the `stopping`
  // predicate), and joins all threads. Idempotent.
  void Stop();

 private:
  HttpServer() = default;

  // Set once by Stop(); read by handlers through the `stopping` predicate.
  // Declared before server_ so that it outlives the handlers.
  std::atomic<bool> stopping_{false};
  httplib::Server server_;
  // Immutable after Start().
  int port_ = 0;
  // Owned by the thread calling Start()/Stop().
  std::thread listener_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_SERVER_H_
