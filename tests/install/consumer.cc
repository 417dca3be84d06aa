// The install test's consumer: starts the agent on a free port, fetches
// /debug/pprof/cmdline over a plain socket, and prints OK. It depends on
// nothing but inprof::agent, so it proves that the target carries everything
// a user needs (headers, C++ standard, link dependencies); request labels
// (inprof/request.h) included.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/mutex.h"
#include "inprof/request.h"

namespace {

// Returns the whole HTTP/1.1 response to GET `path`, or "" on any failure.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = "GET " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Connection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

// Four threads, each serving a labelled request, take `mu` in turn and hold
// it 2 ms each time.
template <typename Lock>
void Contend(Lock& mu) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&mu] {
      inprof::RequestScope request("GET /consumer");
      for (int i = 0; i < 10; ++i) {
        std::lock_guard<Lock> guard(mu);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  inprof::Options options;
  options.port = 0;
  options.block_profile_rate = 1;
  options.mutex_profile_fraction = 1;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "consumer: Agent::Start failed: %s\n",
                 agent.status().ToString().c_str());
    return 1;
  }
  if (agent->port() <= 0) {
    std::fprintf(stderr, "consumer: bad port %d\n", agent->port());
    return 1;
  }
  std::string response = HttpGet(agent->port(), "/debug/pprof/cmdline");
  // Go answers with the arguments separated by NUL bytes; argv[0] is first.
  if (response.rfind("HTTP/1.1 200", 0) != 0 ||
      response.find(argv[0]) == std::string::npos) {
    std::fprintf(stderr,
                 "consumer: unexpected answer to /debug/pprof/cmdline on "
                 "port %d:\n%s\n",
                 agent->port(), response.c_str());
    return 1;
  }
  // Heap profiles work with inprof::agent alone (the malloc front, on
  // glibc's malloc), and with inprof::malloc_shim (tcmalloc) as before.
  std::string heap = HttpGet(agent->port(), "/debug/pprof/heap?debug=1");
  if (heap.rfind("HTTP/1.1 200", 0) != 0 ||
      heap.find("heap profile: ") == std::string::npos) {
    std::fprintf(stderr,
                 "consumer: unexpected answer to /debug/pprof/heap:\n%s\n",
                 heap.c_str());
    return 1;
  }
#ifdef CONSUMER_CONTENTION
  // std::mutex is seen through the interposer (linked, or preloaded for
  // consumer_std); inprof::Mutex always.
  std::mutex std_mutex;
  Contend(std_mutex);
#ifndef CONSUMER_STD_ONLY
  inprof::Mutex inprof_mutex;
  Contend(inprof_mutex);
#endif
  std::string mutex = HttpGet(agent->port(), "/debug/pprof/mutex?debug=1");
  // "--- mutex:", the header, then at least one "<delay> <count> @ ..." line.
  if (mutex.rfind("HTTP/1.1 200", 0) != 0 ||
      mutex.find("--- mutex:") == std::string::npos ||
      mutex.find(" @ 0x") == std::string::npos ||
      mutex.find("# labels: {\"endpoint\":\"GET /consumer\"}") ==
          std::string::npos) {
    std::fprintf(stderr, "consumer: no contention in /debug/pprof/mutex:\n%s\n",
                 mutex.c_str());
    return 1;
  }
#endif
  agent->Stop();
  std::printf("OK\n");
  return 0;
}
