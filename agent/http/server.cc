#include "agent/http/server.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/base/agent_thread_start.h"
#include "agent/base/owned_fd.h"
#include "agent/base/raw_log.h"
#include "agent/base/thread_stack.h"
#include "agent/http/access_policy.h"
#include "agent/http/connection_stream.h"
#include "agent/http/request_head.h"
#include "agent/http/responses.h"

namespace inprof::internal {
namespace {

using Clock = std::chrono::steady_clock;

// Set on the accepting thread while it runs the task of a connection the
// pool refused, so that process_and_close_socket() refuses it too.
thread_local bool t_refusing_connection = false;
// Set on a worker before it runs a connection's task: when the connection
// was accepted, so that time spent waiting for a worker counts as idle time.
thread_local Clock::time_point t_accepted_at;

// After a refusal, how long the server keeps reading (and discarding) what
// the client still sends before it closes the socket.
constexpr std::chrono::seconds kDiscardTime{1};
// Connections the kernel may hold for us before we accept them.
constexpr int kListenBacklog = 128;
// How often the accept loop checks, while nothing arrives, that its
// descriptor is still its socket (owned_fd.h). A program closing the number
// does not wake the loop's poll(), which holds the socket open meanwhile:
// connections to the port wait that long before they are refused.
constexpr int kListenerCheckMs = 250;

// The connection cap in force now: `configured`, and at most an eighth of
// the descriptors the process may open, so that the host keeps the rest.
size_t ConnectionCap(int configured) {
  const size_t cap = static_cast<size_t>(configured);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY) {
    return cap;
  }
  return std::max<size_t>(
      1, std::min<size_t>(cap, static_cast<size_t>(limit.rlim_cur / 8)));
}

// httplib's ThreadPool, with two changes: threads are marked as the agent's
// own (agent_thread.h), so that their idle waits stay out of the block
// profile; and connections (queued or being served) are capped: over the
// cap, a task runs at once on the accepting thread with
// t_refusing_connection set.
class WorkerPool : public httplib::TaskQueue {
 public:
  WorkerPool(size_t threads, int max_connections)
      : max_connections_(max_connections) {
    for (size_t i = 0; i < threads; ++i) {
      workers_.push_back(StartAgentThread("inprof-http", [this] { Work(); }));
    }
  }
  ~WorkerPool() override { shutdown(); }

  void enqueue(std::function<void()> task) override {
    const size_t cap = ConnectionCap(max_connections_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (open_ < cap) {
        ++open_;
        tasks_.push_back({std::move(task), Clock::now()});
        ready_.notify_one();
        return;
      }
    }
    t_refusing_connection = true;
    task();
    t_refusing_connection = false;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  struct Task {
    std::function<void()> run;
    Clock::time_point accepted;
  };

  // On tcmalloc, a worker's per-thread cache keeps what building a profile
  // freed (10 MiB over a thousand fetches, issue 16): give it back to the
  // central lists after each request. Nothing to do on other allocators.
  static void ReturnThreadCache() {
    using MarkIdle = void (*)();
    static const MarkIdle mark_idle = reinterpret_cast<MarkIdle>(
        dlsym(RTLD_DEFAULT, "MallocExtension_MarkThreadIdle"));
    if (mark_idle != nullptr) mark_idle();
  }

  void Work() {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and nothing left to do
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      t_accepted_at = task.accepted;
      task.run();
      ReturnThreadCache();
      ReleaseUnusedStack();  // building a profile ran deep (thread_stack.h)
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
  }

  const int max_connections_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Task> tasks_;  // guarded by mu_
  size_t open_ = 0;         // queued or running tasks; guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<std::thread> workers_;
};

// The agent's httplib::Server: its own keep-alive loop over a
// ConnectionStream, with the limits of HttpServerOptions (server.h).
class AgentHttpServer final : public httplib::Server {
 public:
  explicit AgentHttpServer(const HttpServerOptions& options)
      : options_(options) {
    limits_.max_header_count = options.max_header_count;
    limits_.body_limits = options.body_limits;
  }

  // libcpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG,
  // fixed at its build): a burst of connections while the accepting thread
  // is descheduled loses SYNs, and clients wait a second to retry. Linux
  // takes a second listen() on a bound socket as a new backlog. Pending
  // connections cost kernel memory, not descriptors.
  void WidenBacklog() {
    const socket_t sock = svr_sock_;
    if (sock != INVALID_SOCKET) ::listen(sock, kListenBacklog);
  }

  int listen_fd() const { return listen_fd_; }
  FdIdentity listen_identity() const { return listener_; }

  // Takes the bound socket as the agent's (its identity is recorded, and
  // stderr's) and starts the workers; false (the socket closed) if its
  // identity cannot be read. Before AcceptLoop().
  bool Prepare(size_t threads, int max_connections) {
    listen_fd_ = svr_sock_;
    listener_ = FdIdentity::Of(listen_fd_);
    stderr_ = FdIdentity::Of(STDERR_FILENO);
    if (!listener_.known) {
      close(svr_sock_.exchange(INVALID_SOCKET));
      return false;
    }
    pool_ = std::make_unique<WorkerPool>(threads, max_connections);
    return true;
  }

  // Ours, not httplib's listen_after_bind(), so that accept() is called on
  // our own socket only: the loop checks the descriptor's identity before
  // each, and stops without touching the number once the program has
  // closed it. Returns after StopAccepting(), or once it stopped so,
  // when the requests in progress have finished.
  void AcceptLoop();

  // Makes AcceptLoop() return; its descriptor is shut down only if it is
  // still ours.
  void StopAccepting() {
    std::lock_guard<std::mutex> lock(closing_);  // the loop closes under it
    const int fd = svr_sock_.exchange(INVALID_SOCKET);
    if (fd != INVALID_SOCKET && listener_.Matches(fd)) {
      shutdown(fd, SHUT_RDWR);  // wakes the loop's poll()
    }
  }

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Whether the loop goes on after accept() failed with `error`.
  bool AcceptFailed(int fd, int error) const;
  // One line on stderr, unless the program has put something else at 2.
  void Log(const char* message) const {
    if (stderr_.Matches(STDERR_FILENO)) RawLog(message);
  }

  // Answers 503 without blocking and closes; on the accepting thread.
  void RefuseConnection(int fd) const;
  // Writes a refusal the server decided on by itself and ends the
  // connection's requests.
  void Refuse(ConnectionStream& stream, int status,
              const std::string& reason) const;
  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }
  std::string TimeoutReason() const {
    return "request not received in time: the whole request must arrive "
           "within " +
           std::to_string(options_.request_timeout_seconds) +
           " s, with no pause over " +
           std::to_string(options_.read_timeout_seconds) + " s";
  }

  const HttpServerOptions options_;
  HeadLimits limits_;
  // Set by Prepare(). svr_sock_ becomes INVALID_SOCKET to say "stopping";
  // listen_fd_ keeps the number, to close.
  int listen_fd_ = -1;
  FdIdentity listener_;
  FdIdentity stderr_;
  std::unique_ptr<WorkerPool> pool_;
  // Held while the descriptor is closed or shut down, so that neither
  // acts on a number the other has just released.
  std::mutex closing_;
};

void AgentHttpServer::AcceptLoop() {
  const int fd = listen_fd_;
  while (svr_sock_ != INVALID_SOCKET) {
    // (A poll on a number the program took acts on nothing.)
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, kListenerCheckMs);
    if (svr_sock_ == INVALID_SOCKET || !listener_.Matches(fd)) break;
    if (ready <= 0) continue;
    const int sock = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (sock >= 0) {
      pool_->enqueue([this, sock] { process_and_close_socket(sock); });
    } else if (!AcceptFailed(fd, errno)) {
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(closing_);
    svr_sock_.store(INVALID_SOCKET);  // handlers see stopping()
    if (listener_.Matches(fd)) {
      close(fd);
    } else {
      Log("the program closed the agent's listening socket: the agent stops "
          "serving HTTP");
    }
  }
  pool_->shutdown();  // waits for the requests in progress
}

bool AgentHttpServer::AcceptFailed(int fd, int error) const {
  switch (error) {
    // A connection that went away before it was accepted, or a network
    // error Linux reports on accept (accept(2): retry as for EAGAIN).
    case EINTR:
    case EAGAIN:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case ENOPROTOOPT:
    case EPERM:      // a firewall rule refused this connection
    case ETIMEDOUT:  // this connection timed out before it was accepted
      return true;
    // Out of descriptors or memory: the connection waits in the backlog
    // while the host frees some; bounded, so the loop cannot spin.
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return true;
    default:
      // Our socket, shut down or broken by someone else: stop, rather than
      // spin on an error that stays.
      if (svr_sock_ != INVALID_SOCKET && listener_.Matches(fd)) {
        Log("the agent's listening socket failed: the agent stops serving");
      }
      return false;
  }
}

void AgentHttpServer::RefuseConnection(int fd) const {
  const std::string response = RawErrorResponse(
      503, "too many open connections (limit " +
               std::to_string(ConnectionCap(options_.max_connections)) +
               "); retry later");
  // Whatever the client sent already is read first: closing a socket with
  // unread input resets the connection and may lose the answer.
  char sink[4096];
  for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0;
       ++i) {
  }
  (void)send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(fd, SHUT_WR);
  close(fd);
}

void AgentHttpServer::Refuse(ConnectionStream& stream, int status,
                             const std::string& reason) const {
  const bool timed_out = stream.timed_out();
  if (!stream.SendRaw(RawErrorResponse(status, reason))) return;
  shutdown(stream.socket(), SHUT_WR);
  // A client still sending its body reads the answer only if the socket is
  // not reset under it: give it a moment, bounded, and read nothing into
  // memory. A client that timed out is not sending.
  if (!timed_out) stream.Discard(256 * 1024, Clock::now() + kDiscardTime);
}

bool AgentHttpServer::process_and_close_socket(socket_t sock) {
  if (t_refusing_connection) {
    RefuseConnection(sock);
    return false;
  }
  const FdIdentity connection = FdIdentity::Of(sock);
  const auto seconds = [](int n) {
    return std::chrono::milliseconds(std::chrono::seconds(n));
  };
  ConnectionStream stream(
      sock,
      StreamTimeouts{seconds(options_.read_timeout_seconds),
                     seconds(options_.write_timeout_seconds)},
      [this] { return stopping(); });
  const auto keep_alive = seconds(options_.keep_alive_timeout_seconds);
  Clock::time_point idle_until = t_accepted_at + keep_alive;
  const size_t max_requests = std::max<size_t>(1, keep_alive_max_count_);
  bool ok = false;
  for (size_t served = 0; served < max_requests; ++served) {
    if (!stream.WaitForRequest(idle_until)) break;
    const Clock::time_point deadline =
        Clock::now() + seconds(options_.request_timeout_seconds);
    std::string_view head;
    const ConnectionStream::HeadRead read =
        stream.ReadHead(options_.max_head_bytes, deadline, &head);
    if (read == ConnectionStream::HeadRead::kTimedOut) {
      Refuse(stream, 408, TimeoutReason());
      break;
    }
    if (read == ConnectionStream::HeadRead::kTooLarge) {
      Refuse(stream, 431,
             "request head larger than " +
                 std::to_string(options_.max_head_bytes) + " bytes");
      break;
    }
    if (read != ConnectionStream::HeadRead::kComplete) break;
    const HeadVerdict verdict = CheckRequestHead(head, limits_);
    if (!verdict.ok()) {
      Refuse(stream, verdict.status, verdict.reason);
      break;
    }
    size_t head_size = head.size();
    if (verdict.add_empty_length) {
      head_size = stream.AddHeaderToHead(head_size, "Content-Length: 0");
    }
    const uint64_t request_end =
        stream.consumed() + head_size + verdict.body_bytes;
    stream.set_read_deadline(deadline);
    const bool last = served + 1 == max_requests;
    bool close_requested = false;
    ok = process_request(stream, last, close_requested, nullptr);
    if (stream.timed_out()) {
      Refuse(stream, 408, TimeoutReason());
      break;
    }
    // A request refused before its body was read leaves the body on the
    // socket, where it would be taken for the next request.
    if (!ok || close_requested || stream.consumed() != request_end) break;
    stream.set_read_deadline(Clock::time_point::max());
    idle_until = Clock::now() + keep_alive;
  }
  // Not if the program closed the number meanwhile and put its own there.
  if (connection.Matches(sock)) {
    shutdown(sock, SHUT_RDWR);
    close(sock);
  }
  return ok;
}

std::string HostPort(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Only SO_REUSEADDR (restart while old connections sit in TIME_WAIT). Never
// SO_REUSEPORT: two processes sharing 6060 would split the requests.
// Also for the listening socket: a program the host execs must not inherit
// it (posix_spawn and popen run no atfork handler that could close it).
// Debian's libcpp-httplib 0.11.4 already creates it close-on-exec; we do
// not rely on how the library was built.
void SetSocketOptions(int sock) {
  const int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  fcntl(sock, F_SETFD, FD_CLOEXEC);
}

// cpp-httplib's bind_to_port() reports only true/false. Binding a socket of
// our own first, the way httplib will (same getaddrinfo walk, same options),
// recovers the errno for the message. The probe is closed before httplib
// binds; losing the port in between still fails, with a vaguer message.
Status ProbeBind(const std::string& host, int port) {
  const std::string where = "cannot listen on " + HostPort(host, port) + ": ";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* results = nullptr;
  const std::string service = std::to_string(port);
  const int gai = getaddrinfo(host.c_str(), service.c_str(), &hints, &results);
  if (gai != 0) {
    return UnavailableError(
        where + (gai == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(gai)));
  }
  int error = EADDRNOTAVAIL;
  bool bound = false;
  for (addrinfo* ai = results; ai != nullptr && !bound; ai = ai->ai_next) {
    const int sock =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (sock < 0) {
      error = errno;
      continue;
    }
    SetSocketOptions(sock);
    if (bind(sock, ai->ai_addr, ai->ai_addrlen) == 0) {
      bound = true;
    } else {
      error = errno;
    }
    close(sock);
  }
  freeaddrinfo(results);
  if (!bound) return UnavailableError(where + std::strerror(error));
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, const RouteInstaller& install) {
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgumentError("port=" + std::to_string(options.port) +
                                ": must be between 0 and 65535");
  }
  for (const auto& [name, value] :
       {std::pair<const char*, int>{"threads", options.threads},
        {"max_connections", options.max_connections},
        {"keep_alive_timeout_seconds", options.keep_alive_timeout_seconds},
        {"request_timeout_seconds", options.request_timeout_seconds},
        {"read_timeout_seconds", options.read_timeout_seconds},
        {"write_timeout_seconds", options.write_timeout_seconds}}) {
    if (value < 1) {
      return InvalidArgumentError(std::string(name) + "=" +
                                  std::to_string(value) +
                                  ": must be at least 1");
    }
  }
  if (Status token = AccessPolicy::ValidateToken(options.token); !token.ok()) {
    return token;
  }
  if (Status probe = ProbeBind(options.host, options.port); !probe.ok()) {
    return probe;
  }

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->server_ = std::make_unique<AgentHttpServer>(options);
  httplib::Server& http = *server->server_;
  http.set_socket_options(SetSocketOptions);
  http.set_read_timeout(options.read_timeout_seconds);
  http.set_write_timeout(options.write_timeout_seconds);
  http.set_keep_alive_timeout(options.keep_alive_timeout_seconds);
  // Bodies are checked on the head already (request_head.h); this is a
  // backstop in case a path ever reaches httplib's own body reading.
  uint64_t largest_body = 0;
  for (const BodyLimit& limit : options.body_limits) {
    largest_body = std::max(largest_body, limit.max_bytes);
  }
  http.set_payload_max_length(static_cast<size_t>(largest_body));
  HttpServer* self = server.get();
  if (install) {
    install(http, [self] { return self->stopping_.load(); });
  }
  auto policy = std::make_shared<const AccessPolicy>(
      AccessRules{options.host, options.allowed_hosts, options.token});
  http.set_pre_routing_handler(
      [policy](const httplib::Request& req, httplib::Response& res) {
        std::optional<AccessRefusal> refusal = policy->Check(req);
        if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
        ServeError(res, refusal->status, refusal->reason);
        if (refusal->status == 401) {
          // Browsers then ask for the token (as the password) and send it
          // with every request of the page, /debug/pprof/ui included.
          res.set_header("WWW-Authenticate",
                         "Basic realm=\"inprof\", charset=\"UTF-8\"");
          res.set_header("WWW-Authenticate", "Bearer realm=\"inprof\"");
        }
        return httplib::Server::HandlerResponse::Handled;
      });

  int port = options.port;
  if (port == 0) {
    port = http.bind_to_any_port(options.host);
  } else if (!http.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return UnavailableError("cannot listen on " +
                            HostPort(options.host, options.port) +
                            ": bind failed");
  }
  auto& agent_http = static_cast<AgentHttpServer&>(http);
  agent_http.WidenBacklog();
  if (!agent_http.Prepare(static_cast<size_t>(options.threads),
                          options.max_connections)) {
    return UnavailableError("cannot listen on " + HostPort(options.host, port) +
                            ": fstat of the bound socket failed");
  }
  server->port_ = port;
  server->listen_fd_ = agent_http.listen_fd();
  server->listen_identity_ = agent_http.listen_identity();
  // The socket listens already: connections wait in its backlog until the
  // loop accepts them.
  server->listener_ = StartAgentThread(
      "inprof-listen", [&agent_http] { agent_http.AcceptLoop(); });
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  stopping_.store(true);
  static_cast<AgentHttpServer&>(*server_).StopAccepting();
  listener_.join();
}

}  // namespace inprof::internal
