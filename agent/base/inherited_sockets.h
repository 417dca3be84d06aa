// The agent's sockets in a forked child. fork() copies every descriptor, so
// a child holds copies of the agent's listening socket and of the
// connections being served at that moment. The child must close its copies
// (or a parent that exits leaves a port that accepts and never answers, and
// clients never see their connection end) and must never shutdown() them,
// which would end the parent's endpoint for good.
//
// Thread safety: thread-safe; not async-signal-safe.
#ifndef INPROF_AGENT_BASE_INHERITED_SOCKETS_H_
#define INPROF_AGENT_BASE_INHERITED_SOCKETS_H_

namespace inprof::internal {

// Closes every TCP socket (listening or connected) whose local port is
// `port`: this process's copies only. Reads /proc/self/fd, so call it where
// no other thread opens or closes descriptors (a forked child). Not
// async-signal-safe.
void CloseSocketsOnPort(int port);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_INHERITED_SOCKETS_H_
