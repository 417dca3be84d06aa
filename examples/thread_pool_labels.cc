// Labels that follow a request into a thread pool. Two kinds of request run
// their heavy part on a shared pool of worker threads; each hands the worker
// its RequestHandle, and the worker adopts it for the task, so the CPU the
// workers spend is labelled with the endpoint that asked for it:
//
//   ./thread_pool_labels                 (INPROF_ADDR=127.0.0.1:6060 default)
//   go tool pprof -top -tagfocus='endpoint=GET /search'
//   'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'   (one line)
//
// shows ScoreDocuments (run by the pool's threads) and not ResizeImage;
// -tags lists both endpoints. Without AdoptRequest the workers' samples
// would carry no endpoint at all.
//
// Usage: thread_pool_labels [--seconds=N]   (default 60)

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "inprof/agent.h"
#include "inprof/request.h"

namespace {

// A fixed pool of workers taking tasks from one queue.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  // Runs `task` on a worker for the request the calling thread serves.
  std::future<uint64_t> Submit(std::function<uint64_t()> task) {
    // The one line that carries the labels across: the handle is a small
    // value, captured by the task.
    inprof::RequestHandle request = inprof::CurrentRequest();
    std::packaged_task<uint64_t()> job([request, task = std::move(task)] {
      inprof::AdoptRequest adopt(request);  // this worker serves it now
      return task();
    });
    std::future<uint64_t> result = job.get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
    return result;
  }

 private:
  void Run() {
    for (;;) {
      std::packaged_task<uint64_t()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<uint64_t()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The two requests' heavy parts: distinct functions, so that a profile
// shows which endpoint's work is which.
__attribute__((noinline)) uint64_t ScoreDocuments(uint64_t seed) {
  uint64_t h = seed;
  for (int i = 0; i < 2'000'000; ++i) h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9;
  return h;
}

__attribute__((noinline)) uint64_t ResizeImage(uint64_t seed) {
  uint64_t h = seed;
  for (int i = 0; i < 1'000'000; ++i) h = h * 6364136223846793005u + 1;
  return h;
}

// A front thread serving one endpoint: each request is a RequestScope whose
// heavy part runs on the pool.
void Serve(ThreadPool& pool, const char* endpoint, uint64_t (*work)(uint64_t),
           std::chrono::steady_clock::time_point end) {
  uint64_t seed = 1;
  while (std::chrono::steady_clock::now() < end) {
    inprof::RequestScope scope(endpoint);
    seed = pool.Submit([work, seed] { return work(seed); }).get();
  }
  std::printf("%s: last result %llx\n", endpoint,
              static_cast<unsigned long long>(seed));
}

int SecondsFrom(int argc, char** argv) {
  int seconds = 60;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = std::atoi(argv[i] + 10);
    } else {
      std::fprintf(stderr, "usage: thread_pool_labels [--seconds=N]\n");
      std::exit(2);
    }
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = SecondsFrom(argc, argv);
  auto agent = inprof::Agent::Start(inprof::Options::FromEnvironment());
  if (!agent.ok()) {
    std::fprintf(stderr, "%s\n", agent.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "inprof agent: %s/debug/pprof/\n"
      "  go tool pprof -top -tagfocus='endpoint=GET /search' "
      "'%s/debug/pprof/profile?seconds=10'\n",
      agent->url().c_str(), agent->url().c_str());
  std::fflush(stdout);

  ThreadPool pool(3);
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::thread search(Serve, std::ref(pool), "GET /search", ScoreDocuments, end);
  std::thread thumbnail(Serve, std::ref(pool), "GET /thumbnail", ResizeImage,
                        end);
  search.join();
  thumbnail.join();
  return 0;
}
