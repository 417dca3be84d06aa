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
//   preload_fixture close-all
//                            closes every descriptor above 2, as a daemon
//                            does, reopens the numbers with files and a
//                            listening socket of its own, then checks they
//                            stay its own: exits 0 printing "descriptors
//                            intact", or 3 naming what was taken
//
// Each function the test looks for in a profile is noinline and named
// PreloadFixture*.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
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
// there by then. Watched as main() begins, for a number of looks rather
// than a time: a busy machine makes the watch see less, never fail.
int FreeStdin() {
  close(0);
  for (int i = 0; i < 300'000; ++i) {
    // (fcntl: the quickest look; the thread may have closed it again by
    // the time readlink names it.)
    if (fcntl(0, F_GETFD) != -1) {
      char target[256] = "(closed again)";
      (void)!readlink("/proc/self/fd/0", target, sizeof(target) - 1);
      std::printf("descriptor 0 taken: %s\n", target);
      return 3;
    }
  }
  std::printf("descriptor 0 stayed free\n");
  return 0;
}

// A TCP connection to 127.0.0.1:`port` that sends `bytes`; -1 if refused.
// Its reads give up after 5 s: a bound for a failing run only (a reply
// the agent never sends), not a judgment of time.
int ConnectAndSend(int port, const char* bytes) {
  const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const timeval timeout{5, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(sock);
    return -1;
  }
  (void)!write(sock, bytes, std::strlen(bytes));
  return sock;
}

// sshd, and daemons of the older kind, close every descriptor they did not
// open as they start, then open their own under the same numbers. The
// agent's listening socket is among those closed; had its thread kept
// accepting on "its" number, it would take the program's connections, and
// had it closed the number, the program's file. The INPROF_ADDR port is
// asked for once first: an accept loop that blocks in accept() returns from
// it only then, and goes back to the number.
int CloseAll() {
  closefrom(3);
  int files[2];
  for (int& fd : files) fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  // (Non-blocking: a connection taken between poll() and accept() must not
  // leave the program waiting for ever.)
  const int listener =
      socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listener, 8) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) !=
          0) {
    std::printf("cannot listen\n");
    return 2;
  }
  const char* agent = std::getenv("INPROF_ADDR");
  const char* colon = agent != nullptr ? std::strrchr(agent, ':') : nullptr;
  if (colon != nullptr) {
    const int to_agent =
        ConnectAndSend(std::atoi(colon + 1), "GET / HTTP/1.0\r\n\r\n");
    if (to_agent >= 0) {
      char reply[256];
      (void)!read(to_agent, reply, sizeof(reply));  // served, or refused
      close(to_agent);
    }
  }
  const int client = ConnectAndSend(ntohs(address.sin_port), "ping");
  bool intact = true;
  // On loopback the connection is queued before connect() returns: the
  // 10 s only bound a run where something else took it.
  pollfd pfd{listener, POLLIN, 0};
  const int accepted = poll(&pfd, 1, 10'000) == 1
                           ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)
                           : -1;
  char ping[4] = {};
  if (accepted < 0 || read(accepted, ping, 4) != 4 ||
      std::memcmp(ping, "ping", 4) != 0) {
    char reply[64] = {};
    (void)!read(client, reply, sizeof(reply) - 1);
    std::printf("connection to descriptor %d taken; the client read: %s\n",
                listener, reply);
    intact = false;
  }
  for (int fd : files) {
    char zeros[4];
    if (read(fd, zeros, sizeof(zeros)) != 4) {
      std::printf("file at descriptor %d broken\n", fd);
      intact = false;
    }
  }
  if (!intact) return 3;
  std::printf("descriptors intact\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "work") == 0) return Work();
  if (argc == 2 && std::strcmp(argv[1], "sleeper") == 0) return Sleeper();
  if (argc == 2 && std::strcmp(argv[1], "family") == 0) return Family(argv[0]);
  if (argc == 2 && std::strcmp(argv[1], "free-stdin") == 0) return FreeStdin();
  if (argc == 2 && std::strcmp(argv[1], "close-all") == 0) return CloseAll();
  std::fprintf(stderr, "usage: %s work|family|sleeper|free-stdin|close-all\n",
               argv[0]);
  return 2;
}
