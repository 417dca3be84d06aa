#include "agent/symbolize/idle_release.h"

#include <utility>

#include "agent/base/agent_thread_start.h"

namespace inprof::internal {

IdleReleaser::IdleReleaser(std::chrono::milliseconds period,
                           std::function<void()> release)
    : period_(period), release_(std::move(release)) {
  thread_ = StartAgentThread("inprof-idle", [this] { Loop(); });
}

IdleReleaser::~IdleReleaser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IdleReleaser::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    release_();
    lock.lock();
  }
}

}  // namespace inprof::internal
