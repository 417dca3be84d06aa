#include "agent/http/server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/base/agent_thread.h"

namespace inprof::internal {
namespace {

// httplib's ThreadPool, but with threads marked as the agent's own
// (agent_thread.h), so that their idle waits stay out of the block profile.
class WorkerPool : public httplib::TaskQueue {
 public:
  explicit WorkerPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this] { Work(); });
    }
  }
  ~WorkerPool() override { shutdown(); }

  void enqueue(std::function<void()> task) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
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
  void Work() {
    MarkAgentThread();
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, and nothing left to do
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

std::string HostPort(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Only SO_REUSEADDR (restart while old connections sit in TIME_WAIT). Never
// SO_REUSEPORT: two processes sharing 6060 would split the requests.
void SetSocketOptions(int sock) {
  const int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
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
  if (options.threads < 1) {
    return InvalidArgumentError("threads=" + std::to_string(options.threads) +
                                ": must be at least 1");
  }
  if (Status probe = ProbeBind(options.host, options.port); !probe.ok()) {
    return probe;
  }

  std::unique_ptr<HttpServer> server(new HttpServer());
  httplib::Server& http = server->server_;
  const size_t threads = static_cast<size_t>(options.threads);
  http.new_task_queue = [threads] { return new WorkerPool(threads); };
  http.set_socket_options(SetSocketOptions);
  http.set_read_timeout(options.read_timeout_seconds);
  http.set_write_timeout(options.write_timeout_seconds);
  http.set_keep_alive_timeout(options.keep_alive_timeout_seconds);
  HttpServer* self = server.get();
  if (install) {
    install(http, [self] { return self->stopping_.load(); });
  }

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
  server->port_ = port;

  // 0.11.4 has no wait_until_ready(): poll is_running(), and stop polling if
  // listen_after_bind() returned without ever running. listen_internal()
  // sets is_running first thing, so one of the two happens promptly.
  auto returned = std::make_shared<std::atomic<bool>>(false);
  server->listener_ = std::thread([self, returned] {
    MarkAgentThread();
    self->server_.listen_after_bind();
    returned->store(true);
  });
  while (!http.is_running() && !returned->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!http.is_running()) {
    server->Stop();
    return UnavailableError("cannot listen on " + HostPort(options.host, port) +
                            ": the accept loop did not start");
  }
  return server;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  stopping_.store(true);
  server_.stop();
  listener_.join();
}

}  // namespace inprof::internal
