// ProfileSource: one profile the agent serves by name ("cpu", "heap",
// "allocs", "mutex", "block"), as Go's pprof.Lookup. A source owns what its
// profile means: the window of a CPU profile, the difference of two
// snapshots for `seconds`, its comments and its legacy text form. The HTTP
// layer only looks sources up by name (ProfileRegistry) and writes what
// they return.
#ifndef INPROF_AGENT_SOURCES_PROFILE_SOURCE_H_
#define INPROF_AGENT_SOURCES_PROFILE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::internal {

inline constexpr char kProfileCancelled[] =
    "profile cancelled: the client went away or the agent is stopping";

struct ProfileRequest {
  // cpu: the window, at least 1. Others: 0 for the profile cumulative since
  // the agent started, N for the difference over the next N seconds.
  int seconds = 0;
  // Nonzero: Go's legacy text form (heap, allocs, mutex, block).
  int debug = 0;
  // True once the requester left or the agent is stopping; sources poll it a
  // few times a second while they wait and stop early. May be empty.
  std::function<bool()> cancelled;
};

// ProfileSource
//
// Ownership: the ProfileRegistry owns sources; a source borrows the
// components it reads (samplers, the shared symbolizer), which outlive it.
//
// Thread safety: Collect() is called from several HTTP workers at once and
// must be thread-safe.
class ProfileSource {
 public:
  virtual ~ProfileSource() = default;

  virtual std::string_view name() const = 0;

  // The profile in memory, for the UI and the report layer (`debug` is
  // ignored). Errors: kUnimplemented when this profile cannot exist in this
  // process (the message says how to enable it), kUnavailable when
  // cancelled.
  virtual StatusOr<Profile> Build(const ProfileRequest& request) = 0;

  // Go's legacy text form (`?debug=1`). The default: kInvalidArgument, the
  // profile has none.
  virtual StatusOr<std::string> Text(const ProfileRequest& request);

  // What HTTP serves: Text() when `request.debug` is nonzero, else Build()
  // as gzipped profile.proto.
  StatusOr<std::string> Collect(const ProfileRequest& request);
};

// Waits `seconds` (a delta profile's or a CPU profile's window), polling
// `cancelled` every 100 ms. Returns false if cut short.
bool WaitForWindow(int seconds, const std::function<bool()>& cancelled);

// The snapshot `request` asks for, from `take()` (a snapshot with a
// `unix_nanos` member): the cumulative one when `request.seconds` is 0, else
// subtract(later, earlier) over the next `seconds`, kUnavailable if
// cancelled while waiting. Sets *duration_nanos (0 when cumulative).
template <typename Take, typename Subtract>
StatusOr<std::invoke_result_t<Take>> SnapshotFor(const ProfileRequest& request,
                                                 Take take, Subtract subtract,
                                                 int64_t* duration_nanos) {
  auto snapshot = take();
  *duration_nanos = 0;
  if (request.seconds <= 0) return snapshot;
  if (!WaitForWindow(request.seconds, request.cancelled)) {
    return UnavailableError(kProfileCancelled);
  }
  auto later = take();
  *duration_nanos = later.unix_nanos - snapshot.unix_nanos;
  return subtract(later, snapshot);
}

}  // namespace inprof::internal

#endif  // INPROF_AGENT_SOURCES_PROFILE_SOURCE_H_
