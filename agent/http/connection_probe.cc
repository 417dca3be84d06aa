#include "agent/http/connection_probe.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace inprof::internal {
namespace {

// Formats an address the way cpp-httplib fills Request::remote_addr and
// local_addr (getnameinfo with NI_NUMERICHOST), so strings compare equal.
bool NumericAddress(const sockaddr_storage& addr, socklen_t len,
                    std::string* host, int* port) {
  char buf[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, buf,
                  sizeof(buf), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  *host = buf;
  *port = std::atoi(serv);
  return true;
}

// `name` is an entry of /proc/self/fd. The fd may belong to any thread of the
// host and be closed at any moment, so touch it as little as possible: the
// /proc link says whether it is a socket without an fd syscall, and a
// recycled fd number cannot fake the 4-tuple checked next.
bool Matches(int dir_fd, const char* name, int fd,
             const httplib::Request& req) {
  char link[64];
  const ssize_t n = readlinkat(dir_fd, name, link, sizeof(link) - 1);
  if (n <= 0) return false;
  link[n] = '\0';
  if (std::strncmp(link, "socket:", 7) != 0) return false;
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  std::string host;
  int port = -1;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      !NumericAddress(addr, len, &host, &port) || port != req.local_port ||
      host != req.local_addr) {
    return false;
  }
  len = sizeof(addr);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
         NumericAddress(addr, len, &host, &port) && port == req.remote_port &&
         host == req.remote_addr;
}

}  // namespace

int FindConnectionSocket(const httplib::Request& req) {
  if (req.local_port <= 0 || req.remote_port <= 0) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  const int dir_fd = dirfd(dir);
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    if (Matches(dir_fd, entry->d_name, static_cast<int>(fd), req)) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool PeerClosed(int fd) {
  if (fd < 0) return false;
  pollfd pfd{};
  pfd.fd = fd;
  pfd.events = POLLRDHUP;
  if (poll(&pfd, 1, 0) <= 0) return false;
  return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool ConnectionProbe::ClientGone() {
  if (!searched_) {
    searched_ = true;
    fd_ = FindConnectionSocket(req_);
  }
  return PeerClosed(fd_);
}

}  // namespace inprof::internal
