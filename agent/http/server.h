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
// What a client can make the server hold is bounded (issue 12):
//   - open connections: at most HttpServerOptions::max_connections, and at
//     most an eighth of the process's RLIMIT_NOFILE soft limit (read at each
//     accept), so that the host keeps most of its descriptors whatever
//     clients do. One more is answered 503 and closed at once on the
//     accepting thread, without taking a worker;
//   - time: an idle connection is closed after keep_alive_timeout_seconds
//     (counted from accept while it waits for a worker); a request whose
//     head and body have not arrived within request_timeout_seconds, or
//     that makes no progress for read_timeout_seconds, is answered 408 and
//     its connection closed (slowloris, a lying Content-Length);
//   - size: request heads (max_head_bytes, max_header_count) and bodies
//     (body_limits; every other route takes none) are checked on the head
//     alone, so an oversized body is refused (413) before any of it is read
//     (agent/http/request_head.h);
//   - who: Host, Origin and the optional token (agent/http/access_policy.h),
//     checked before routing and before any body is read.
//
// The descriptors are the program's too: a preloaded program may close
// every descriptor it did not open (sshd's closefrom(3)) and reuse the
// numbers. The accept loop is ours, not httplib's listen_after_bind(), so
// that it checks before each accept() that its descriptor is still its
// socket (agent/base/owned_fd.h); once it is not, the server stops serving
// (one line on stderr, if stderr is still the one the agent started with)
// without touching the number, where httplib's loop would accept the
// program's connections or close its file. A connection's socket is closed
// at the end only if it is still that socket. Narrowed, not closed: no
// call acts on a descriptor "only if it is still mine", so a number the
// program closes and reuses between the check and the call (microseconds)
// is still acted on; and a connection open while the program closes
// everything is read and written by number until its request ends.
//
// cpp-httplib 0.11.4 facts this relies on:
//   - bind_to_port() / bind_to_any_port() create, bind and listen on
//     svr_sock_ (a protected std::atomic); we accept on it ourselves.
//   - Requests run on our WorkerPool of HttpServerOptions::threads workers
//     (the library's TaskQueue interface). enqueue() returns void and the
//     task hides the socket, so the pool refuses a connection by running
//     its task at once on the accepting thread, flagged so that our
//     process_and_close_socket() answers 503 and closes.
//   - Server::process_and_close_socket(sock) is virtual (private, may be
//     overridden) and Server::process_request(Stream&, ...) is protected.
//     We override the former with our own keep-alive loop over our own
//     Stream (agent/http/connection_stream.h), which reads each request
//     head first and enforces the limits above, then lets process_request()
//     parse and route as usual. The library's own SocketStream applies
//     timeouts per recv() only, with no deadline, and loses pipelined bytes
//     between requests.
//   - The pre-routing handler runs after the head is parsed and before any
//     body is read; a refused request's unread body makes us close the
//     connection afterwards.
//   - Write timeouts are per send, not a deadline for the whole response,
//     so a handler that blocks for a 300 s CPU profile is never cut by them.
//   - Stop() sets svr_sock_ to INVALID_SOCKET and shuts the socket down
//     (connections still in its backlog are reset); our waits look at
//     svr_sock_ every 100 ms, and the accept loop then waits for the
//     requests in progress. Long handlers must watch the `stopping`
//     predicate given to the installer.
#ifndef INPROF_AGENT_HTTP_SERVER_H_
#define INPROF_AGENT_HTTP_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/owned_fd.h"
#include "agent/http/request_head.h"
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
  // Connections open at once (being served or waiting for a worker), also
  // capped at RLIMIT_NOFILE / 8 (see the header comment). At least 1.
  int max_connections = 64;
  // How long a connection may wait for its next request (and delay Stop).
  int keep_alive_timeout_seconds = 2;
  // A request's head and body must arrive within this many seconds of its
  // first byte...
  int request_timeout_seconds = 10;
  // ...and reads fail after this many seconds without progress.
  int read_timeout_seconds = 3;
  // Writes fail after this many seconds without progress.
  int write_timeout_seconds = 5;
  // Request line plus header fields, in bytes and in fields (431 beyond).
  size_t max_head_bytes = 16 * 1024;
  int max_header_count = 64;
  // The routes that take a request body; every other request with one gets
  // a 413. /debug/pprof/symbol takes '+'-separated addresses (go tool pprof
  // posts a few KiB).
  std::vector<BodyLimit> body_limits = {
      {"POST", "/debug/pprof/symbol", 1 << 20}};
  // Host names allowed besides 127.0.0.1, localhost, ::1 and `host`; "*"
  // allows any (agent/http/access_policy.h).
  std::vector<std::string> allowed_hosts = {};
  // When not empty, every request must present it (AccessPolicy).
  std::string token = {};
};

// Installs routes on the server before it listens. `stopping` returns true
// once Stop() has begun; it stays valid for the server's lifetime. The
// server installs its own pre-routing handler (the access policy) after
// this runs; installers must not rely on setting one.
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
  // connections. Fails with kInvalidArgument for a port outside 0..65535,
  // threads, max_connections or a timeout < 1, or a malformed token
  // (AccessPolicy::ValidateToken), and kUnavailable with a line like
  // "cannot listen on 127.0.0.1:6060: Address already in use" when binding
  // fails; no thread is left behind on failure.
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, const RouteInstaller& install);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }

  // The listening socket's descriptor, for a forked child to close its copy
  // (agent.cc) if it still is the socket (listen_identity()); -1 if none.
  int listen_fd() const { return listen_fd_; }
  FdIdentity listen_identity() const { return listen_identity_; }

  // Stops accepting, tells long handlers to finish (the `stopping`
  // predicate), and joins all threads. Idempotent.
  void Stop();

 private:
  HttpServer() = default;

  // Set once by Stop(); read by handlers through the `stopping` predicate.
  // Declared before server_ so that it outlives the handlers.
  std::atomic<bool> stopping_{false};
  // An httplib::Server with our connection handling (server.cc).
  std::unique_ptr<httplib::Server> server_;
  // Immutable after Start().
  int port_ = 0;
  int listen_fd_ = -1;
  FdIdentity listen_identity_;
  // Owned by the thread calling Start()/Stop().
  std::thread listener_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_SERVER_H_
