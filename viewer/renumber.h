// The reader's rule for ids, as go tool pprof applies it (google/pprof
// profile/profile.go postDecode and CheckValid): mapping, location and
// function ids are nonzero and unique within their table, and references
// are resolved by id, in any order. The stricter rule that ids are exactly
// 1..N in array order (internal::CheckValid) is for what the agent writes;
// RenumberIds brings a profile written by anyone else to that form, so the
// rest of the viewer can index tables by id - 1.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_RENUMBER_H_
#define INPROF_VIEWER_RENUMBER_H_

#include "agent/profile/profile.h"
#include "inprof/status.h"

namespace inprof::viewer {

// Renumbers the mappings, locations and functions of `profile` to 1..N in
// array order and rewrites every reference to them (Location.mapping_id,
// Line.function_id, Sample.location_ids) to match. References of 0 stay 0
// (no mapping, no function), for internal::CheckValid to judge. Returns
// kInvalidArgument, naming the table and id, for an id of 0, an id used
// twice in one table, or a nonzero reference to an id that does not exist;
// `profile` is then partly rewritten and must not be used.
[[nodiscard]] Status RenumberIds(internal::Profile* profile);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_RENUMBER_H_
