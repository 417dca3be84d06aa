#include "tests/support/demo_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/regex.h"
#include "tests/support/temp_dir.h"

namespace inprof::test {

std::string WaitForAgentUrl(BackgroundProcess& demo,
                            const std::string& log_path) {
  const Regex agent_line(
      R"(inprof agent: (http://127\.0\.0\.1:[0-9]+)/debug/pprof/)");
  // Polled: nothing announces the line but the file growing.
  for (;;) {
    RegexGroups m;
    if (agent_line.Search(ReadFile(log_path).value_or(""), &m)) return m[1];
    if (!demo.Running()) {
      ADD_FAILURE() << "the demo did not report its agent's address; its "
                       "output:\n"
                    << ReadFile(log_path).value_or("(none)");
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pace
  }
}

AgentProgram::AgentProgram(const std::string& binary,
                           const std::vector<std::string>& args,
                           const std::string& log_path,
                           const std::vector<std::string>& env) {
  std::vector<std::string> argv = {"env", "INPROF_ADDR=127.0.0.1:0"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(binary);
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<BackgroundProcess>(argv, log_path);
  if (!process_->started()) {
    ADD_FAILURE() << "could not start " << binary;
    return;
  }
  agent_url_ = WaitForAgentUrl(*process_, log_path);
}

}  // namespace inprof::test
