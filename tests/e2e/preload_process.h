// Helpers of the preload tests (preload_test.cc, preload_redis_test.cc): a
// program started in the background with LD_PRELOAD=libinprof_preload.so,
// and which TCP ports a process listens on, read from /proc (so a test can
// find the port of an agent it did not start itself, and prove that another
// process serves none).
//
// Thread safety: thread-compatible; PreloadedProcess is owned by one test.
#ifndef INPROF_TESTS_E2E_PRELOAD_PROCESS_H_
#define INPROF_TESTS_E2E_PRELOAD_PROCESS_H_

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace inprof::test {

// A TCP socket bound to 127.0.0.1 on a port the kernel picked (in *port);
// -1 on failure.
inline int BindLoopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port free on 127.0.0.1 at the time of the call.
inline int FreePort() {
  int port = 0;
  close(BindLoopback(&port));
  return port;
}

// The socket inodes `pid` holds open.
inline std::set<std::string> SocketInodes(pid_t pid) {
  std::set<std::string> inodes;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(dir.c_str());
  if (fds == nullptr) return inodes;
  while (dirent* entry = readdir(fds)) {
    char target[256];
    const std::string link = dir + "/" + entry->d_name;
    const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    const std::string text(target, static_cast<size_t>(n));
    if (text.starts_with("socket:[")) {
      inodes.insert(text.substr(8, text.size() - 9));
    }
  }
  closedir(fds);
  return inodes;
}

// The TCP ports (IPv4 and IPv6) on which `pid` holds a listening socket.
inline std::vector<int> ListeningPorts(pid_t pid) {
  const std::set<std::string> inodes = SocketInodes(pid);
  std::vector<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout
      // inode ...
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid,
          timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >>
          retransmits >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.contains(inode)) continue;  // 0A: LISTEN
      ports.push_back(static_cast<int>(
          std::stoul(local.substr(local.find(':') + 1), nullptr, 16)));
    }
  }
  return ports;
}

// The processes whose parent is `pid`.
inline std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return children;
  while (dirent* entry = readdir(proc)) {
    const pid_t candidate = std::atoi(entry->d_name);
    if (candidate <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(candidate) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // pid (comm) state ppid ...: comm may hold blanks, so after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) children.push_back(candidate);
  }
  closedir(proc);
  return children;
}

// PreloadedProcess
//
// A program run in the background, in its own process group, with `env`
// added to the test's environment (typically LD_PRELOAD and INPROF_*); its
// stdout and stderr go to files in a temporary directory. Stop() (or the
// destructor) kills the group with SIGKILL and reaps the program.
//
// Ownership: owns the process group. Thread safety: thread-compatible.
class PreloadedProcess {
 public:
  PreloadedProcess(const std::vector<std::string>& argv, const EnvVars& env) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);
    for (const auto& [name, value] : env)
      env_strings.push_back(name + "=" + value);
    std::vector<char*> c_argv, c_env;
    for (const std::string& a : argv)
      c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    for (const std::string& e : env_strings)
      c_env.push_back(const_cast<char*>(e.c_str()));
    c_env.push_back(nullptr);
    const std::string out = dir_.Path("stdout"), err = dir_.Path("stderr");
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int null = open("/dev/null", O_RDONLY);
      const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(null, 0);
      dup2(out_fd, 1);
      dup2(err_fd, 2);
      execvpe(c_argv[0], c_argv.data(), c_env.data());
      _exit(127);
    }
    if (pid_ > 0) setpgid(pid_, pid_);
  }
  ~PreloadedProcess() { Stop(); }
  PreloadedProcess(const PreloadedProcess&) = delete;
  PreloadedProcess& operator=(const PreloadedProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Polls until the process listens on a TCP port and returns it; 0 if it
  // exited or `patience` ran out (generous: this is not a timing judgment).
  int WaitForListeningPort(
      std::chrono::seconds patience = std::chrono::seconds(60)) {
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < give_up && Running()) {
      const std::vector<int> ports = ListeningPorts(pid_);
      if (!ports.empty()) return ports.front();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  // True while the process has not exited.
  bool Running() {
    if (pid_ <= 0 || reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return false;
    }
    return true;
  }

  void Stop() {
    if (pid_ <= 0 || reaped_) return;
    kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
  }

  std::string Stdout() const { return Read("stdout"); }
  std::string Stderr() const { return Read("stderr"); }

 private:
  std::string Read(const char* name) const {
    return ReadFile(dir_.Path(name)).value_or("");
  }

  TempDir dir_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace inprof::test

#endif  // INPROF_TESTS_E2E_PRELOAD_PROCESS_H_
