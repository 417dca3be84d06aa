#include "agent/base/inherited_sockets.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace inprof::internal {
namespace {

// The local TCP port of socket `fd`, or -1 if it is not an IP socket.
int LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return -1;
}

// This process's socket descriptors whose local port is `port`.
std::vector<int> SocketsOnPort(int port) {
  std::vector<int> found;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dir_fd) continue;
    struct stat info;
    if (fstat(static_cast<int>(fd), &info) != 0 || !S_ISSOCK(info.st_mode)) {
      continue;
    }
    if (LocalPort(static_cast<int>(fd)) == port) {
      found.push_back(static_cast<int>(fd));
    }
  }
  closedir(dir);
  return found;
}

}  // namespace

void CloseSocketsOnPort(int port) {
  for (int fd : SocketsOnPort(port)) close(fd);
}

}  // namespace inprof::internal
