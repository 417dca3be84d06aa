// RawConnection: a plain TCP client to 127.0.0.1 for tests that send what
// httplib::Client cannot: partial, slow, lying or malformed requests, and
// connections that never send anything.
//
// Example:
//
//   RawConnection conn(port);
//   ASSERT_TRUE(conn.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
//   RawResponse res = ParseResponse(conn.ReadResponse());
//   EXPECT_EQ(res.status, 200);
//
// Reads block without a deadline of their own: tests must not judge by
// wall-clock time. SO_RCVTIMEO of 120 s only keeps a broken server from
// hanging the suite forever.
//
// Thread safety: thread-compatible; one thread per connection.
#ifndef INPROF_TESTS_AGENT_HTTP_RAW_CONNECTION_H_
#define INPROF_TESTS_AGENT_HTTP_RAW_CONNECTION_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace inprof::test {

class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = 120;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      Close();
    }
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() { Close(); }

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all of `bytes`; false once the server closed or reset the
  // connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // True when a read would not block: data, end of stream or an error.
  bool Readable() const {
    pollfd pfd{};
    pfd.fd = fd_;
    pfd.events = POLLIN;
    return poll(&pfd, 1, 0) > 0;
  }

  // Reads one response: until its head and Content-Length bytes of body
  // arrived, or the server closed the connection. "" if nothing came.
  std::string ReadResponse() {
    for (;;) {
      const size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t total = head_end + 4 + ContentLength(head_end);
        if (buffer_.size() >= total) {
          std::string response = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return response;
        }
      }
      char chunk[4096];
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        std::string rest;
        rest.swap(buffer_);
        return rest;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // True once the server closed the connection: blocks until it does, or
  // until data arrives (then false, with the data kept for ReadResponse).
  bool WaitForClose() {
    char byte;
    const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  size_t ContentLength(size_t head_end) const {
    const std::string head = buffer_.substr(0, head_end);
    for (const char* name : {"\r\nContent-Length: ", "\r\ncontent-length: "}) {
      const size_t at = head.find(name);
      if (at != std::string::npos) {
        return std::strtoull(head.c_str() + at + std::strlen(name), nullptr,
                             10);
      }
    }
    return 0;
  }

  int fd_ = -1;
  std::string buffer_;
};

struct RawResponse {
  int status = 0;  // 0 when nothing parsable came back
  std::string head;
  std::string body;

  // The value of header `name` (exact case), or "".
  std::string Header(std::string_view name) const {
    const std::string key = "\r\n" + std::string(name) + ": ";
    const size_t at = head.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

inline RawResponse ParseResponse(const std::string& text) {
  RawResponse res;
  if (text.rfind("HTTP/1.", 0) != 0 || text.size() < 12) return res;
  res.status = std::atoi(text.c_str() + 9);
  const size_t head_end = text.find("\r\n\r\n");
  res.head = text.substr(0, head_end);
  if (head_end != std::string::npos) res.body = text.substr(head_end + 4);
  return res;
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_AGENT_HTTP_RAW_CONNECTION_H_
