// fault_host: a host program that attacks the agent it links, one attack per
// run (issue 12). Each attack is what a real server does that has crashed,
// starved or silenced profilers: coroutines on tiny stacks, pre-fork
// workers, its own SIGPROF handler, thousands of threads. The fault matrix
// test (fault_matrix_test.cc) runs every attack in its own process, so a
// crash fails one case instead of the suite.
//
// Usage: fault_host ATTACK   (FAULT_HOST_SAVE_PROFILE=FILE keeps the last
// CPU profile fetched, for a look with inprof-view)
// Exit status 0 means the host survived and its checks held; the last lines
// of stdout are "key=value" facts the test reads. Failures print one line
// "FAIL: reason" and exit 1.

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/profile/decode.h"
#include "agent/unwind/unwind.h"
#include "inprof/agent.h"

namespace {

using inprof::Agent;
using inprof::Options;

[[noreturn]] void Fail(const std::string& reason) {
  std::printf("FAIL: %s\n", reason.c_str());
  std::fflush(stdout);
  std::_Exit(1);
}

void Fact(const char* key, long long value) {
  std::printf("%s=%lld\n", key, value);
  std::fflush(stdout);
}

Agent StartAgent(int hz = 1000) {
  Options options;
  options.port = 0;
  options.hz = hz;
  auto agent = Agent::Start(options);
  if (!agent.ok()) Fail("agent start: " + agent.status().ToString());
  return std::move(*agent);
}

// GET on the agent; status 0 when the connection failed.
int Get(int port, const std::string& path, std::string* body = nullptr) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  auto result = client.Get(path);
  if (!result) return 0;
  if (body != nullptr) *body = result->body;
  return result->status;
}

struct CpuProfileFacts {
  long long samples = 0;
  long long matching = 0;  // samples with a frame whose name has `needle`
  std::string comments;
};

CpuProfileFacts FetchCpuProfile(int port, int seconds,
                                const std::string& needle) {
  std::string body;
  int status = Get(
      port, "/debug/pprof/profile?seconds=" + std::to_string(seconds), &body);
  if (status != 200) Fail("profile fetch: HTTP " + std::to_string(status));
  auto profile = inprof::internal::DecodeProfile(body);
  if (!profile.ok()) Fail("profile decode: " + profile.status().ToString());
  if (const char* save = std::getenv("FAULT_HOST_SAVE_PROFILE")) {
    if (FILE* file = std::fopen(save, "w")) {
      std::fwrite(body.data(), 1, body.size(), file);
      std::fclose(file);
    }
  }

  std::map<uint64_t, bool> location_matches;
  std::map<uint64_t, std::string> function_names;
  for (const auto& function : profile->functions) {
    function_names[function.id] = function.name;
  }
  for (const auto& location : profile->locations) {
    bool match = false;
    for (const auto& line : location.lines) {
      match |=
          function_names[line.function_id].find(needle) != std::string::npos;
    }
    location_matches[location.id] = match;
  }
  CpuProfileFacts facts;
  for (const auto& sample : profile->samples) {
    facts.samples += sample.values.empty() ? 0 : sample.values[0];
    for (uint64_t id : sample.location_ids) {
      if (location_matches[id]) {
        facts.matching += sample.values[0];
        break;
      }
    }
  }
  for (const auto& comment : profile->comments)
    facts.comments += comment + "\n";
  return facts;
}

// --- Attack: coroutines on 4 KiB stacks --------------------------------------

constexpr size_t kPage = 4096;
constexpr size_t kCoroutineStack = 4096;

thread_local ucontext_t t_scheduler;
thread_local ucontext_t* t_current = nullptr;
std::atomic<bool> g_stop{false};

__attribute__((noinline)) uint64_t CoroutineBurn(uint64_t x) {
  for (int i = 0; i < 20000; ++i) x = x * 6364136223846793005u + 1;
  return x;
}

void CoroutineMain() {
  uint64_t x = 1;
  for (;;) {
    x = CoroutineBurn(x);
    asm volatile("" : : "r"(x));
    swapcontext(t_current, &t_scheduler);
  }
}

// A stack of `size` bytes with an inaccessible guard page below it, as
// coroutine libraries allocate them: overflowing it faults at once.
char* GuardedStack(size_t size) {
  void* memory = mmap(nullptr, size + kPage, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) Fail("mmap of a coroutine stack");
  mprotect(memory, kPage, PROT_NONE);
  return static_cast<char*>(memory) + kPage;
}

// Runs kCoroutines coroutines round-robin on this thread until g_stop.
constexpr int kCoroutines = 8;
ucontext_t g_coroutines[kCoroutines];

void RunCoroutines() {
  for (ucontext_t& coroutine : g_coroutines) {
    getcontext(&coroutine);
    coroutine.uc_stack.ss_sp = GuardedStack(kCoroutineStack);
    coroutine.uc_stack.ss_size = kCoroutineStack;
    coroutine.uc_link = &t_scheduler;
    makecontext(&coroutine, CoroutineMain, 0);
  }
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kCoroutines; ++i) {
      t_current = &g_coroutines[i];
      swapcontext(&t_scheduler, t_current);
    }
  }
}

int AttackCoroutines() {
  Agent agent = StartAgent();
  std::thread scheduler(RunCoroutines);
  CpuProfileFacts facts = FetchCpuProfile(agent.port(), 3, "CoroutineBurn");
  g_stop = true;
  scheduler.join();
  Fact("samples", facts.samples);
  Fact("coroutine_samples", facts.matching);
  return 0;
}

// The same on libunwind's path (the CFI fast path off): a coroutine's
// outermost frame is glibc's __start_context.
int AttackCoroutinesFallback() {
  inprof::internal::Unwinder::SetDefaultFastPath(false);
  return AttackCoroutines();
}

// --- Attack: CPU burnt on a small alternate signal stack ---------------------

constexpr size_t kAltStack = 8192;
std::atomic<int> g_altstack_rounds{0};

__attribute__((noinline)) uint64_t AltStackBurn(uint64_t x) {
  for (int i = 0; i < 2000000; ++i) x = x * 6364136223846793005u + 1;
  return x;
}

void OnUsr1(int) {
  // Signal handlers run on the alternate stack: burn CPU there, so that
  // profiling signals arrive while the thread is on it.
  uint64_t x = AltStackBurn(g_altstack_rounds.load());
  asm volatile("" : : "r"(x));
  g_altstack_rounds.fetch_add(1);
}

void RunOnAltStack() {
  stack_t stack{};
  stack.ss_sp = GuardedStack(kAltStack);
  stack.ss_size = kAltStack;
  if (sigaltstack(&stack, nullptr) != 0) Fail("sigaltstack");
  while (!g_stop.load(std::memory_order_relaxed)) raise(SIGUSR1);
}

int AttackAltStack() {
  struct sigaction action {};
  action.sa_handler = OnUsr1;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
  Agent agent = StartAgent();
  std::thread worker(RunOnAltStack);
  CpuProfileFacts facts = FetchCpuProfile(agent.port(), 3, "AltStackBurn");
  g_stop = true;
  worker.join();
  Fact("samples", facts.samples);
  Fact("altstack_samples", facts.matching);
  Fact("altstack_rounds", g_altstack_rounds.load());
  return 0;
}

// --- Attack: the host installs its own SIGPROF handler after Start --------

std::atomic<int> g_host_sigprofs{0};

void HostSigprof(int) { g_host_sigprofs.fetch_add(1); }

__attribute__((noinline)) uint64_t HostBurn(uint64_t x) {
  for (int i = 0; i < 1000000; ++i) x = x * 6364136223846793005u + 1;
  return x;
}

// Burns CPU until the host's handler saw `count` more signals (ITIMER_PROF
// counts CPU time, so this ends however busy the machine is).
void BurnUntilHostSignals(int count) {
  const int target = g_host_sigprofs.load() + count;
  uint64_t x = 1;
  while (g_host_sigprofs.load() < target) x = HostBurn(x);
  asm volatile("" : : "r"(x));
}

int AttackSigprofTakeover() {
  Agent agent = StartAgent(100);
  struct sigaction action {};
  action.sa_handler = HostSigprof;
  sigemptyset(&action.sa_mask);
  sigaction(SIGPROF, &action, nullptr);
  itimerval timer{{0, 10000}, {0, 10000}};
  setitimer(ITIMER_PROF, &timer, nullptr);
  std::thread burner([] { BurnUntilHostSignals(20); });
  CpuProfileFacts facts = FetchCpuProfile(agent.port(), 1, "HostBurn");
  burner.join();
  std::string metrics;
  Get(agent.port(), "/metrics", &metrics);
  agent.Stop();
  struct sigaction after {};
  sigaction(SIGPROF, nullptr, &after);
  if (after.sa_handler != HostSigprof)
    Fail("Stop() replaced the host's handler");
  BurnUntilHostSignals(20);  // the host's own timer keeps running
  Fact("profile_says_replaced",
       facts.comments.find("installed its own SIGPROF handler") !=
           std::string::npos);
  Fact("metrics_say_replaced",
       metrics.find("inprof_cpu_signal_handler_replaced 1") !=
           std::string::npos);
  Fact("host_signals", g_host_sigprofs.load());
  return 0;
}

// --- Attacks: pre-fork workers ----------------------------------------------

std::optional<Agent> g_static_agent;  // destroyed by exit(), as a global is

// Forks a child that runs `child` and exits with its result; returns the
// child's wait status.
int InChild(const std::function<int()>& child) {
  pid_t pid = fork();
  if (pid < 0) Fail("fork");
  if (pid == 0) std::exit(child());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

int ExitCode(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The parent's endpoint still answers, and still profiles.
void CheckParentServes(int port) {
  int status = Get(port, "/debug/pprof/cmdline");
  if (status != 200) Fail("parent endpoint: HTTP " + std::to_string(status));
  std::atomic<bool> stop{false};
  std::thread burner([&] {
    uint64_t x = 1;
    while (!stop.load()) {
      x = HostBurn(x);
      asm volatile("" : "+r"(x));
    }
  });
  CpuProfileFacts facts = FetchCpuProfile(port, 1, "HostBurn");
  stop = true;
  burner.join();
  Fact("parent_samples", facts.matching);
}

int AttackForkStop() {
  Agent agent = StartAgent(100);
  int status = InChild([&] {
    agent.Stop();
    return 0;
  });
  Fact("child_exit", ExitCode(status));
  CheckParentServes(agent.port());
  return 0;
}

int AttackForkStaticExit() {
  g_static_agent.emplace(StartAgent(100));
  int status = InChild([] { return 0; });  // exit() destroys the global
  Fact("child_exit", ExitCode(status));
  CheckParentServes(g_static_agent->port());
  return 0;
}

// A child may start an agent of its own once it stopped the inherited one.
int AttackForkChildAgent() {
  Agent agent = StartAgent(100);
  const int parent_port = agent.port();
  int status = InChild([&] {
    if (Agent::Start(Options{}).ok()) return 10;  // inherited one still held
    agent.Stop();
    Agent own = StartAgent(100);
    if (own.port() == parent_port) return 11;
    return Get(own.port(), "/debug/pprof/cmdline") == 200 ? 0 : 12;
  });
  Fact("child_exit", ExitCode(status));
  CheckParentServes(parent_port);
  return 0;
}

// A program the host runs through popen() (posix_spawn: no atfork handler
// runs) inherits none of the agent's sockets.
int AttackSpawnInheritsNoSocket() {
  Agent agent = StartAgent(100);
  if (Get(agent.port(), "/debug/pprof/cmdline") != 200) Fail("agent");
  std::FILE* child = popen("ls -l /proc/self/fd", "r");
  if (child == nullptr) Fail("popen");
  int sockets = 0;
  char line[512];
  while (std::fgets(line, sizeof(line), child) != nullptr) {
    sockets += std::strstr(line, "socket:") != nullptr;
  }
  Fact("child_exit", ExitCode(pclose(child)));
  Fact("inherited_sockets", sockets);
  return 0;
}

// --- Attacks that already passed, kept in the matrix ------------------------

// Runs `body` on its own thread while a CPU profile of `seconds` is taken;
// returns the profile's facts for frames named `needle`.
CpuProfileFacts WhileProfiling(int port, int seconds, const std::string& needle,
                               const std::function<void()>& body) {
  std::thread worker(body);
  CpuProfileFacts facts = FetchCpuProfile(port, seconds, needle);
  worker.join();
  return facts;
}

// fork+exec and posix_spawn of short children, 300 of them, while profiling:
// every child runs and exits 0 (no signal reaches a child before exec).
int AttackForkExecStorm() {
  Agent agent = StartAgent(1000);
  std::atomic<int> failures{0};
  CpuProfileFacts facts = WhileProfiling(agent.port(), 2, "HostBurn", [&] {
    for (int i = 0; i < 300; ++i) {
      HostBurn(static_cast<uint64_t>(i));
      pid_t pid = fork();
      if (pid == 0) {
        execl("/bin/true", "true", static_cast<char*>(nullptr));
        _exit(127);
      }
      int status = 0;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        ++failures;
      }
    }
  });
  Fact("child_failures", failures.load());
  Fact("samples", facts.samples);
  return 0;
}

__attribute__((noinline)) uint64_t Recurse(int depth) {
  if (depth == 0) {
    uint64_t x = 1;
    while (!g_stop.load(std::memory_order_relaxed)) x = HostBurn(x);
    return x;
  }
  uint64_t r = Recurse(depth - 1) + 1;
  asm volatile("" : "+r"(r));
  return r;
}

// 20,000 frames deep: stacks are cut at the maximum depth, never overrun.
int AttackDeepRecursion() {
  Agent agent = StartAgent(1000);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 20);
  pthread_t deep;
  pthread_create(
      &deep, &attr,
      [](void*) -> void* {
        Recurse(20000);
        return nullptr;
      },
      nullptr);
  CpuProfileFacts facts = FetchCpuProfile(agent.port(), 2, "Recurse");
  g_stop = true;
  pthread_join(deep, nullptr);
  Fact("recurse_samples", facts.matching);
  return 0;
}

// True while this process has POSIX timers: the CPU sampler's, during a
// profile.
bool ProfileTimersArmed() {
  std::FILE* timers = std::fopen("/proc/self/timers", "r");
  if (timers == nullptr) return false;
  const bool any = std::fgetc(timers) != EOF;
  std::fclose(timers);
  return any;
}

// exit() while a CPU profile is being served: static destructors (a global
// Agent's among them) run while the agent's threads are busy.
int AttackExitWhileProfiling() {
  g_static_agent.emplace(StartAgent(1000));
  const int port = g_static_agent->port();
  std::thread fetch([port] { Get(port, "/debug/pprof/profile?seconds=30"); });
  fetch.detach();
  std::thread([] {
    uint64_t x = 1;
    for (;;) x = HostBurn(x);
  }).detach();
  // The profile is in progress once the sampler's timers exist.
  for (int i = 0; i < 1000 && !ProfileTimersArmed(); ++i) usleep(10000);
  Fact("profiling", ProfileTimersArmed());
  std::printf("exiting\n");
  std::fflush(stdout);
  std::exit(0);
}

const std::map<std::string, std::function<int()>>& Attacks() {
  static const auto* attacks = new std::map<std::string, std::function<int()>>{
      {"coroutines", AttackCoroutines},
      {"coroutines-fallback", AttackCoroutinesFallback},
      {"altstack", AttackAltStack},
      {"sigprof-takeover", AttackSigprofTakeover},
      {"fork-stop", AttackForkStop},
      {"fork-static-exit", AttackForkStaticExit},
      {"fork-child-agent", AttackForkChildAgent},
      {"fork-exec-storm", AttackForkExecStorm},
      {"spawn-inherits-no-socket", AttackSpawnInheritsNoSocket},
      {"deep-recursion", AttackDeepRecursion},
      {"exit-while-profiling", AttackExitWhileProfiling},
  };
  return *attacks;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || Attacks().count(argv[1]) == 0) {
    std::fprintf(stderr, "usage: fault_host ATTACK; attacks:");
    for (const auto& [name, attack] : Attacks()) {
      std::fprintf(stderr, " %s", name.c_str());
    }
    std::fprintf(stderr, "\n");
    return 2;
  }
  return Attacks().at(argv[1])();
}
