// ReleaseUnusedStack: gives the kernel back the pages of the calling
// thread's stack below its current frame. A thread keeps every stack page it
// ever touched resident; the agent's HTTP workers run deep once a profile is
// built (libdw's recursion, symbolizing, encoding) and then sit idle, eight
// of them holding ~150 KiB each that the host pays for (issue 16, item 3).
// Called between requests, where the stack is shallow; a page used again
// later is simply a fresh zero page.
//
// Thread safety: acts on the calling thread only. Not async-signal-safe
// (the first call asks glibc for the stack's bounds).
#ifndef INPROF_AGENT_BASE_THREAD_STACK_H_
#define INPROF_AGENT_BASE_THREAD_STACK_H_

#include <cstddef>

namespace inprof::internal {

// Returns the bytes released (0 when the bounds are unknown or the stack is
// already shallow). Keeps `keep_below` bytes below the caller's frame for
// the calls that follow.
size_t ReleaseUnusedStack(size_t keep_below = 16 * 1024);

}  // namespace inprof::internal

#endif  // INPROF_AGENT_BASE_THREAD_STACK_H_
