// The profile's drop_frames / keep_frames (profile.proto fields 7 and 8):
// frames a profile asks its readers to cut from its stacks, such as the
// allocator's own functions in a heap profile. Applied as google/pprof's
// Profile.Prune does (pprof-spec.md §2.12): from the root down, past the
// first frame that does not match, a stack is cut at the first frame whose
// function matches drop_frames and not keep_frames, that frame included.
//
// Thread safety: thread-safe (no shared state).
#ifndef INPROF_VIEWER_PRUNE_H_
#define INPROF_VIEWER_PRUNE_H_

#include "agent/profile/profile.h"

namespace inprof::viewer {

// Prunes `profile` (which must pass internal::CheckValid) by its own
// drop_frames and keep_frames. Function names are matched whole, without
// their parameter list. Does nothing when drop_frames is empty or not a
// valid regular expression.
void ApplyDropFrames(internal::Profile* profile);

}  // namespace inprof::viewer

#endif  // INPROF_VIEWER_PRUNE_H_
