// ConnectionStream is the agent's httplib::Stream over one accepted socket.
// It replaces cpp-httplib's SocketStream (agent/http/server.cc explains how)
// so that the server, not the client, decides how long a connection may
// take:
//   - reads give up after `read_timeout` without progress, and at a deadline
//     for the whole request (head and body), so that a client sending a byte
//     now and then (slowloris) or promising more body than it sends cannot
//     keep a worker;
//   - waits are cut into short slices that check `stopping`, so Stop() does
//     not wait for slow clients;
//   - the bytes read ahead stay in one buffer for the connection's life, so
//     the server can look at a whole request head before cpp-httplib parses
//     it, and pipelined requests are not lost between requests;
//   - writes use MSG_NOSIGNAL and give up after `write_timeout` without
//     progress.
//
// Example:
//
//   ConnectionStream stream(fd, {.read = 3s, .write = 5s}, stopping);
//   if (!stream.WaitForRequest(idle_deadline)) return;
//   std::string_view head;
//   if (stream.ReadHead(16384, deadline, &head) != HeadRead::kComplete) ...
//
#ifndef INPROF_AGENT_HTTP_CONNECTION_STREAM_H_
#define INPROF_AGENT_HTTP_CONNECTION_STREAM_H_

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace inprof::internal {

struct StreamTimeouts {
  // A read or write that makes no progress for this long fails.
  std::chrono::milliseconds read{3000};
  std::chrono::milliseconds write{5000};
};

// ConnectionStream
//
// Ownership: does not own the socket; the caller closes it after the stream
// is gone.
//
// Thread safety: not thread-safe; used by the worker serving the connection.
class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // `stopping` returns true once the server stops; every wait ends then.
  ConnectionStream(int fd, StreamTimeouts timeouts,
                   std::function<bool()> stopping);
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // Waits until a byte of the next request is here (perhaps already
  // buffered) or `until` passes. False: idle too long, closed by the
  // client, or stopping.
  bool WaitForRequest(Clock::time_point until);

  enum class HeadRead { kComplete, kClosed, kTooLarge, kTimedOut, kStopping };

  // Reads ahead, without consuming, until the buffer holds a whole request
  // head (RequestHeadLength() > 0) and sets `*head` to it; the view is valid
  // until the next read. kTooLarge when `max_bytes` arrived without the end
  // of the head; kTimedOut at `deadline` or after the read timeout.
  HeadRead ReadHead(size_t max_bytes, Clock::time_point deadline,
                    std::string_view* head);

  // Adds the header line `field` ("Name: value") to the head at the start
  // of the buffer, `head_size` bytes as ReadHead gave it, and returns the
  // head's new size. Only before read() has consumed any of the head.
  size_t AddHeaderToHead(size_t head_size, std::string_view field);

  // Reads through read() (cpp-httplib's, for the head and the body) fail at
  // `deadline` as well as after the read timeout.
  void set_read_deadline(Clock::time_point deadline) {
    read_deadline_ = deadline;
  }

  // True once a read failed for time. From then on write() fails too, so
  // that nothing half-read is answered as if it were the client's fault;
  // the caller writes its own 408 with SendRaw().
  bool timed_out() const { return timed_out_; }

  // Bytes handed out by read() since the connection began.
  uint64_t consumed() const { return consumed_; }

  // Writes all of `bytes`, even after a timeout; false if the socket fails
  // or makes no progress for the write timeout.
  bool SendRaw(std::string_view bytes);

  // Reads and discards input until the client closes, `max_bytes` went by,
  // or `until` passes: after a refusal, so that closing the socket does not
  // reset the connection before the client has read why.
  void Discard(size_t max_bytes, Clock::time_point until);

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  enum class Fill { kData, kClosed, kTimedOut, kStopping };

  // Waits for `events` on the socket until `until`, in slices that check
  // stopping_. True when they are there.
  bool Poll(short events, Clock::time_point until, bool* stopped) const;
  // Appends what the socket has to buffer_, waiting at most until the
  // earlier of `deadline` and the read timeout.
  Fill FillBuffer(Clock::time_point deadline);
  size_t buffered() const { return buffer_.size() - start_; }

  const int fd_;
  const StreamTimeouts timeouts_;
  const std::function<bool()> stopping_;
  std::string buffer_;  // bytes read from the socket; [start_, size) unread
  size_t start_ = 0;
  uint64_t consumed_ = 0;
  Clock::time_point read_deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_CONNECTION_STREAM_H_
