// RunCommand runs a program to completion with a timeout and captures its
// output, for tests that drive real consumers (`go tool pprof`, `go run`,
// curl-like clients). The child gets its own process group, and a timeout
// kills the whole group, so grandchildren (`go run` builds and then runs a
// binary) cannot outlive the test.
//
// Example:
//
//   CommandResult r = RunCommand({"go", "version"}, {{"HOME", dir.path()}});
//   ASSERT_EQ(r.exit_code, 0) << r.Describe();
//
// Thread safety: thread-safe; RunCommand may be called from several threads
// at once (it forks, then only execs or _exits in the child). It blocks the
// calling thread until the child exits or is killed.
#ifndef INPROF_TESTS_SUPPORT_SUBPROCESS_H_
#define INPROF_TESTS_SUPPORT_SUBPROCESS_H_

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inprof::test {

// Environment variables to set (or override) in the child, on top of the
// test process's own environment.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::chrono::milliseconds kDefaultCommandTimeout =
    std::chrono::minutes(2);

// What a finished (or killed) command did.
struct CommandResult {
  // The exit status; 128 + N if it died of signal N; 127 if it could not be
  // executed (the reason is in err); -1 if it could not even be started.
  int exit_code = -1;
  bool timed_out = false;  // killed (SIGKILL) after the timeout
  std::string out;         // everything it wrote to stdout
  std::string err;         // everything it wrote to stderr

  // One paragraph for failure messages: argv, exit code, stderr and stdout
  // (each truncated to a few KiB).
  std::string Describe() const;

  std::string command;  // argv joined by spaces, for Describe()
};

// Runs argv[0] (searched in PATH, the child's if `env` sets one, when it
// has no '/') with arguments argv[1..], stdin from /dev/null, `env` added to
// the environment, and waits at most `timeout`. Never throws; problems
// starting the process are reported in the result.
CommandResult RunCommand(
    const std::vector<std::string>& argv, const EnvVars& env = {},
    std::chrono::milliseconds timeout = kDefaultCommandTimeout);

// A server the test starts and stops (a Prometheus scraping the agent): runs
// argv in its own process group, stdout and stderr appended to `log_path`.
// Stop() (or the destructor) kills the group and reaps it.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv,
                    const std::string& log_path);
  ~BackgroundProcess() { Stop(); }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // True while the process has not exited.
  bool Running();
  void Stop();

 private:
  int pid_ = -1;
};

// Returns the absolute path of executable `name` found in `path_list` (a
// colon-separated PATH value), or "" if there is none.
std::string FindExecutable(std::string_view name, std::string_view path_list);

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_SUBPROCESS_H_
