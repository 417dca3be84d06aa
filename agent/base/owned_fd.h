// FdIdentity: which file a descriptor the agent opened refers to, so that
// the agent never acts on the number once the program has closed it and
// reused it. A preloaded program may close every descriptor it did not
// open (sshd's closefrom(3) at start, a daemon's close-all loop) and open
// its own files or sockets under the same numbers; an agent that then
// accepted on, shut down or closed "its" listening socket would take the
// program's connections or close its files.
//
// Thread safety: a value type; Matches() is async-signal-safe (fstat), so
// an atfork child handler may call it.
#ifndef INPROF_AGENT_BASE_OWNED_FD_H_
#define INPROF_AGENT_BASE_OWNED_FD_H_

#include <sys/stat.h>

namespace inprof::internal {

struct FdIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool known = false;

  // The identity of the file `fd` refers to now (unknown if fstat fails).
  static FdIdentity Of(int fd) noexcept {
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) return {};
    return {info.st_dev, info.st_ino, true};
  }

  // Whether `fd` still refers to this file.
  bool Matches(int fd) const noexcept {
    const FdIdentity now = Of(fd);
    return known && now.known && now.device == device && now.inode == inode;
  }
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_OWNED_FD_H_
