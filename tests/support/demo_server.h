// Helpers for tests that run examples/demo_server (the README's demo) or
// another example as a user runs it and profile it through its agent.
//
// Example:
//
//   LoadedDemo demo(INPROF_DEMO_SERVER, dir.Path("demo.log"));
//   ASSERT_FALSE(demo.agent_url().empty());
//   AgentProgram example(INPROF_THREAD_DUMP_EXAMPLE, {"--seconds=900"},
//                        dir.Path("example.log"));
//
// Thread safety: thread-compatible (`demo` is not locked).
#ifndef INPROF_TESTS_SUPPORT_DEMO_SERVER_H_
#define INPROF_TESTS_SUPPORT_DEMO_SERVER_H_

#include <memory>
#include <string>
#include <vector>

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

// A program of this build that starts the agent and prints its address
// ("inprof agent: ..."), run as `env INPROF_ADDR=127.0.0.1:0 [env...]
// binary args...` with its output in `log_path`; stopped by the destructor.
// agent_url() is "" (and a failure recorded) when it did not start.
class AgentProgram {
 public:
  AgentProgram(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path,
               const std::vector<std::string>& env = {});
  const std::string& agent_url() const { return agent_url_; }
  // True while the program has not exited.
  bool Running() { return process_ && process_->Running(); }

 private:
  std::unique_ptr<BackgroundProcess> process_;
  std::string agent_url_;
};

// The demo as a user runs it: `demo_server --port=0 --load`, both ports
// picked by the system, with `env` ("NAME=value") added to its environment
// and its output in `log_path`. --duration=900 only ends a demo a test
// failed to stop.
class LoadedDemo : public AgentProgram {
 public:
  LoadedDemo(const std::string& demo_server, const std::string& log_path,
             const std::vector<std::string>& env = {})
      : AgentProgram(demo_server, {"--port=0", "--load", "--duration=900"},
                     log_path, env) {}
};

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_DEMO_SERVER_H_
