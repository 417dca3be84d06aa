#include "tests/support/demo_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "tests/support/temp_dir.h"

namespace inprof::test {

std::string WaitForAgentUrl(BackgroundProcess& demo,
                            const std::string& log_path) {
  const std::regex agent_line(
      R"(inprof agent: (http://127\.0\.0\.1:[0-9]+)/debug/pprof/)");
  // Polled: nothing announces the line but the file growing.
  for (;;) {
    std::smatch m;
    std::string log = ReadFile(log_path).value_or("");
    if (std::regex_search(log, m, agent_line)) return m[1].str();
    if (!demo.Running()) {
      ADD_FAILURE() << "the demo did not report its agent's address; its "
                       "output:\n"
                    << ReadFile(log_path).value_or("(none)");
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // pace
  }
}

}  // namespace inprof::test
