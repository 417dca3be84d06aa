// A server that stops answering, and the page that says why. Four idle
// worker threads wait for tasks; a request thread ("handler") is stuck
// waiting for a lock that the "flusher" thread holds while it sleeps on a
// slow disk write. Run it, then:
//
//   ./thread_dump                        (INPROF_ADDR=127.0.0.1:6060 default)
//   curl 'http://127.0.0.1:6060/debug/pprof/goroutine?debug=2'
//
// lists every thread: its name, kernel id, state, CPU time, the request it
// serves ("GET /report", and for how long: the example turns auto-capture
// on, which times requests)
// and its stack: handler in WaitForIndexLock, flusher in SlowDiskWrite
// holding it, the workers in WaitForTask. `?debug=1` folds the four workers
// into one "4 @ ..." group, and so does go tool pprof:
//
//   go tool pprof -traces http://127.0.0.1:6060/debug/pprof/goroutine
//
// Usage: thread_dump [--seconds=N]   (default 300)

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/request.h"

namespace {

std::mutex g_index_lock;  // the lock the stuck request waits for
std::mutex g_queue_mu;
std::condition_variable g_queue_cv;
bool g_stopping = false;  // guarded by g_queue_mu

// Idle pool workers: nothing to do until a task or the end.
__attribute__((noinline)) void WaitForTask() {
  std::unique_lock<std::mutex> lock(g_queue_mu);
  g_queue_cv.wait(lock, [] { return g_stopping; });
}

// Holds the index lock across a "disk write" that takes forever; counts
// `locked` down once it holds the lock.
__attribute__((noinline)) void SlowDiskWrite(int seconds, std::latch& locked) {
  std::lock_guard<std::mutex> hold(g_index_lock);
  locked.count_down();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
}

// The request that never finishes: it needs the flusher's lock.
__attribute__((noinline)) void WaitForIndexLock() {
  std::lock_guard<std::mutex> lock(g_index_lock);
}

void Name(std::thread& thread, const char* name) {
  pthread_setname_np(thread.native_handle(), name);
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 300;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = std::atoi(argv[i] + 10);
    }
  }
  inprof::Options options = inprof::Options::FromEnvironment();
  // Timed requests: the dump then says how long each has been running.
  if (options.autocapture_threshold_ms == 0) {
    options.autocapture_threshold_ms = 1000;
  }
  auto agent = inprof::Agent::Start(options);
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }

  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back(WaitForTask);
    Name(threads.back(), "worker");
  }
  std::latch locked(1);
  threads.emplace_back(SlowDiskWrite, seconds, std::ref(locked));
  Name(threads.back(), "flusher");
  locked.wait();  // the request comes once the flusher holds the lock
  threads.emplace_back([] {
    inprof::RequestScope request("GET /report");
    WaitForIndexLock();
  });
  Name(threads.back(), "handler");

  std::printf(
      "inprof agent: %s/debug/pprof/\n"
      "stuck; see every thread's stack:\n"
      "  curl '%s/debug/pprof/goroutine?debug=2'\n",
      agent->url().c_str(), agent->url().c_str());
  std::fflush(stdout);

  threads[4].join();  // the flusher lets go after `seconds`
  {
    std::lock_guard<std::mutex> lock(g_queue_mu);
    g_stopping = true;
  }
  g_queue_cv.notify_all();
  for (std::thread& t : threads) {
    if (t.joinable()) t.join();
  }
  return 0;
}
