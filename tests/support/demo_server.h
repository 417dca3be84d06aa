// Helpers for tests that run examples/demo_server (the README's demo) as a
// user runs it and profile it through its agent.
//
// Example:
//
//   BackgroundProcess demo({"env", "INPROF_ADDR=127.0.0.1:0",
//                           INPROF_DEMO_SERVER, "--port=0", "--load"}, log);
//   ASSERT_TRUE(demo.started());
//   std::string agent_url = WaitForAgentUrl(demo, log);
//   ASSERT_FALSE(agent_url.empty());
//
// Thread safety: thread-compatible (`demo` is not locked).
#ifndef INPROF_TESTS_SUPPORT_DEMO_SERVER_H_
#define INPROF_TESTS_SUPPORT_DEMO_SERVER_H_

#include <string>

#include "tests/support/subprocess.h"

namespace inprof::test {

// Waits until the demo writes its agent's address ("inprof agent:
// http://127.0.0.1:N/debug/pprof/") to `log_path` and returns
// "http://127.0.0.1:N". If the demo exits first, records a non-fatal
// GoogleTest failure that quotes its output and returns "" (callers then
// ASSERT_FALSE(url.empty())). Has no timeout of its own: ctest's ends a
// demo that never gets that far.
std::string WaitForAgentUrl(BackgroundProcess& demo,
                            const std::string& log_path);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_DEMO_SERVER_H_
