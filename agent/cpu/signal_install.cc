#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "agent/cpu/signal_handler.h"

namespace inprof::internal {
namespace {

// Owned by the thread that installs and uninstalls (one at a time).
HandlerTarget g_target_storage;
struct sigaction g_previous_action;
int g_installed_signo = 0;

bool HostHandles(const struct sigaction& action) {
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}

}  // namespace

const char* SignalName(int signo) {
  if (signo == SIGPROF) return "SIGPROF";
  static thread_local char name[32];
  std::snprintf(name, sizeof(name), "signal %d", signo);
  return name;
}

Status InstallCpuSignalHandler(int signo, HandlerTarget target) {
  if (g_installed_signo != 0) {
    return FailedPreconditionError(
        "the CPU signal handler is already installed by another inprof agent");
  }
  struct sigaction previous;
  if (sigaction(signo, nullptr, &previous) != 0) {
    return InvalidArgumentError(std::string("cannot use ") + SignalName(signo) +
                                " for CPU profiling: " + strerror(errno));
  }
  if (HostHandles(previous)) {
    return FailedPreconditionError(
        std::string(SignalName(signo)) +
        " already has a handler installed by the host process (another "
        "profiler such as gperftools' CPUPROFILE?); inprof will not take it "
        "over: remove that handler or choose a free signal with INPROF_SIGNAL");
  }
  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once, [] {
    pthread_atfork(nullptr, nullptr, ForgetHandlersInFlight);
  });
  g_target_storage = target;
  SetHandlerTarget(&g_target_storage);

  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_sigaction = CpuSignalHandlerEntry();
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, signo);
  if (sigaction(signo, &action, &g_previous_action) != 0) {
    SetHandlerTarget(nullptr);
    return InternalError(std::string("sigaction(") + SignalName(signo) +
                         ") failed: " + strerror(errno));
  }
  g_installed_signo = signo;
  return OkStatus();
}

bool CpuSignalHandlerInPlace() {
  if (g_installed_signo == 0) return false;
  struct sigaction current;
  if (sigaction(g_installed_signo, nullptr, &current) != 0) return false;
  return (current.sa_flags & SA_SIGINFO) != 0 &&
         current.sa_sigaction == CpuSignalHandlerEntry();
}

void UninstallCpuSignalHandler() {
  if (g_installed_signo == 0) return;
  SetHandlerTarget(nullptr);
  // A handler the host installed over ours is the host's: leave it, and
  // its timers, alone (restoring ours or SIG_DFL would kill the host).
  if (CpuSignalHandlerInPlace()) {
    // Setting SIG_IGN discards signals still pending on any thread (POSIX),
    // so restoring SIG_DFL afterwards cannot let a late timer signal kill us.
    struct sigaction ignore;
    std::memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(g_installed_signo, &ignore, nullptr);
    sigaction(g_installed_signo, &g_previous_action, nullptr);
  }
  while (HandlersInFlight() != 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  g_installed_signo = 0;
}

}  // namespace inprof::internal
