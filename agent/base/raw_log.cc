#include "agent/base/raw_log.h"

// SIGNAL CONTEXT. See the banner in raw_log.h: no allocation, no locks, no
// stdio; errno is preserved here because callers may not save it.

#include <errno.h>
#include <unistd.h>

namespace inprof::internal {

void RawLog(const char* message) noexcept {
  char buffer[256];
  size_t n = 0;
  for (const char* p = "inprof: "; *p != '\0'; ++p) buffer[n++] = *p;
  for (const char* p = message; *p != '\0' && n < sizeof(buffer) - 1; ++p) {
    buffer[n++] = *p;
  }
  buffer[n++] = '\n';
  int saved_errno = errno;
  // A short or failed write to stderr is not worth a retry loop here.
  [[maybe_unused]] ssize_t written = write(STDERR_FILENO, buffer, n);
  errno = saved_errno;
}

}  // namespace inprof::internal
