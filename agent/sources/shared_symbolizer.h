// SharedSymbolizer: the agent's one Symbolizer, shared by every profile
// source and /debug/pprof/symbol behind a lock, refreshed after dlopen or
// dlclose, and cancellable: symbolizing a big profile can take seconds
// (thousands of addresses in modules dlopen churn keeps replacing), so once
// the requester left or the agent is stopping the rest is skipped and the
// request fails (503), and Stop() never waits for it.
#ifndef INPROF_AGENT_SOURCES_SHARED_SYMBOLIZER_H_
#define INPROF_AGENT_SOURCES_SHARED_SYMBOLIZER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "agent/sources/profile_source.h"
#include "agent/symbolize/symbolizer.h"
#include "agent/unwind/address_map.h"
#include "inprof/status.h"

namespace inprof::internal {

// SharedSymbolizer
//
// Ownership: owns the symbolizer; borrows `stopping`.
//
// Thread safety: thread-safe; one build at a time.
class SharedSymbolizer {
 public:
  explicit SharedSymbolizer(const std::atomic<bool>* stopping)
      : stopping_(stopping) {}

  // Runs `build` with the symbolizer, refreshed if modules changed, and
  // returns what it made (a Profile, a text). Returns kUnavailable
  // (kProfileCancelled) if `cancelled` or the agent's stopping flag is set
  // before or during the build (which then stops early).
  template <typename F>
  auto Build(const std::function<bool()>& cancelled, F build)
      -> StatusOr<std::invoke_result_t<F, Symbolizer*>> {
    std::optional<std::invoke_result_t<F, Symbolizer*>> result;
    Status status =
        Run(cancelled, [&](Symbolizer* s) { result.emplace(build(s)); });
    if (!status.ok()) return status;
    return std::move(*result);
  }

  // The name of the function containing `address` (the outermost of an
  // inlined chain), or "" if unknown or stopping.
  std::string FunctionName(uint64_t address);

  // Drops the symbolizer's caches and libdwfl session if nothing used them
  // for `idle_nanos` (Symbolizer::ReleaseIfIdle); does nothing while a
  // build runs. Called by the agent's IdleReleaser (idle_release.h).
  // Returns true if it released.
  bool ReleaseIfIdle(int64_t idle_nanos);

  // As of the end of the last build or release: never waits for a build.
  SymbolizerStats stats();

 private:
  Status Run(const std::function<bool()>& cancelled,
             const std::function<void(Symbolizer*)>& build);
  void RefreshLocked();
  void SaveStatsLocked();

  const std::atomic<bool>* const stopping_;
  std::mutex mu_;
  Symbolizer symbolizer_;               // guarded by mu_
  LoaderGeneration loader_generation_;  // guarded by mu_
  std::mutex stats_mu_;
  SymbolizerStats stats_;  // guarded by stats_mu_
};

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_SHARED_SYMBOLIZER_H_
