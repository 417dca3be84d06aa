// A program that knows nothing of inprof (it links neither the agent nor
// its headers): preload_test runs it with LD_PRELOAD=libinprof_preload.so.
//
//   preload_fixture work     burns CPU on two threads, contends on a
//                            std::mutex and keeps allocations live, until
//                            killed (at most 5 minutes)
//   preload_fixture family   fork+execs itself as two `sleeper`s and forks
//                            one child that does not exec; waits for all
//                            three and exits with the sum of their statuses
//   preload_fixture sleeper  prints "sleeping" once in main(), sleeps until
//                            killed (at most 5 minutes), then exits 1
//   preload_fixture free-stdin
//                            closes descriptor 0 as main() begins and
//                            watches it: exits 3 naming what took it, or
//                            0 if it stayed free
//
// Each function the test looks for in a profile is noinline and named
// PreloadFixture*.

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

constexpr auto kMaxRun = std::chrono::minutes(5);

std::atomic<uint64_t> g_sink{0};
std::mutex g_mutex;

__attribute__((noinline)) void PreloadFixtureBurn() {
  uint64_t x = g_sink.load(std::memory_order_relaxed) | 1;
  for (int i = 0; i < 1'000'000; ++i) x = x * 6364136223846793005u + 1;
  g_sink.fetch_add(x, std::memory_order_relaxed);
}

__attribute__((noinline)) void PreloadFixtureHoldLock() {
  {
    std::lock_guard<std::mutex> guard(g_mutex);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  asm volatile("" ::: "memory");  // keeps the unlock from being a tail call
}

// Keeps 256 blocks of 64 KiB live, replacing one at a time.
__attribute__((noinline)) void* PreloadFixtureAllocate(size_t bytes) {
  void* block = std::malloc(bytes);
  std::memset(block, 1, bytes);
  return block;
}

int Work() {
  const auto deadline = std::chrono::steady_clock::now() + kMaxRun;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([deadline] {
      while (std::chrono::steady_clock::now() < deadline) PreloadFixtureBurn();
    });
  }
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([deadline] {
      while (std::chrono::steady_clock::now() < deadline) {
        PreloadFixtureHoldLock();
      }
    });
  }
  threads.emplace_back([deadline] {
    std::vector<void*> live(256, nullptr);
    for (size_t i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
      std::free(live[i % live.size()]);
      live[i % live.size()] = PreloadFixtureAllocate(64 << 10);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  for (std::thread& thread : threads) thread.join();
  return 0;
}

int Sleeper() {
  std::printf("sleeping\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(kMaxRun);
  return 1;
}

int Family(const char* self) {
  std::vector<pid_t> children;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      execl(self, self, "sleeper", static_cast<char*>(nullptr));
      _exit(127);
    }
    children.push_back(pid);
  }
  const pid_t forked = fork();
  if (forked == 0) _exit(Sleeper());
  children.push_back(forked);
  std::printf("family of %zu\n", children.size());
  std::fflush(stdout);
  int sum = 0;
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    sum += WIFEXITED(status) ? WEXITSTATUS(status) : 100;
  }
  return sum;
}

// A shell redirecting a command's input or output closes the descriptor,
// then opens or dup2s onto it; a daemon closes 0-2 and opens /dev/null.
// Both count on the number staying free in between, which holds in a
// program of one thread. Beside the agent's threads it holds only if they
// open nothing unasked: the kernel hands out the lowest free number, and
// a thread that gets 0 here closes it later, with whatever the program put
// there by then. Watched as main() begins, while the agent's threads start.
int FreeStdin() {
  close(0);
  for (int i = 0; i < 100'000 + 200; ++i) {
    // (fcntl: the quickest look; the thread may have closed it again by
    // the time readlink names it.)
    if (fcntl(0, F_GETFD) != -1) {
      char target[256] = "(closed again)";
      (void)!readlink("/proc/self/fd/0", target, sizeof(target) - 1);
      std::printf("descriptor 0 taken: %s\n", target);
      return 3;
    }
    // Checked back to back first (the agent's start), then every 1 ms.
    if (i < 100'000) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::printf("descriptor 0 stayed free\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "work") == 0) return Work();
  if (argc == 2 && std::strcmp(argv[1], "sleeper") == 0) return Sleeper();
  if (argc == 2 && std::strcmp(argv[1], "family") == 0) return Family(argv[0]);
  if (argc == 2 && std::strcmp(argv[1], "free-stdin") == 0) return FreeStdin();
  std::fprintf(stderr, "usage: %s work|family|sleeper|free-stdin\n", argv[0]);
  return 2;
}
