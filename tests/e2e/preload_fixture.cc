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
//
// Each function the test looks for in a profile is noinline and named
// PreloadFixture*.

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

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "work") == 0) return Work();
  if (argc == 2 && std::strcmp(argv[1], "sleeper") == 0) return Sleeper();
  if (argc == 2 && std::strcmp(argv[1], "family") == 0) return Family(argv[0]);
  std::fprintf(stderr, "usage: %s work|family|sleeper\n", argv[0]);
  return 2;
}
