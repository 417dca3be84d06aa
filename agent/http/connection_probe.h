// ConnectionProbe tells a long-running handler whether its client has gone
// away. cpp-httplib 0.11.4 has no Request::is_connection_closed() (added in
// later versions) and does not hand the socket to handlers, so the probe finds
// the connection's socket itself: the one fd in /proc/self/fd whose local and
// peer addresses equal the request's local_addr:local_port and
// remote_addr:remote_port. A TCP 4-tuple is unique, and the socket stays open
// (and so keeps its fd number) until the handler returns, so the match is
// exact and stable. A client in the same process has the tuple reversed and
// does not match.
#ifndef INPROF_AGENT_HTTP_CONNECTION_PROBE_H_
#define INPROF_AGENT_HTTP_CONNECTION_PROBE_H_

#include <httplib.h>

#include <string>

namespace inprof::internal {

// Returns the fd of the server-side socket of `req`'s connection, or -1 if
// none matches (e.g. /proc is not mounted). Costs one readdir of
// /proc/self/fd plus two syscalls per socket fd.
int FindConnectionSocket(const httplib::Request& req);

// Returns true if the peer of the connected socket `fd` has closed or reset
// the connection (poll(2) with POLLRDHUP, zero timeout). Data the client may
// still send (pipelining) does not count as gone. Returns false for fd < 0.
bool PeerClosed(int fd);

// ConnectionProbe
//
// Lazily finds the socket of one request on the first call, then polls it.
//
// Thread safety: not thread-safe; used by the thread handling the request.
class ConnectionProbe {
 public:
  explicit ConnectionProbe(const httplib::Request& req) : req_(req) {}
  ConnectionProbe(const ConnectionProbe&) = delete;
  ConnectionProbe& operator=(const ConnectionProbe&) = delete;

  // True once the client disconnected. Always false if the socket could not
  // be found.
  bool ClientGone();

 private:
  const httplib::Request& req_;
  bool searched_ = false;
  int fd_ = -1;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_HTTP_CONNECTION_PROBE_H_
