// A program that uses std::mutex and links the agent but not the pthread
// interposer: contention_profile_test runs it with and without
// LD_PRELOAD=libinprof_contention.so. It contends, fetches its own mutex
// profile into argv[1] and prints the profile's comments.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/profile/decode.h"
#include "inprof/agent.h"

namespace {

std::mutex g_mutex;

// Locks at exit, after the agent is gone: the interposer must pass through.
struct LocksAtExit {
  ~LocksAtExit() {
    std::unique_lock<std::mutex> lock(mutex);
    condition.wait_for(lock, std::chrono::milliseconds(5));
  }
  std::mutex mutex;
  std::condition_variable condition;
};
LocksAtExit g_locks_at_exit;

__attribute__((noinline)) void HoldStdMutex() {
  {
    std::lock_guard<std::mutex> guard(g_mutex);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  asm volatile("" ::: "memory");  // keeps the unlock from being a tail call
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.pb.gz\n", argv[0]);
    return 2;
  }
  inprof::Options options;
  options.port = 0;
  options.block_profile_rate = 1;
  options.mutex_profile_fraction = 1;
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 20; ++i) HoldStdMutex();
    });
  }
  for (std::thread& thread : threads) thread.join();

  httplib::Client client("127.0.0.1", agent->port());
  httplib::Result result = client.Get("/debug/pprof/mutex");
  if (!result || result->status != 200) {
    std::fprintf(stderr, "cannot fetch the mutex profile\n");
    return 1;
  }
  std::FILE* out = std::fopen(argv[1], "wb");
  if (out == nullptr) return 1;
  std::fwrite(result->body.data(), 1, result->body.size(), out);
  std::fclose(out);
  auto profile = inprof::internal::DecodeProfile(result->body);
  if (!profile.ok()) return 1;
  for (const std::string& comment : profile->comments) {
    std::printf("%s\n", comment.c_str());
  }
  std::fflush(stdout);
  // Threads still contending while the agent stops and the process exits.
  for (int t = 0; t < 2; ++t) {
    std::thread([] {
      for (;;) HoldStdMutex();
    }).detach();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return 0;  // the agent stops here, then static destructors run
}
