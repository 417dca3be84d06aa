// The install test's consumer: starts the agent on a free port, fetches
// /debug/pprof/cmdline over a plain socket, and prints OK. It depends on
// nothing but inprof::agent, so it proves that the target carries everything
// a user needs (headers, C++ standard, link dependencies).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "inprof/agent.h"

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

}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  inprof::Options options;
  options.port = 0;
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
#ifdef CONSUMER_HEAP
  // Linked with inprof::malloc_shim: heap profiles work.
  std::string heap = HttpGet(agent->port(), "/debug/pprof/heap?debug=1");
  if (heap.rfind("HTTP/1.1 200", 0) != 0 ||
      heap.find("heap profile: ") == std::string::npos) {
    std::fprintf(stderr,
                 "consumer: unexpected answer to /debug/pprof/heap:\n%s\n",
                 heap.c_str());
    return 1;
  }
#endif
  agent->Stop();
  std::printf("OK\n");
  return 0;
}
