#include "agent/http/connection_stream.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "agent/http/request_head.h"

namespace inprof::internal {
namespace {

using Clock = ConnectionStream::Clock;

// How often a wait looks at the stopping predicate.
constexpr std::chrono::milliseconds kSlice{100};
// Bytes asked of the kernel per recv().
constexpr size_t kChunk = 16 * 1024;

// Formats an address as cpp-httplib does (getnameinfo, NI_NUMERICHOST), so
// Request::remote_addr and local_addr read as with its own stream, and
// ConnectionProbe's 4-tuple match keeps working.
void NumericAddress(const sockaddr_storage& addr, socklen_t len,
                    std::string& ip, int& port) {
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  } else {
    return;
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host,
                  sizeof(host), nullptr, 0, NI_NUMERICHOST) == 0) {
    ip = host;
  }
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, StreamTimeouts timeouts,
                                   std::function<bool()> stopping)
    : fd_(fd), timeouts_(timeouts), stopping_(std::move(stopping)) {}

bool ConnectionStream::Poll(short events, Clock::time_point until,
                            bool* stopped) const {
  *stopped = false;
  for (;;) {
    if (stopping_ && stopping_()) {
      *stopped = true;
      return false;
    }
    // At least one look, even when `until` has passed: data already waiting
    // counts.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - Clock::now());
    const auto wait = std::clamp(left, std::chrono::milliseconds(0), kSlice);
    pollfd pfd{};
    pfd.fd = fd_;
    pfd.events = events;
    const int ready = poll(&pfd, 1, static_cast<int>(wait.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (Clock::now() >= until) return false;
  }
}

ConnectionStream::Fill ConnectionStream::FillBuffer(
    Clock::time_point deadline) {
  const Clock::time_point until =
      std::min(deadline, Clock::now() + timeouts_.read);
  for (;;) {
    bool stopped = false;
    if (!Poll(POLLIN, until, &stopped)) {
      return stopped ? Fill::kStopping : Fill::kTimedOut;
    }
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    }
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kChunk);
    const ssize_t n = recv(fd_, buffer_.data() + old_size, kChunk, 0);
    buffer_.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) return Fill::kData;
    if (n == 0) return Fill::kClosed;
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Fill::kClosed;
    }
  }
}

bool ConnectionStream::WaitForRequest(Clock::time_point until) {
  if (buffered() > 0) return true;
  bool stopped = false;
  return Poll(POLLIN, until, &stopped);
}

ConnectionStream::HeadRead ConnectionStream::ReadHead(
    size_t max_bytes, Clock::time_point deadline, std::string_view* head) {
  // Keep the unread bytes at the front, so the head is one view.
  if (start_ > 0) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  size_t scanned = 0;
  for (;;) {
    // Look again only at what arrived, plus three bytes of overlap.
    const size_t from = scanned > 3 ? scanned - 3 : 0;
    const size_t found =
        RequestHeadLength(std::string_view(buffer_).substr(from));
    if (found > 0 && from + found <= max_bytes) {
      *head = std::string_view(buffer_).substr(0, from + found);
      return HeadRead::kComplete;
    }
    if (buffer_.size() >= max_bytes) return HeadRead::kTooLarge;
    scanned = buffer_.size();
    switch (FillBuffer(deadline)) {
      case Fill::kData:
        break;
      case Fill::kClosed:
        return HeadRead::kClosed;
      case Fill::kTimedOut:
        timed_out_ = true;
        return HeadRead::kTimedOut;
      case Fill::kStopping:
        return HeadRead::kStopping;
    }
  }
}

bool ConnectionStream::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    bool stopped = false;
    if (!Poll(POLLOUT, Clock::now() + timeouts_.write, &stopped)) return false;
    const ssize_t n =
        send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno != EINTR && errno != EAGAIN &&
               errno != EWOULDBLOCK) {
      return false;
    }
  }
  return true;
}

void ConnectionStream::Discard(size_t max_bytes, Clock::time_point until) {
  size_t discarded = 0;
  char sink[4096];
  while (discarded < max_bytes) {
    bool stopped = false;
    if (!Poll(POLLIN, until, &stopped)) return;
    const ssize_t n = recv(fd_, sink, sizeof(sink), MSG_DONTWAIT);
    if (n == 0) return;
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return;
    }
    if (n > 0) discarded += static_cast<size_t>(n);
  }
}

bool ConnectionStream::is_readable() const {
  if (buffered() > 0) return true;
  bool stopped = false;
  return Poll(POLLIN, Clock::now() + timeouts_.read, &stopped);
}

bool ConnectionStream::is_writable() const {
  bool stopped = false;
  return Poll(POLLOUT, Clock::now() + timeouts_.write, &stopped);
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (timed_out_) return -1;
  if (buffered() == 0) {
    switch (FillBuffer(read_deadline_)) {
      case Fill::kData:
        break;
      case Fill::kClosed:
        return 0;
      case Fill::kTimedOut:
        timed_out_ = true;
        return -1;
      case Fill::kStopping:
        return -1;
    }
  }
  const size_t n = std::min(size, buffered());
  std::memcpy(ptr, buffer_.data() + start_, n);
  start_ += n;
  consumed_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (timed_out_) return -1;
  for (;;) {
    bool stopped = false;
    if (!Poll(POLLOUT, Clock::now() + timeouts_.write, &stopped)) return -1;
    const ssize_t n = send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip,
                                              int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    NumericAddress(addr, len, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    NumericAddress(addr, len, ip, port);
  }
}

size_t ConnectionStream::AddHeaderToHead(size_t head_size,
                                         std::string_view field) {
  // Before the blank line that ends the head.
  const std::string line = std::string(field) + "\r\n";
  buffer_.insert(start_ + head_size - 2, line);
  return head_size + line.size();
}

}  // namespace inprof::internal
