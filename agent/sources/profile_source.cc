#include "agent/sources/profile_source.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "agent/profile/encode.h"

namespace inprof::internal {

StatusOr<std::string> ProfileSource::Text(const ProfileRequest& request) {
  return InvalidArgumentError("debug=" + std::to_string(request.debug) +
                              ": the " + std::string(name()) +
                              " profile has no text form");
}

StatusOr<std::string> ProfileSource::Collect(const ProfileRequest& request) {
  if (request.debug != 0) return Text(request);
  StatusOr<Profile> profile = Build(request);
  if (!profile.ok()) return profile.status();
  return SerializeProfile(*profile);
}

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
