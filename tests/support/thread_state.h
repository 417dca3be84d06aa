// A thread's scheduling state as the kernel reports it: how a test knows
// that another thread is really blocked (in a lock, a wait) before it acts,
// instead of sleeping a guessed time that a busy machine overruns.
#ifndef INPROF_TESTS_SUPPORT_THREAD_STATE_H_
#define INPROF_TESTS_SUPPORT_THREAD_STATE_H_

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace inprof::test {

inline pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The state letter of /proc/self/task/TID/stat ('R', 'S', 'D'...); '?' if
// the thread is gone.
inline char KernelState(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size()
             ? '?'
             : line[paren + 2];
}

// How many times thread `tid` gave up the CPU by itself
// (voluntary_ctxt_switches of /proc/self/task/TID/status): a sleeping
// thread woken by a signal, which then sleeps again, adds one. -1 if the
// thread is gone.
inline long VoluntarySwitches(pid_t tid) {
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  const std::string key = "voluntary_ctxt_switches:";
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  }
  return -1;
}

// Returns once thread `tid` sleeps in the kernel (state 'S').
inline void WaitUntilAsleep(pid_t tid) {
  while (KernelState(tid) != 'S') {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace inprof::test

#endif  // INPROF_TESTS_SUPPORT_THREAD_STATE_H_
