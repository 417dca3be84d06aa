#include "agent/sources/profile_source.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace inprof::internal {

bool WaitForWindow(int seconds, const std::function<bool()>& cancelled) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline && !(cancelled && cancelled())) {
    std::this_thread::sleep_for(std::min<Clock::duration>(
        std::chrono::milliseconds(100), deadline - Clock::now()));
  }
  return Clock::now() >= deadline;
}

}  // namespace inprof::internal
