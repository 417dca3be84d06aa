// IdleReleaser: the agent thread that lets the symbolizer give its memory
// back while nobody asks for profiles (issue 16: the agent's memory is
// bounded and released when idle). Every `period` it calls `release`, which
// decides (SharedSymbolizer::ReleaseIfIdle): the symbolizer compares its own
// last use with its idle timeout, so a release happens between `idle` and
// `idle + period` after the last profile.
//
// Example:
//
//   IdleReleaser releaser(std::chrono::seconds(5),
//                         [&] { shared.ReleaseIfIdle(kIdleNanos); });
//
#ifndef INPROF_AGENT_SYMBOLIZE_IDLE_RELEASE_H_
#define INPROF_AGENT_SYMBOLIZE_IDLE_RELEASE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace inprof::internal {

// How long the agent's symbolizer stays loaded after its last use, and how
// often the releaser looks.
inline constexpr std::chrono::seconds kSymbolizerIdleTimeout{30};
inline constexpr std::chrono::seconds kSymbolizerIdleCheckPeriod{5};
// What the agent asks tcmalloc to give back to the system after a release:
// about what a warm symbolizer holds (BENCHMARKS.md, "Agent memory").
inline constexpr size_t kSymbolizerReleaseBytes = size_t{16} << 20;

// IdleReleaser
//
// Ownership: owns its thread ("inprof-idle", marked as an agent thread so
// that what `release` frees and allocates is not sampled); borrows whatever
// `release` refers to, which must outlive it.
//
// Thread safety: construct and destroy on one thread; `release` runs on the
// releaser's thread only. In a forked child the thread does not exist: leak
// the object (its destructor would wait for it).
class IdleReleaser {
 public:
  IdleReleaser(std::chrono::milliseconds period, std::function<void()> release);
  ~IdleReleaser();  // stops the thread and waits for it
  IdleReleaser(const IdleReleaser&) = delete;
  IdleReleaser& operator=(const IdleReleaser&) = delete;

 private:
  void Loop();

  const std::chrono::milliseconds period_;
  const std::function<void()> release_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SYMBOLIZE_IDLE_RELEASE_H_
