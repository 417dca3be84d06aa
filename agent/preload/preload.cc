// libinprof_preload.so (CMake target inprof::preload): the agent, started
// from the INPROF_* environment, in a program that knows nothing of inprof:
//
//   LD_PRELOAD=/usr/local/lib/libinprof_preload.so INPROF_ADDR=127.0.0.1:6060
//       ./server
//
// The library also carries the pthread interposer (agent/contention/
// interposer.cc), so the program's std::mutex and pthread locks appear in
// the mutex and block profiles.
//
// Configuration: every variable of Options::FromEnvironment()
// (include/inprof/agent.h, agent/env_options.cc): INPROF_ADDR, INPROF_PORT,
// INPROF_HZ, INPROF_MAX_SECONDS, INPROF_MAX_STACK_DEPTH, INPROF_SIGNAL,
// INPROF_HEAP_RATE, INPROF_BLOCK_RATE, INPROF_MUTEX_FRACTION,
// INPROF_ALLOWED_HOSTS, INPROF_TOKEN, INPROF_MAX_CONNECTIONS and the
// INPROF_AUTOCAPTURE_* family (which only matters to a program with
// inprof::RequestScope, so not to an unmodified one); and the two below,
// INPROF_PRELOAD_PROGRAM and INPROF_PRELOAD_PID.
//
// When the agent starts. Not in this library's constructor: preloaded
// libraries are initialized before the program's own constructors, so the
// agent's threads would run beside a program whose globals, allocator
// settings and signal handlers are not set up yet. Not from a timer thread
// either: "later" is a guess, and a thread racing the program's main()
// makes the start depend on timing. Instead the library interposes
// __libc_start_main, which the program's entry point calls once the dynamic
// linker is done, and hands it a stand-in for main(): the stand-in starts
// the agent and then calls the program's main(). By then every constructor
// of the program and its libraries has run, and the program is still one
// thread, so Agent::Start() sees the signal dispositions as they are and
// no program code races it. It is the last moment before the program's own
// code, and the one moment that is the same in every program.
//
// Which processes start it. LD_PRELOAD is inherited by every child, so the
// rule decides which process serves, and every other one behaves exactly as
// without the library (same output, same exit status, no port taken):
//   - INPROF_PRELOAD_PROGRAM=name[,name...]: only a program whose name is
//     listed may start the agent; the name is the basename of argv[0] or of
//     the executable file (/proc/self/exe; Debian's redis-server is a
//     symlink to redis-check-rdb, so argv[0] is what the user typed).
//     Unset or empty: every program may.
//   - Of the programs that may, only the first starts it: it records its
//     pid in INPROF_PRELOAD_PID (in the constructor, while the process is
//     still one thread, and handed to main() as its envp, since shells
//     build their children's environment from main()'s envp). A program
//     that finds INPROF_PRELOAD_PID naming another process that still lives
//     stays silent. The same pid (`sh -c 'exec ./server'`: the old image's
//     listening socket was closed on exec, it is CLOEXEC) or a dead one may
//     start.
//   - A child forked without exec inherits the parent's agent without its
//     threads: the agent's atfork handlers close its copy of the listening
//     socket, and its Stop() at exit abandons what fork did not copy
//     (agent.cc, AbandonAfterFork). It prints nothing.
// A process that tries and fails (port in use, bad INPROF_* value, the
// program already handles SIGPROF) writes one line to stderr and runs on.
//
// The program's allocator is its own: this library does not name tcmalloc
// (its DT_NEEDED has no libtcmalloc); heap profiles work when tcmalloc is
// preloaded too, found at run time (agent/heap/tcmalloc_api.cc).
//
// Exported symbols: only the interposed ones (preload.map).

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "inprof/agent.h"

namespace inprof::internal {
namespace {

constexpr char kPidVariable[] = "INPROF_PRELOAD_PID";
constexpr char kProgramVariable[] = "INPROF_PRELOAD_PROGRAM";

using MainFn = int (*)(int, char**, char**);
using StartMainFn = int (*)(MainFn, int, char**, void (*)(), void (*)(),
                            void (*)(), void*);

// Decided by the constructor, read by the stand-in main (same thread).
bool g_should_start = false;
MainFn g_program_main = nullptr;
// Never deleted: StopAtExit() stops it, and a handle freed during exit
// would only add a destructor to the order of exit's work.
Agent* g_agent = nullptr;

// One line on stderr, in one write (the agent's RawLog is internal to it,
// and hidden in a shared libinprof.so).
void Complain(const std::string& message) {
  const std::string line = "inprof: preload: " + message + "\n";
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

std::string_view Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// True when INPROF_PRELOAD_PROGRAM is unset or empty, or lists this
// program's argv[0] or executable basename.
bool ProgramSelected() {
  const char* list = getenv(kProgramVariable);
  if (list == nullptr || *list == '\0') return true;
  const std::string_view invoked = program_invocation_short_name;
  char exe_path[4096];
  const ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
  const std::string_view exe =
      n > 0 ? Basename(std::string_view(exe_path, static_cast<size_t>(n)))
            : std::string_view();
  std::string_view rest(list);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    if (!name.empty() && (name == invoked || name == exe)) return true;
  }
  return false;
}

// True when INPROF_PRELOAD_PID names a living process other than this one.
bool AnotherProcessServes() {
  const char* value = getenv(kPidVariable);
  if (value == nullptr) return false;
  char* end = nullptr;
  errno = 0;
  const long pid = strtol(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || pid <= 0) return false;
  if (pid == getpid()) return false;  // this process, after exec
  // EPERM: it lives, under another user.
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Runs before the program's constructors, while the process is one thread
// (setenv is not thread-safe).
__attribute__((constructor)) void DecideWhetherToStart() {
  if (!ProgramSelected() || AnotherProcessServes()) return;
  char pid[24];
  std::snprintf(pid, sizeof(pid), "%d", static_cast<int>(getpid()));
  if (setenv(kPidVariable, pid, 1) != 0) return;
  g_should_start = true;
}

void StopAtExit() {
  if (g_agent != nullptr) g_agent->Stop();
}

void StartAgent() {
  StatusOr<Agent> agent = Agent::Start(Options::FromEnvironment());
  if (!agent.ok()) {
    Complain(std::string("agent not started in ") +
             program_invocation_short_name + " (pid " +
             std::to_string(getpid()) + "): " + agent.status().ToString());
    return;
  }
  g_agent = new Agent(std::move(*agent));
  // Registered after the program's constructors, so it runs before their
  // destructors: the agent stops while everything it may touch still
  // exists.
  atexit(StopAtExit);
}

// The program's main(), with the agent started first. envp is the current
// environment, which holds INPROF_PRELOAD_PID.
int MainWithAgent(int argc, char** argv, char** /*envp*/) {
  if (g_should_start) StartAgent();
  return g_program_main(argc, argv, environ);
}

}  // namespace
}  // namespace inprof::internal

// The C library's entry point of every dynamically linked program, called by
// its _start. An unversioned definition satisfies the program's versioned
// reference (__libc_start_main@GLIBC_2.34, or @GLIBC_2.2.5 in older
// programs; both are the same function in glibc).
extern "C" __attribute__((visibility("default"))) int __libc_start_main(
    inprof::internal::MainFn main, int argc, char** argv, void (*init)(),
    void (*fini)(), void (*rtld_fini)(), void* stack_end) {
  using inprof::internal::StartMainFn;
  auto next =
      reinterpret_cast<StartMainFn>(dlsym(RTLD_NEXT, "__libc_start_main"));
  if (next == nullptr) {
    inprof::internal::Complain("__libc_start_main not found");
    _exit(127);
  }
  inprof::internal::g_program_main = main;
  return next(inprof::internal::MainWithAgent, argc, argv, init, fini,
              rtld_fini, stack_end);
}
