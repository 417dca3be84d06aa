#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

extern char** environ;

namespace inprof::test {
namespace {

using Clock = std::chrono::steady_clock;

// Once killed, a child's pipes normally close at once; this bounds the wait
// for grandchildren that escaped the process group.
constexpr std::chrono::milliseconds kDrainAfterKill(2000);

// The child's environment: ours minus the overridden names, plus `env`.
std::vector<std::string> BuildEnvironment(const EnvVars& env) {
  std::set<std::string> overridden;
  for (const auto& [name, value] : env) overridden.insert(name);
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    if (overridden.count(name) == 0) out.emplace_back(entry);
  }
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::string PathOf(const EnvVars& env) {
  std::string path;
  if (const char* p = getenv("PATH")) path = p;
  for (const auto& [name, value] : env) {
    if (name == "PATH") path = value;
  }
  return path.empty() ? "/usr/local/bin:/usr/bin:/bin" : path;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Child side of fork(): only async-signal-safe calls from here on.
[[noreturn]] void ExecChild(const char* file, char** argv, char** envp,
                            int out_fd, int err_fd, int null_fd) {
  setpgid(0, 0);
  dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  execve(file, argv, envp);
  const char* msg = "RunCommand: execve failed: ";
  (void)!write(2, msg, strlen(msg));
  const char* reason = strerror(errno);
  (void)!write(2, reason, strlen(reason));
  _exit(127);
}

// Reads both pipes until EOF or `deadline`; returns false on timeout.
bool Drain(int out_fd, int err_fd, Clock::time_point deadline,
           CommandResult& result) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    int n = poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // Timeout is re-checked at the top.
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(got));
      }
    }
  }
  return true;
}

int WaitExitCode(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string Truncate(const std::string& s) {
  constexpr size_t kMax = 4096;
  if (s.size() <= kMax) return s;
  return "[...]" + s.substr(s.size() - kMax);
}

}  // namespace

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& log_path) {
  if (argv.empty()) return;
  std::string file = argv[0].find('/') == std::string::npos
                         ? FindExecutable(argv[0], PathOf({}))
                         : argv[0];
  if (file.empty()) return;
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = BuildEnvironment({});
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_envs = CStrings(envs);
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    ExecChild(file.c_str(), c_args.data(), c_envs.data(), log_fd, log_fd,
              null_fd);
  }
  close(log_fd);
  close(null_fd);
  if (pid > 0) {
    setpgid(pid, pid);  // also in the child: whichever runs first
    pid_ = pid;
  }
}

bool BackgroundProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void BackgroundProcess::Stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    usleep(100 * 1000);
  }
  kill(-pid_, SIGKILL);
  WaitExitCode(pid_);
  pid_ = -1;
}

std::string FindExecutable(std::string_view name, std::string_view path_list) {
  if (path_list.empty()) return "";
  size_t start = 0;
  while (start <= path_list.size()) {
    size_t end = path_list.find(':', start);
    if (end == std::string_view::npos) end = path_list.size();
    std::string dir(path_list.substr(start, end - start));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + std::string(name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

std::string CommandResult::Describe() const {
  std::string s = "command: " + command +
                  "\nexit code: " + std::to_string(exit_code) +
                  (timed_out ? " (killed after timeout)" : "") + "\n";
  return s + "stderr:\n" + Truncate(err) + "\nstdout:\n" + Truncate(out);
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const EnvVars& env,
                         std::chrono::milliseconds timeout) {
  CommandResult result;
  for (const std::string& a : argv) {
    result.command += (result.command.empty() ? "" : " ") + a;
  }
  if (argv.empty()) {
    result.err = "RunCommand: empty argv";
    return result;
  }
  std::string file = argv[0].find('/') == std::string::npos
                         ? FindExecutable(argv[0], PathOf(env))
                         : argv[0];
  if (file.empty()) {
    result.err = "RunCommand: " + argv[0] + " not found in PATH";
    return result;
  }
  // Everything the child needs is built before fork(): after it, the child
  // of a multithreaded process may only make async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = BuildEnvironment(env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_envs = CStrings(envs);
  int out_pipe[2], err_pipe[2];
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("RunCommand: ") + strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("RunCommand: ") + strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(null_fd);
    return result;
  }
  auto deadline = Clock::now() + timeout;
  pid_t pid = fork();
  if (pid == 0) {
    ExecChild(file.c_str(), c_args.data(), c_envs.data(), out_pipe[1],
              err_pipe[1], null_fd);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(null_fd);
  if (pid < 0) {
    result.err = std::string("RunCommand: fork: ") + strerror(errno);
  } else {
    setpgid(pid, pid);  // Also done by the child; whichever runs first wins.
    if (!Drain(out_pipe[0], err_pipe[0], deadline, result)) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      (void)Drain(out_pipe[0], err_pipe[0], Clock::now() + kDrainAfterKill,
                  result);
    }
    result.exit_code = WaitExitCode(pid);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  return result;
}

}  // namespace inprof::test
